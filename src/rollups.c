/*-------------------------------------------------------------------------
 *
 * rollups.c
 *	  Daily rollups of the work-order log, folded in from its new rows.
 *
 * log_rollups holds weighted counts per UTC day, proposer, band, kind and
 * code, log_report_rollups what validation_report() needs per UTC hour;
 * log_rollup_state holds the watermark: every log row with id <=
 * folded_through is in the rollups, no other.  A fold adds the rows in
 * (folded_through, next_bound] and moves the watermark in one transaction,
 * so a fold that fails or is rolled back changes nothing and the next one
 * folds the same rows: each row is counted exactly once.
 *
 * Ids are handed out by the identity sequence when a row is inserted, not
 * when it commits: when a fold runs, a transaction still in progress may
 * hold an id below the highest one visible.  So a fold only goes up to a
 * bound that was final: at its end it reads the highest visible id, then
 * waits, as CREATE INDEX CONCURRENTLY does, for every transaction that
 * holds a lock on the log conflicting with SHARE ROW EXCLUSIVE (every
 * inserter: an insert takes its lock before its id) and records that id
 * as next_bound; a row with an id at or below it was inserted by one of
 * those transactions or is visible already (the sequence must keep CACHE
 * 1).  It takes no lock itself, so a long transaction that inserted into
 * the log delays the fold but never queues record_work_order's inserts
 * behind a lock request.  A row is thus folded by the second fold after it
 * committed; the analyses read the rows above the watermark from the log.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"

#include "adaptive_prompts.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(ap_fold_rollups);

static ApPlan state_create_plan = AP_PLAN_NO_ARGS(
	"INSERT INTO @extschema@.log_rollup_state DEFAULT VALUES"
	" ON CONFLICT (singleton) DO NOTHING");

/* Locking the state row serializes folds (and analyses that ask to). */
static ApPlan state_lock_plan = AP_PLAN_NO_ARGS(
	"SELECT folded_through, next_bound FROM @extschema@.log_rollup_state"
	" FOR UPDATE");

static ApPlan state_share_plan = AP_PLAN_NO_ARGS(
	"SELECT folded_through FROM @extschema@.log_rollup_state FOR SHARE");

static ApPlan state_read_plan = AP_PLAN_NO_ARGS(
	"SELECT folded_through FROM @extschema@.log_rollup_state");

/*
 * Add the rows (folded_through, next_bound] to the rollups.  Returns the
 * number of log rows folded.
 */
static ApPlan fold_plan = AP_PLAN_CUSTOM(
	"WITH f AS MATERIALIZED ("
	"  SELECT " LOG_ROW_DAY " AS day, f.proposer_name, f.complexity_band,"
	"   " LOG_ROW_WEIGHT " AS weight, f.error_codes, f.prompt_enhancements_used,"
	"   " LOG_ROW_HOUR " AS hour, f.created_at, f.outcome, f.excluded_error_codes"
	"  FROM @extschema@.proposer_failures f WHERE f.id > $1 AND f.id <= $2),"
	" report_folded AS ("
	"  INSERT INTO @extschema@.log_report_rollups AS r (hour, kind, code, complexity_band,"
	"   outcome, work_orders, weight, first_at, last_at)"
	"  SELECT f.hour, k.kind, k.code, k.complexity_band, f.outcome, pg_catalog.count(*),"
	"   pg_catalog.sum(f.weight), pg_catalog.min(f.created_at), pg_catalog.max(f.created_at)"
	"  FROM f," REPORT_FACTS_LATERAL
	"  GROUP BY f.hour, k.kind, k.code, k.complexity_band, f.outcome"
	"  ON CONFLICT (hour, kind, code, complexity_band, outcome) DO UPDATE"
	"  SET work_orders = r.work_orders + excluded.work_orders,"
	"   weight = r.weight + excluded.weight,"
	"   first_at = LEAST(r.first_at, excluded.first_at),"
	"   last_at = GREATEST(r.last_at, excluded.last_at)"
	"  RETURNING 1),"
	" folded AS ("
	"  INSERT INTO @extschema@.log_rollups AS r (day, kind, code, proposer_name,"
	"   complexity_band, work_orders, weight, occurrence_rows, occurrence_weight)"
	"  SELECT f.day, 'total', '', f.proposer_name, f.complexity_band,"
	"   pg_catalog.count(*), pg_catalog.sum(f.weight), 0, 0"
	"  FROM f GROUP BY f.day, f.proposer_name, f.complexity_band"
	"  UNION ALL"
	"  SELECT f.day, 'error', c.code, f.proposer_name, f.complexity_band,"
	"   pg_catalog.count(*), pg_catalog.sum(f.weight), 0, 0"
	"  FROM f," ERROR_CODES_LATERAL
	"  GROUP BY f.day, c.code, f.proposer_name, f.complexity_band"
	"  UNION ALL"
	"  SELECT f.day, 'used', u.code, f.proposer_name, f.complexity_band,"
	"   pg_catalog.count(*), pg_catalog.sum(f.weight),"
	"   pg_catalog.count(*) FILTER (WHERE u.code = ANY (f.error_codes)),"
	"   coalesce(pg_catalog.sum(f.weight) FILTER (WHERE u.code = ANY (f.error_codes)), 0)"
	"  FROM f," USED_CODES_LATERAL
	"  GROUP BY f.day, u.code, f.proposer_name, f.complexity_band"
	"  ON CONFLICT (day, kind, code, proposer_name, complexity_band) DO UPDATE"
	"  SET work_orders = r.work_orders + excluded.work_orders,"
	"   weight = r.weight + excluded.weight,"
	"   occurrence_rows = r.occurrence_rows + excluded.occurrence_rows,"
	"   occurrence_weight = r.occurrence_weight + excluded.occurrence_weight"
	"  RETURNING 1)"
	" SELECT (SELECT pg_catalog.count(*) FROM f), (SELECT pg_catalog.count(*) FROM folded)",
	INT8OID, INT8OID);

