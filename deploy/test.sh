#!/usr/bin/env bash
# The whole test suite: set-up, a -Werror build, every suite (unit,
# integration, e2e, slow), then the unit and integration suites again under
# AddressSanitizer + UndefinedBehaviorSanitizer. Ends with one line
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
deploy/setup.sh --no-build || exit 1

jobs="${FRUGAL_TEST_JOBS:-2}"
status=0

if [ ! -f build/build.ninja ]; then
  meson setup build --buildtype=debugoptimized -Dwerror=true >/dev/null || exit 1
fi
meson configure build -Dwerror=true -Dtests=true >/dev/null
echo "== build (-Werror)"
ninja -C build || exit 1

echo "== suites: unit integration e2e slow"
meson test -C build --no-rebuild --print-errorlogs --num-processes "$jobs" \
  --suite unit --suite integration --suite e2e --suite slow || status=1
cp build/meson-logs/testlog.json build/meson-logs/testlog-main.json 2>/dev/null || true

if [ "${FRUGAL_SKIP_ASAN:-0}" != 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
      -Dwerror=true >/dev/null || exit 1
  fi
  echo "== build (ASan+UBSan)"
  ninja -C build-asan || exit 1
  echo "== suites under ASan+UBSan: unit integration"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --no-rebuild --print-errorlogs --num-processes "$jobs" \
    --suite unit --suite integration --timeout-multiplier 3 || status=1
fi

python3 - <<'PY'
import json, os
passed = failed = skipped = 0
for path in ("build/meson-logs/testlog-main.json", "build-asan/meson-logs/testlog.json"):
    if not os.path.exists(path):
        continue
    for line in open(path):
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
PY
exit $status
