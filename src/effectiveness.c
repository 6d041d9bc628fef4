/*-------------------------------------------------------------------------
 *
 * effectiveness.c
 *	  What the logged work orders say about enhancements: how often each is
 *	  used, whether it lowers the rate of its code, which frequent codes
 *	  have none, and each proposer's frequent codes.
 *
 * Every measure is per work order, from proposer_failures, where a logged
 * row stands for 1/sample_rate work orders (failures are always logged,
 * successes and partials are sampled).  The rate of a code is the weighted
 * number of work orders in which it occurs divided by the weighted number
 * of work orders; an enhancement's reduction compares that rate with and
 * without the enhancement, so it does not depend on how often it is used.
 *
 * A work order used a code's enhancement when enhancements_used has the
 * bare code or CODE@N with N > 0 (CODE@0 is the held-out arm of a test).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "prompts.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(ap_refresh_enhancement_stats);
PG_FUNCTION_INFO_V1(ap_analyze_enhancement_effectiveness);
PG_FUNCTION_INFO_V1(ap_get_common_unaddressed_errors);

/* Frequent codes kept per proposer for build_enhanced_prompt(NULL codes). */
#define FREQUENT_CODES_PER_PROPOSER 20

static ApPlan times_used_plan = AP_PLAN_CUSTOM(
	"WITH tail AS MATERIALIZED (" LOG_TAIL_COLUMNS " WHERE f.id > $1),"
	" usage AS ("
	"  SELECT code, pg_catalog.sum(weight) AS weight FROM ("
	"   SELECT u.code, pg_catalog.sum(f.weight) AS weight"
	"   FROM tail f," USED_CODES_LATERAL
	"   WHERE f.prompt_enhancements_used <> '{}'"
	"   GROUP BY u.code"
	"   UNION ALL"
	"   SELECT r.code, pg_catalog.sum(r.weight) FROM @extschema@.log_rollups r"
	"   WHERE r.kind = 'used' GROUP BY r.code) x"
	"  GROUP BY code),"
	" counts AS ("
	"  SELECT e.error_code, coalesce(pg_catalog.round(usage.weight), 0)::pg_catalog.int8 AS times_used"
	"  FROM @extschema@.prompt_enhancements e LEFT JOIN usage ON usage.code = e.error_code)"
	" UPDATE @extschema@.prompt_enhancements e SET times_used = counts.times_used"
	" FROM counts WHERE counts.error_code = e.error_code"
	" AND e.times_used IS DISTINCT FROM counts.times_used",
	INT8OID);

static ApPlan clear_frequent_plan = AP_PLAN(
	"DELETE FROM @extschema@.proposer_frequent_codes");

#define FREQUENT_WINDOW "interval '30 days'"

static ApPlan fill_frequent_plan = AP_PLAN_CUSTOM(
	"WITH tail AS MATERIALIZED (" LOG_TAIL(FREQUENT_WINDOW, "$2") "),"
	" counts AS ("
	"  SELECT proposer_name, code, pg_catalog.sum(weight) AS weight FROM ("
	"   SELECT f.proposer_name, c.code, pg_catalog.sum(f.weight) AS weight"
	"   FROM tail f," ERROR_CODES_LATERAL
	"   GROUP BY f.proposer_name, c.code"
	"   UNION ALL"
	"   SELECT r.proposer_name, r.code, pg_catalog.sum(r.weight) FROM @extschema@.log_rollups r"
	"   WHERE r.kind = 'error' AND r.day >= " FIRST_FULL_DAY(FREQUENT_WINDOW)
	"   GROUP BY r.proposer_name, r.code) x"
	"  GROUP BY proposer_name, code)"
	" INSERT INTO @extschema@.proposer_frequent_codes"
	" (proposer_name, error_code, occurrence_count)"
	" SELECT proposer_name, code, pg_catalog.round(weight)::pg_catalog.int8"
	" FROM (SELECT proposer_name, code, weight,"
	"        pg_catalog.row_number() OVER (PARTITION BY proposer_name"
	"          ORDER BY weight DESC, code COLLATE pg_catalog.\"C\") AS rank"
	"       FROM counts) ranked"
	" WHERE rank <= $1",
	INT4OID, INT8OID);

