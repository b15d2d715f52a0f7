/* The run journal: durable records of workflow runs and of every step that
 * changes something outside the daemon.
 *
 * A run is a JSON record in the `runs` table, keyed by an id that sorts by
 * creation time ("r-20261122T103100-1a2b3c"). Its journal is an ordered list
 * of entries in the `journal` table (key: run id, NUL, 8-byte sequence):
 *
 *   {"seq": 7, "ts": "...", "step": "MODIFY", "phase": "intent", "data": {...}}
 *
 * phase is "intent" (written, and durable, BEFORE the side effect is
 * attempted, with everything needed to undo it), "done" (after it
 * succeeded, with what it produced), "failed", or "note". The callback of
 * fr_journal_append() runs once the entry is committed to disk; callers
 * start the side effect from there. This module is storage only (no loop);
 * commits happen on the daemon's tick.
 *
 * Crash hooks: when built with crash_hooks (the default) and the environment
 * variable FRUGAL_CRASH_AT names "STEP.phase" (e.g. "MODIFY.intent") or
 * "KIND:STEP.phase", the process kills itself with SIGKILL right after that
 * entry is durable - how the crash tests stop frugald at every journal point.
 * FRUGAL_CRASH_AT_SKIP=N lets the first N matches pass. */
#ifndef FRUGAL_JOURNAL_H
#define FRUGAL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "frugal/store.h"

#define FR_RUN_ID_MAX 48

typedef struct fr_journal fr_journal;
typedef void (*fr_journal_cb)(void *arg, int status);

int fr_journal_new(fr_journal **out, fr_store *st);
void fr_journal_free(fr_journal *j);

/* Creates a run record (record is copied; "id", "kind", "created",
 * "updated" are set) and returns its id. Staged like every write. */
int fr_run_create(fr_journal *j, const char *kind, const json_t *record, int64_t now_ms, char id[FR_RUN_ID_MAX]);
/* New reference, or NULL. */
json_t *fr_run_get(fr_journal *j, const char *id);
/* Replaces the record ("updated" is set). */
int fr_run_put(fr_journal *j, const char *id, json_t *record, int64_t now_ms);
/* Newest first; kind NULL for all. Returns a new array. */
json_t *fr_run_list(fr_journal *j, const char *kind, size_t limit);
/* Ids of runs of kind whose "state" is not in the NULL-terminated
 * terminal list. New array. */
json_t *fr_run_unfinished(fr_journal *j, const char *kind, const char *const *terminal);

/* Appends an entry (data stolen, may be NULL); cb (may be NULL) runs after
 * the commit that made it durable, with the commit status. */
int fr_journal_append(fr_journal *j, const char *run_id, const char *step, const char *phase, json_t *data,
                      fr_journal_cb cb, void *arg);
/* All entries of a run in order (new array). */
json_t *fr_journal_read(fr_journal *j, const char *run_id);

/* The crash hook (also callable directly for points that are not entries). */
void fr_crash_point(const char *kind, const char *point);

#endif