/* The newest messages of the rows (folded_through, next_bound]. */
static ApPlan messages_fold_plan = AP_PLAN_CUSTOM(
	"INSERT INTO @extschema@.log_recent_messages"
	" (error_code, despite, created_at, log_id, ordinality, message)"
	" SELECT code, despite, created_at, id, ordinality, message FROM ("
	"  SELECT m.code, m.despite, r.created_at, r.id, x.ordinality, x.value ->> 'message' AS message,"
	"   pg_catalog.row_number() OVER (PARTITION BY m.code, m.despite"
	"     ORDER BY r.created_at DESC, r.id DESC, x.ordinality) AS rank"
	"  FROM @extschema@.proposer_failures r," ROW_MESSAGES ","
	"   LATERAL (SELECT x.value ->> 'code' AS code,"
	"     " USED_ENHANCEMENT_OF("(x.value ->> 'code')") " AS despite) m"
	"  WHERE r.id > $1 AND r.id <= $2 AND" ROW_MESSAGE_OK ") ranked"
	" WHERE rank <= $3"
	" ON CONFLICT DO NOTHING",
	INT8OID, INT8OID, INT4OID);

/* Keep only the newest messages of each code and despite. */
static ApPlan messages_prune_plan = AP_PLAN(
	"DELETE FROM @extschema@.log_recent_messages m USING ("
	"  SELECT error_code, despite, log_id, ordinality,"
	"   pg_catalog.row_number() OVER (PARTITION BY error_code, despite"
	"     ORDER BY created_at DESC, log_id DESC, ordinality) AS rank"
	"  FROM @extschema@.log_recent_messages) old"
	" WHERE old.rank > $1 AND m.error_code = old.error_code AND m.despite = old.despite"
	"  AND m.log_id = old.log_id AND m.ordinality = old.ordinality",
	INT4OID);

static ApPlan max_id_plan = AP_PLAN_NO_ARGS(
	"SELECT coalesce(pg_catalog.max(id), 0) FROM @extschema@.proposer_failures");

static ApPlan state_update_plan = AP_PLAN(
	"UPDATE @extschema@.log_rollup_state SET folded_through = $1,"
	" next_bound = $2, folded_at = pg_catalog.now()",
	INT8OID, INT8OID);

/*
 * Read a bigint column of the first row of the last query, or 0.
 */
static int64
first_int8(int column)
{
	bool		isnull;
	Datum		value;

	if (SPI_processed == 0)
		return 0;
	value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						  column, &isnull);
	return isnull ? 0 : DatumGetInt64(value);
}

/*
 * The rollups' watermark as the current snapshot sees it.  With
 * lock_against_folds the state row is locked FOR SHARE, so that no fold
 * moves it before the transaction ends (for callers that read the rollups
 * in more than one statement of a read-write transaction).
 */
int64
rollups_watermark(bool lock_against_folds)
{
	if (lock_against_folds)
	{
		ap_execute(&state_create_plan, NULL, NULL, false, 0);
		ap_execute(&state_share_plan, NULL, NULL, false, 0);
	}
	else
		ap_execute(&state_read_plan, NULL, NULL, true, 0);
	return first_int8(1);
}

/*
 * Fold the rows up to the last fold's final bound, then record the next
 * bound under a lock that waits out every transaction inserting into the
 * log.  Runs in the caller's transaction and SPI connection.
 */
uint64
rollups_fold(void)
{
	int64		folded_through;
	int64		bound;
	uint64		folded = 0;
	Datum		values[2];
	Datum		messages[3];

	ap_execute(&state_create_plan, NULL, NULL, false, 0);
	ap_execute(&state_lock_plan, NULL, NULL, false, 0);
	folded_through = first_int8(1);
	bound = first_int8(2);

	if (bound > folded_through)
	{
		values[0] = Int64GetDatum(folded_through);
		values[1] = Int64GetDatum(bound);
		ap_execute(&fold_plan, values, NULL, false, 0);
		folded = (uint64) first_int8(1);
		messages[0] = values[0];
		messages[1] = values[1];
		messages[2] = Int32GetDatum(RECENT_MESSAGES_KEPT);
		ap_execute(&messages_fold_plan, messages, NULL, false, 0);
		ap_execute(&messages_prune_plan, &messages[2], NULL, false, 0);
		folded_through = bound;
	}

	/* The next bound: the highest id now, once its inserters have ended. */
	ap_execute(&max_id_plan, NULL, NULL, false, 1);
	values[1] = Int64GetDatum(first_int8(1));
	{
		LOCKTAG		log_tag;

		SET_LOCKTAG_RELATION(log_tag, MyDatabaseId,
							 get_relname_relid("proposer_failures", ap_extension_schema()));
		WaitForLockers(log_tag, ShareRowExclusiveLock, false);
	}
	values[0] = Int64GetDatum(folded_through);
	ap_execute(&state_update_plan, values, NULL, false, 0);
	return folded;
}

/*
 * fold_rollups() returns bigint: fold the log's new rows into log_rollups
 * (see rollups_fold) and return how many were folded.
 */
Datum
ap_fold_rollups(PG_FUNCTION_ARGS)
{
	uint64		folded;

	AP_ENTER();
	ap_require_writable("fold_rollups()");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	folded = rollups_fold();
	SPI_finish();
	PG_RETURN_INT64((int64) folded);
}