/*
 * Per live enhancement: weighted work orders and occurrences of its code
 * with and without it, in the window, from the rollups of whole days and
 * the log's tail.  Row counts decide whether there is data.
 */
static ApPlan effectiveness_plan = AP_PLAN_CUSTOM(
	"WITH tail AS MATERIALIZED (" LOG_TAIL("$1", "$3") "),"
	/* The tail's rows have few distinct arrays: unnest each once. */
	" tail_groups AS MATERIALIZED (" TAIL_GROUPS "),"
	" roll AS MATERIALIZED ("
	"  SELECT r.kind, r.code, pg_catalog.sum(r.work_orders) AS n, pg_catalog.sum(r.weight) AS weight,"
	"   pg_catalog.sum(r.occurrence_rows) AS occurrence_n,"
	"   pg_catalog.sum(r.occurrence_weight) AS occurrences"
	"  FROM @extschema@.log_rollups r WHERE r.day >= " FIRST_FULL_DAY("$1")
	"  GROUP BY r.kind, r.code),"
	" total AS ("
	"  SELECT pg_catalog.sum(n) AS n, pg_catalog.sum(weight) AS weight FROM ("
	"   SELECT coalesce(pg_catalog.sum(n), 0) AS n, coalesce(pg_catalog.sum(weight), 0) AS weight FROM tail_groups"
	"   UNION ALL SELECT n, weight FROM roll WHERE kind = 'total') x),"
	" usage AS ("
	"  SELECT code, pg_catalog.sum(n) AS n, pg_catalog.sum(weight) AS weight,"
	"   pg_catalog.sum(occurrence_n) AS occurrence_n, pg_catalog.sum(occurrences) AS occurrences"
	"  FROM ("
	"   SELECT u.code, pg_catalog.sum(f.n) AS n, pg_catalog.sum(f.weight) AS weight,"
	"    coalesce(pg_catalog.sum(f.n) FILTER (WHERE u.code = ANY (f.error_codes)), 0) AS occurrence_n,"
	"    coalesce(pg_catalog.sum(f.weight) FILTER (WHERE u.code = ANY (f.error_codes)), 0) AS occurrences"
	"   FROM tail_groups f," USED_CODES_LATERAL
	"   GROUP BY u.code"
	"   UNION ALL SELECT code, n, weight, occurrence_n, occurrences FROM roll WHERE kind = 'used') x"
	"  GROUP BY code),"
	" occurrence AS ("
	"  SELECT code, pg_catalog.sum(n) AS n, pg_catalog.sum(weight) AS weight FROM ("
	"   SELECT c.code, pg_catalog.sum(f.n) AS n, pg_catalog.sum(f.weight) AS weight"
	"   FROM tail_groups f," ERROR_CODES_LATERAL
	"   GROUP BY c.code"
	"   UNION ALL SELECT code, n, weight FROM roll WHERE kind = 'error') x"
	"  GROUP BY code),"
	/*
	 * The newest messages of the live codes among the tail's rows above
	 * the watermark, found in one pass: each code's first $2 with and
	 * without its enhancement hold every one of its first $2 overall.
	 */
	" tail_messages AS MATERIALIZED ("
	"  SELECT code, despite, created_at, log_id, ordinality, message FROM ("
	"   SELECT m.code, m.despite, r.created_at, r.id AS log_id, x.ordinality,"
	"    x.value ->> 'message' AS message,"
	"    pg_catalog.row_number() OVER (PARTITION BY m.code, m.despite"
	"      ORDER BY r.created_at DESC, r.id DESC, x.ordinality) AS rank"
	"   FROM tail r," ROW_MESSAGES ","
	"    LATERAL (SELECT x.value ->> 'code' AS code,"
	"      " USED_ENHANCEMENT_OF("(x.value ->> 'code')") " AS despite) m"
	"   WHERE r.id > $3 AND" ROW_MESSAGE_OK
	"    AND m.code IN (SELECT a.error_code FROM @extschema@.prompt_enhancements a WHERE a.active)) ranked"
	"  WHERE rank <= $2)"
	" SELECT e.error_code, e.enhancement_text,"
	"  coalesce(pg_catalog.round(u.weight), 0)::pg_catalog.int8,"
	"  CASE WHEN u.n > 0 AND total.n - u.n > 0"
	"        AND coalesce(o.n, 0) - coalesce(u.occurrence_n, 0) > 0"
	"   THEN (1.0 - (u.occurrences / u.weight)"
	"        / ((o.weight - u.occurrences) / (total.weight - u.weight)))::pg_catalog.float8 END,"
	"  ARRAY(SELECT s.message FROM ("
	"    SELECT m.despite, m.created_at, m.log_id, m.ordinality, m.message"
	"    FROM @extschema@.log_recent_messages m"
	"    WHERE m.error_code = e.error_code AND m.created_at > pg_catalog.now() - $1"
	"    UNION ALL"
	"    SELECT t.despite, t.created_at, t.log_id, t.ordinality, t.message"
	"    FROM tail_messages t WHERE t.code = e.error_code) s"
	"   ORDER BY s.despite DESC, s.created_at DESC, s.log_id DESC, s.ordinality LIMIT $2)"
	" FROM @extschema@.prompt_enhancements e"
	" CROSS JOIN total"
	" LEFT JOIN usage u ON u.code = e.error_code"
	" LEFT JOIN occurrence o ON o.code = e.error_code"
	" WHERE e.active"
	" ORDER BY e.error_code COLLATE pg_catalog.\"C\"",
	INTERVALOID, INT4OID, INT8OID);

