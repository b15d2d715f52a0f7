#!/usr/bin/env bash
# The demo: set-up, build, then frugal-sim (a simulated AWS account with a
# seeded fleet of transient EMR clusters) and frugald against it. Prints the
# dashboard URL and the API token; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh

PORT="${FRUGAL_DEMO_PORT:-8787}"
SIM_PORT="${FRUGAL_SIM_PORT:-9797}"
IMDS_PORT="${FRUGAL_SIM_IMDS_PORT:-9798}"
STATE="${FRUGAL_DEMO_STATE:-$PWD/build/demo-state}"
mkdir -p "$STATE"
LOGS="$PWD/build/demo-logs"
mkdir -p "$LOGS"

export AWS_ACCESS_KEY_ID=AKIAFRUGALSIMULATED0 AWS_SECRET_ACCESS_KEY=frugal-sim-secret-key-not-a-real-one
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="http://127.0.0.1:$SIM_PORT"
export AWS_EC2_METADATA_DISABLED=true

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

wait_ready() { # log file, name
  for _ in $(seq 1 100); do
    grep -q '"event":"ready"' "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "demo: $2 did not start; see $1" >&2; tail -20 "$1" >&2; exit 1
}

./build/src/sim/frugal-sim --listen "127.0.0.1:$SIM_PORT" --imds-listen "127.0.0.1:$IMDS_PORT" \
  --seed "${FRUGAL_SIM_SEED:-42}" --clusters "${FRUGAL_SIM_CLUSTERS:-12}" --clock-speed "${FRUGAL_SIM_SPEED:-60}" \
  --access-key-id "$AWS_ACCESS_KEY_ID" --secret-access-key "$AWS_SECRET_ACCESS_KEY" \
  >"$LOGS/frugal-sim.log" 2>&1 &
pids+=($!)
wait_ready "$LOGS/frugal-sim.log" frugal-sim

./build/src/frugald --listen "127.0.0.1:$PORT" --state-dir "$STATE" \
  --set emr.poll_initial=1s --set emr.poll_max=5s \
  >"$LOGS/frugald.log" 2>&1 &
pids+=($!)
wait_ready "$LOGS/frugald.log" frugald

TOKEN="$(cat "$STATE/api-token")"
cat <<MSG

  frugal demo is running
  dashboard : http://127.0.0.1:$PORT/
  API token : $TOKEN
  simulated AWS endpoint: http://127.0.0.1:$SIM_PORT  (logs in $LOGS)

  CLI: FRUGAL_URL=http://127.0.0.1:$PORT FRUGAL_API_TOKEN=$TOKEN ./build/src/cli/frugal clusters
  Ctrl-C stops the demo.

MSG
wait -n "${pids[@]}"
