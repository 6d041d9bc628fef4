/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Retention of the work-order log: purge_log() and the batch the
 *	  background worker runs each cycle.
 *
 * The log is one plain table, not partitioned: its identity key stays a
 * single primary key, pg_dump dumps and restores it as one table with its
 * sequence, and record_work_order inserts into one relation.  Expired rows
 * are deleted in small ctid batches (as the ledger purge does), which
 * autovacuum then reclaims; at a steady rate the table stays the same size.
 *
 * A row is never purged while something may still need it:
 *	- rows not folded into log_rollups yet (the rollups keep their counts);
 *	- rows logged since the start of a running or watched A/B test or
 *	  threshold experiment (the cutoff moves back to the oldest such start).
 * log_rollups days that ended before the same cutoff go too.
 *
 * validation_report() reads log_report_rollups by the hour and the log's
 * rows of the hours its bounds cut through, so it needs every log row from
 * its start on.  Each batch that deletes rows records its cutoff in
 * log_rollup_state.purged_before (rows created from then on are all kept)
 * and deletes the report's hours that ended before it; the report counts
 * from purged_before at the earliest, with a notice when asked for more.
 * A batch locks the state row first, as a fold does, so that it never
 * waits for that lock while holding its lock on the log (a fold waits for
 * every transaction holding one).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "adaptive_prompts.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(ap_purge_log);

/*
 * The cutoff: the retention's, or earlier when an open test or experiment
 * started earlier; and the rollups' watermark.
 */
static ApPlan cutoff_plan = AP_PLAN(
	"SELECT LEAST($1,"
	"  (SELECT pg_catalog.min(t.started_at) FROM @extschema@.ab_tests t"
	"   WHERE t.status IN ('running', 'watching')),"
	"  (SELECT pg_catalog.min(x.started_at) FROM @extschema@.threshold_experiments x"
	"   WHERE x.status = 'running' OR x.watching)),"
	" coalesce((SELECT s.folded_through FROM @extschema@.log_rollup_state s), 0)",
	TIMESTAMPTZOID);

/* Planned for each cutoff, so that the BRIN index serves it. */
static ApPlan log_purge_plan = AP_PLAN_CUSTOM(
	"DELETE FROM @extschema@.proposer_failures WHERE ctid = ANY (ARRAY("
	" SELECT ctid FROM @extschema@.proposer_failures"
	" WHERE created_at < $1 AND id <= $2"
	" LIMIT $3 FOR UPDATE SKIP LOCKED))",
	TIMESTAMPTZOID, INT8OID, INT4OID);

/* Serializes a batch with folds; no row: nothing folded, nothing to purge. */
static ApPlan state_lock_plan = AP_PLAN_NO_ARGS(
	"SELECT 1 FROM @extschema@.log_rollup_state FOR UPDATE");

/* Rows created from $1 on are all still there. */
static ApPlan horizon_plan = AP_PLAN(
	"UPDATE @extschema@.log_rollup_state"
	" SET purged_before = GREATEST(purged_before, $1)",
	TIMESTAMPTZOID);

static ApPlan report_rollups_purge_plan = AP_PLAN_CUSTOM(
	"DELETE FROM @extschema@.log_report_rollups"
	" WHERE hour < pg_catalog.date_trunc('hour', $1, 'UTC')",
	TIMESTAMPTZOID);

static ApPlan rollups_purge_plan = AP_PLAN_CUSTOM(
	"DELETE FROM @extschema@.log_rollups WHERE day <= $1 - interval '1 day'",
	TIMESTAMPTZOID);

static ApPlan messages_purge_plan = AP_PLAN(
	"DELETE FROM @extschema@.log_recent_messages WHERE created_at < $1",
	TIMESTAMPTZOID);

/*
 * Delete up to batch_size expired log rows and the rollup days that ended
 * before the cutoff.  Runs in the caller's transaction and SPI connection.
 */
uint64
retention_purge_batch(int batch_size)
{
	TimestampTz cutoff;
	int64		watermark;
	bool		isnull;
	Datum		values[3];
	uint64		deleted;

	if (ap_log_retention <= 0)
		return 0;
	ap_execute(&state_lock_plan, NULL, NULL, false, 0);
	if (SPI_processed == 0)
		return 0;

	values[0] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp() -
									(TimestampTz) ap_log_retention * USECS_PER_SEC);
	ap_execute(&cutoff_plan, values, NULL, false, 0);
	cutoff = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	watermark = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 2, &isnull));

	values[0] = TimestampTzGetDatum(cutoff);
	values[1] = Int64GetDatum(watermark);
	values[2] = Int32GetDatum(batch_size);
	ap_execute(&log_purge_plan, values, NULL, false, 0);
	deleted = SPI_processed;
	if (deleted > 0)
	{
		ap_execute(&horizon_plan, values, NULL, false, 0);
		ap_execute(&report_rollups_purge_plan, values, NULL, false, 0);
	}

	ap_execute(&rollups_purge_plan, values, NULL, false, 0);
	ap_execute(&messages_purge_plan, values, NULL, false, 0);
	return deleted;
}

/*
 * purge_log(batch_size int) returns bigint: delete up to batch_size log
 * rows older than adaptive_prompts.log_retention that nothing needs.
 */
Datum
ap_purge_log(PG_FUNCTION_ARGS)
{
	int32		batch_size;
	uint64		deleted;

	AP_ENTER();
	ap_require_writable("purge_log()");
	batch_size = ap_require_batch_size(fcinfo, 0, "batch_size");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	deleted = retention_purge_batch(batch_size);
	SPI_finish();
	PG_RETURN_INT64((int64) deleted);
}