static ApPlan unaddressed_plan = AP_PLAN_CUSTOM(
	"WITH tail AS MATERIALIZED (" LOG_TAIL("$1", "$3") "),"
	" counts AS ("
	"  SELECT code, pg_catalog.sum(n)::pg_catalog.int8 AS occurrence_count FROM ("
	"   SELECT c.code, pg_catalog.count(*) AS n"
	"   FROM tail f," ERROR_CODES_LATERAL
	"   GROUP BY c.code"
	"   UNION ALL"
	"   SELECT r.code, pg_catalog.sum(r.work_orders) FROM @extschema@.log_rollups r"
	"   WHERE r.kind = 'error' AND r.day >= " FIRST_FULL_DAY("$1")
	"   GROUP BY r.code) x"
	"  GROUP BY code)"
	" SELECT c.code, c.occurrence_count FROM counts c"
	" WHERE c.occurrence_count >= $2"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.prompt_enhancements e"
	"                  WHERE e.error_code = c.code AND e.active)"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.enhancement_versions v"
	"                  WHERE v.error_code = c.code AND v.status IN ('pending_approval', 'testing'))"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.improvement_jobs j"
	"                  WHERE j.error_code = c.code AND j.status IN ('queued', 'running'))"
	" ORDER BY c.occurrence_count DESC, c.code COLLATE pg_catalog.\"C\"",
	INTERVALOID, INT8OID, INT8OID);

/*
 * A required interval between zero and AP_MAX_ANALYSIS_WINDOW, so that
 * "now() - since" cannot overflow and an error names the argument.
 */
static Datum
require_window(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	Interval   *since;
	Interval   *zero;
	Interval	limit = {0};

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	since = PG_GETARG_INTERVAL_P(argno);
	zero = palloc0(sizeof(Interval));
	limit.month = AP_MAX_ANALYSIS_WINDOW_YEARS * MONTHS_PER_YEAR;
	if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(since),
										 IntervalPGetDatum(zero))) ||
		DatumGetBool(DirectFunctionCall2(interval_gt, IntervalPGetDatum(since),
										 IntervalPGetDatum(&limit))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between 0 and %d years", argname,
						AP_MAX_ANALYSIS_WINDOW_YEARS),
				 errdetail("The value given was %s.",
						   DatumGetCString(DirectFunctionCall1(interval_out,
															   IntervalPGetDatum(since))))));
	return IntervalPGetDatum(since);
}

