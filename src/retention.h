/*-------------------------------------------------------------------------
 *
 * retention.h
 *	  Retention of the work-order log and its daily rollups: the entry
 *	  points the background worker calls each cycle, and the predicate the
 *	  hot path asks before purging in-band.
 *
 * Each entry point runs inside the caller's transaction and SPI connection
 * (the worker's StartTransactionCommand / SPI_connect ... Commit unit).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RETENTION_H
#define RETENTION_H

#include "postgres.h"

/*
 * Delete up to batch_size log rows older than adaptive_prompts.log_retention
 * that nothing still needs (rollups_fold has folded them; no open test or
 * experiment started before them), and the rollup days that ended before
 * the cutoff.  Returns the number of log rows deleted; 0 when the retention
 * is 0 (keep forever) or the log is caught up.
 */
extern uint64 retention_purge_batch(int batch_size);

/*
 * Fold the log's rows with ids up to the last fold's final bound into
 * log_rollups, move the watermark, and record the new final bound.  Takes
 * a SHARE ROW EXCLUSIVE lock on proposer_failures at its end, held until
 * the transaction commits: call it last in its transaction and commit at
 * once.  Returns the number of log rows folded.
 */
extern uint64 rollups_fold(void);

/*
 * Whether the extension's background worker is running and purging, so
 * that record_work_order skips its in-band ledger purge.  retention.c
 * defines a weak default that answers false; the worker defines the real
 * one against its shared memory.
 */
extern bool ap_worker_is_running(void);


/*
 * SQL shared by the fold and the analyses, so that both count a logged row
 * the same way.  A row "f" of proposer_failures weighs 1/sample_rate, as an
 * exact numeric (sums of numerics do not depend on their order, so rollups
 * plus tail give the very sums of a full scan).  Its day is its UTC day.
 */
#define LOG_ROW_WEIGHT \
	"(1::pg_catalog.numeric / f.sample_rate::pg_catalog.numeric)"
#define LOG_ROW_DAY "pg_catalog.date_trunc('day', f.created_at, 'UTC')"

/* The distinct codes of a row's error_codes, one row per (row, code): c. */
#define ERROR_CODES_LATERAL \
	" LATERAL (SELECT DISTINCT x.code FROM pg_catalog.unnest(f.error_codes) AS x (code)) c"

/*
 * The codes whose enhancement a logged row used, one row per (row, code):
 * the bare code or CODE@N with N > 0 (CODE@0 is a test's held-out arm): u.
 */
#define USED_CODES_LATERAL \
	" LATERAL (SELECT DISTINCT pg_catalog.split_part(t.token, '@', 1) AS code" \
	"          FROM pg_catalog.unnest(f.prompt_enhancements_used) AS t (token)" \
	"          WHERE pg_catalog.strpos(t.token, '@') = 0" \
	"             OR pg_catalog.split_part(t.token, '@', 2) ~ '[1-9]') u"

/*
 * What validation_report() counts of a logged row "f", one row per fact:
 * k (kind, code, complexity_band): ('total', '', its band), ('error', code,
 * '') per distinct code of error_codes, ('excluded', code, '') per distinct
 * code of excluded_error_codes.  The report's SQL expands rows the same way.
 */
#define REPORT_FACTS_LATERAL \
	" LATERAL (SELECT 'total', '', f.complexity_band" \
	"          UNION ALL SELECT DISTINCT 'error', x.code, ''" \
	"           FROM pg_catalog.unnest(f.error_codes) AS x (code)" \
	"          UNION ALL SELECT DISTINCT 'excluded', x.code, ''" \
	"           FROM pg_catalog.unnest(f.excluded_error_codes) AS x (code))" \
	" k (kind, code, complexity_band)"
#define LOG_ROW_HOUR "pg_catalog.date_trunc('hour', f.created_at, 'UTC')"

/* Messages kept per code and despite for recent_failures. */
#define RECENT_MESSAGES_KEPT 5

/*
 * Whether a logged row "r" used the enhancement of the code given as the
 * SQL expression "code": the bare code or CODE@N with N > 0.
 */
#define USED_ENHANCEMENT_OF(code) \
	" EXISTS (SELECT 1 FROM pg_catalog.unnest(r.prompt_enhancements_used) AS t (token)" \
	"         WHERE t.token = " code \
	"            OR (pg_catalog.split_part(t.token, '@', 1) = " code \
	"                AND pg_catalog.split_part(t.token, '@', 2) ~ '[1-9]'))"

/*
 * The messages of a logged row "r" that recent_failures shows: elements
 * of error_samples that are objects with a message and a code the row
 * has, as (code, ordinality, message) in x.
 */
#define ROW_MESSAGES \
	" pg_catalog.jsonb_array_elements(r.error_samples) WITH ORDINALITY AS x (value, ordinality)"
#define ROW_MESSAGE_OK \
	" pg_catalog.jsonb_typeof(x.value) = 'object' AND x.value ->> 'message' IS NOT NULL" \
	" AND (x.value ->> 'code') = ANY (r.error_codes)"

/*
 * A window "created_at > now() - since" read from the rollups: the whole
 * UTC days from FIRST_FULL_DAY on come from log_rollups, rows with ids
 * above the watermark and rows of the partial first day from the log.
 */
#define WINDOW_CUTOFF(since) "(pg_catalog.now() - " since ")"
#define FIRST_FULL_DAY(since) \
	"(pg_catalog.date_trunc('day', pg_catalog.now() - " since ", 'UTC') + interval '1 day')"

/*
 * The log's rows of a window that the rollups do not hold, as (id,
 * proposer_name, weight, error_codes, prompt_enhancements_used, created_at,
 * error_samples): those above the watermark "mark", and the folded ones of
 * the partial first day.  Two disjoint branches, so the first is an index
 * range scan of the few newest ids and the second a BRIN scan of less than
 * a day.
 */
#define LOG_TAIL_COLUMNS \
	" SELECT f.id, f.proposer_name, " LOG_ROW_WEIGHT " AS weight," \
	" f.error_codes, f.prompt_enhancements_used, f.created_at, f.error_samples" \
	" FROM @extschema@.proposer_failures f"
#define LOG_TAIL(since, mark) \
	LOG_TAIL_COLUMNS " WHERE f.id > " mark " AND f.created_at > " WINDOW_CUTOFF(since) \
	" UNION ALL" \
	LOG_TAIL_COLUMNS " WHERE f.id <= " mark " AND f.created_at > " WINDOW_CUTOFF(since) \
	" AND f.created_at < " FIRST_FULL_DAY(since)

/*
 * The rows of a CTE "tail" (LOG_TAIL's columns) grouped by their arrays, as
 * (error_codes, prompt_enhancements_used, n, weight): rows repeat a few
 * combinations of codes, so the analyses unnest each combination once.
 */
#define TAIL_GROUPS \
	" SELECT f.error_codes, f.prompt_enhancements_used, pg_catalog.count(*) AS n," \
	" pg_catalog.sum(f.weight) AS weight FROM tail f" \
	" GROUP BY f.error_codes, f.prompt_enhancements_used"

/* Watermark of the rollups (0 before the first fold). */
extern int64 rollups_watermark(bool lock_against_folds);

#endif							/* RETENTION_H */