/*
 * Run a read-only query, with the rollups' watermark as values[2], and put
 * each of its rows, whose columns are those of tupdesc, into a function's
 * result set.
 */
static void
store_query_rows(ApPlan *plan, Datum *values, Tuplestorestate *store,
				 TupleDesc tupdesc)
{
	Datum	   *row = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	uint64		i;
	int			column;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* Read-only: the watermark and the rollups are read in one snapshot. */
	values[2] = Int64GetDatum(rollups_watermark(false));
	ap_execute(plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		for (column = 0; column < tupdesc->natts; column++)
			row[column] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
										column + 1, &nulls[column]);
		tuplestore_putvalues(store, tupdesc, row, nulls);
	}
	SPI_finish();
}

/*
 * refresh_enhancement_stats() returns integer: derive
 * prompt_enhancements.times_used from the log and refill
 * proposer_frequent_codes (each proposer's most frequent codes of the last
 * 30 days).  Run off the hot path (by the worker, pg_cron or a person);
 * returns the number of frequent-code rows.
 */
Datum
ap_refresh_enhancement_stats(PG_FUNCTION_ARGS)
{
	Datum		values[2];
	uint64		frequent;

	AP_ENTER();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	/* No fold may move the watermark between these statements. */
	values[1] = Int64GetDatum(rollups_watermark(true));
	ap_execute(&times_used_plan, &values[1], NULL, false, 0);
	ap_execute(&clear_frequent_plan, NULL, NULL, false, 0);
	values[0] = Int32GetDatum(FREQUENT_CODES_PER_PROPOSER);
	ap_execute(&fill_frequent_plan, values, NULL, false, 0);
	frequent = SPI_processed;
	SPI_finish();
	PG_RETURN_INT32((int32) frequent);
}

/*
 * analyze_enhancement_effectiveness(since) returns table(error_code,
 * current_text, times_used, error_reduction_rate, recent_failures): one
 * row per live enhancement.  times_used is the weighted number of work
 * orders in the window that used it; error_reduction_rate is 1 -
 * rate_with / rate_without (NULL without data on either side, or when the
 * code never occurred without it); recent_failures are recent messages of
 * the code, those that occurred despite the enhancement first.
 */
Datum
ap_analyze_enhancement_effectiveness(PG_FUNCTION_ARGS)
{
	Datum		values[3];
	Tuplestorestate *store;
	TupleDesc	tupdesc;

	AP_ENTER();
	values[0] = require_window(fcinfo, 0, "since");
	values[1] = Int32GetDatum(RECENT_MESSAGES_KEPT);
	store = prompts_begin_srf(fcinfo, &tupdesc);

	store_query_rows(&effectiveness_plan, values, store, tupdesc);
	return (Datum) 0;
}

/*
 * get_common_unaddressed_errors(min_occurrences, since) returns
 * table(error_code, occurrence_count): codes of at least min_occurrences
 * logged work orders in the window that have no live enhancement, no
 * version pending approval or in testing, and no open improvement job.
 */
Datum
ap_get_common_unaddressed_errors(PG_FUNCTION_ARGS)
{
	Datum		values[3];
	Tuplestorestate *store;
	TupleDesc	tupdesc;

	AP_ENTER();
	values[1] = Int64GetDatum((int64) ap_require_count(fcinfo, 0, "min_occurrences"));
	values[0] = require_window(fcinfo, 1, "since");
	store = prompts_begin_srf(fcinfo, &tupdesc);

	store_query_rows(&unaddressed_plan, values, store, tupdesc);
	return (Datum) 0;
}
