/*-------------------------------------------------------------------------
 *
 * experiments.c
 *	  Threshold experiments and routing.
 *
 * An experiment asks whether a proposer can take the complexity band
 * [old_threshold, new_threshold] above its current threshold.  While it
 * runs, every work order of that proposer whose score falls in the band is
 * counted (record_work_order calls experiment_count_work_order; callers
 * that do not use record_work_order call record_experiment_result), and
 * route_work_order sends scores in the band to the proposer.
 *
 * Counting does not update the experiment row (SPEC 8: no per-call update
 * of a shared row).  Each experiment has AP_COUNTER_STRIPES rows in
 * threshold_experiment_counts; a call adds to the row of its backend's
 * stripe (ap_counter_stripe()), after one statement that reads the
 * experiment and its counter rows.  Only when the rule may reach a
 * verdict on those sums does the call take the decision path: lock the
 * experiment row, check that it is still in the state the call saw, sum
 * the stripes again (a fresh snapshot after the lock) and, if the rule
 * still reaches a verdict, decide on those sums and write them into the
 * row's count columns.  The row lock makes the decision happen exactly
 * once; a call that finds the row already decided does nothing more, and
 * its count stays in the stripes (the live sums can exceed the recorded
 * counts by the work orders that were in flight).  A call is not counted
 * when the visible sums are already at the rule's cap (sample size, 2 x it
 * for sprt, the watch's size); concurrent calls that all saw the sums below
 * the cap can pass it by at most the number of work orders in flight, and
 * the decision is taken on the sums it sees.  A verdict that no call
 * reached (two last callers that did not see each other's counts) is
 * taken by the next call in the band, by evaluate_experiment() or by
 * settle_threshold_experiments(), which the worker runs every cycle.
 *
 * The count columns of threshold_experiments (current_sample_count,
 * current_successes, current_success_rate, watch_sample_count,
 * watch_successes) hold the counts at the decision, the end of the watch,
 * the abort or the last evaluation; threshold_experiment_progress shows
 * the live sums.
 *
 * The rules (decision: threshold, wilson or sprt; watch: sprt or
 * below_bar) and their parameters are copied onto the row when the
 * experiment starts; decisions read them from the row.
 *
 * Lock order, the same in every function: (record_work_order's ledger and
 * metrics rows,) the stripe row, the experiment row, then the proposer row.
 * Functions that lock the experiment row read the stripes without locking
 * them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/uuid.h"

#include "adaptive_prompts.h"
#include "stats.h"

PG_FUNCTION_INFO_V1(ap_propose_threshold_increase);
PG_FUNCTION_INFO_V1(ap_run_threshold_experiment);
PG_FUNCTION_INFO_V1(ap_record_experiment_result);
PG_FUNCTION_INFO_V1(ap_evaluate_experiment);
PG_FUNCTION_INFO_V1(ap_abort_experiment);
PG_FUNCTION_INFO_V1(ap_route_work_order);
PG_FUNCTION_INFO_V1(ap_settle_threshold_experiments);

/* Error rates of the sequential test (SPEC 4.3). */
#define EXPERIMENT_SPRT_ALPHA 0.05
#define EXPERIMENT_SPRT_BETA 0.2

/* Largest sample size accepted (the SPRT may use twice as many). */
#define EXPERIMENT_MAX_SAMPLE_SIZE 1000000

/* Longest abort reason accepted, in bytes. */
#define EXPERIMENT_MAX_REASON_BYTES 2000

/* Columns every query that reads an experiment returns, in this order. */
#define EXPERIMENT_COLUMNS \
	"id, proposer_name, old_threshold, new_threshold, test_sample_size," \
	" confidence_threshold, decision_rule, sprt_delta, sprt_alpha, sprt_beta," \
	" status, watching, current_sample_count, current_successes," \
	" watch_sample_count, watch_successes," \
	" watch_rule, watch_p_good, watch_p_bad, watch_alpha, watch_beta"

enum
{
	COL_ID = 1,
	COL_PROPOSER,
	COL_OLD_THRESHOLD,
	COL_NEW_THRESHOLD,
	COL_SAMPLE_SIZE,
	COL_CONFIDENCE,
	COL_RULE,
	COL_SPRT_DELTA,
	COL_SPRT_ALPHA,
	COL_SPRT_BETA,
	COL_STATUS,
	COL_WATCHING,
	COL_SAMPLE_COUNT,
	COL_SUCCESSES,
	COL_WATCH_COUNT,
	COL_WATCH_SUCCESSES,
	COL_WATCH_RULE,
	COL_WATCH_P_GOOD,
	COL_WATCH_P_BAD,
	COL_WATCH_ALPHA,
	COL_WATCH_BETA
};

/* One experiment row, copied out of SPI. */
typedef struct Experiment
{
	pg_uuid_t	id;
	char	   *proposer;
	double		old_threshold;
	double		new_threshold;
	int32		sample_size;
	double		confidence;
	char		rule[16];
	double		sprt_delta;
	double		sprt_alpha;
	double		sprt_beta;
	char		status[16];
	bool		watching;
	int32		sample_count;	/* the row's counts, or the stripes' sums */
	int32		successes;
	int32		watch_count;
	int32		watch_successes;
	char		watch_rule[16];
	double		watch_p_good;	/* sprt watch only; else 0 */
	double		watch_p_bad;
	double		watch_alpha;
	double		watch_beta;
} Experiment;

/* The sums of an experiment's stripes, for a row x of threshold_experiments. */
#define EXPERIMENT_SUMS \
	" SELECT COALESCE(pg_catalog.sum(c.sample_count), 0)::int8 AS n," \
	"        COALESCE(pg_catalog.sum(c.successes), 0)::int8 AS k," \
	"        COALESCE(pg_catalog.sum(c.watch_sample_count), 0)::int8 AS wn," \
	"        COALESCE(pg_catalog.sum(c.watch_successes), 0)::int8 AS wk" \
	"   FROM @extschema@.threshold_experiment_counts c WHERE c.experiment_id = x.id"

/* Columns after EXPERIMENT_COLUMNS: one counter row (find_plan), or the sums (open_sums_plan). */
enum
{
	COL_SUM_COUNT = COL_WATCH_BETA + 1,
	COL_SUM_SUCCESSES,
	COL_SUM_WATCH_COUNT,
	COL_SUM_WATCH_SUCCESSES
};

/*
 * The proposer's open experiment whose band holds the score, once per
 * counter row of it (the caller sums them: no aggregate to set up on the
 * hot path), or one row with NULL counts when it has no counter rows.
 * When nothing matches (the usual case) it touches one index page of a
 * small partial index and locks nothing.
 */
static ApPlan find_plan = AP_PLAN(
	"SELECT " EXPERIMENT_COLUMNS ", c.n, c.k, c.wn, c.wk"
	"  FROM @extschema@.threshold_experiments x"
	"  LEFT JOIN (SELECT experiment_id, sample_count AS n, successes AS k,"
	"                    watch_sample_count AS wn, watch_successes AS wk"
	"               FROM @extschema@.threshold_experiment_counts) c"
	"    ON c.experiment_id = x.id"
	" WHERE x.proposer_name = $1 AND (x.status = 'running' OR x.watching)"
	"   AND $2 >= x.old_threshold AND $2 <= x.new_threshold",
	TEXTOID, FLOAT8OID);

/*
 * Add one result to this backend's counter row ($2) of an experiment: to
 * the trial's counts, or the watch's when $3.  Locks that row only.
 */
static ApPlan add_plan = AP_PLAN(
	"UPDATE @extschema@.threshold_experiment_counts SET"
	" sample_count = sample_count + CASE WHEN $3 THEN 0 ELSE 1 END,"
	" successes = successes + CASE WHEN NOT $3 AND $4 THEN 1 ELSE 0 END,"
	" watch_sample_count = watch_sample_count + CASE WHEN $3 THEN 1 ELSE 0 END,"
	" watch_successes = watch_successes + CASE WHEN $3 AND $4 THEN 1 ELSE 0 END"
	" WHERE experiment_id = $1 AND stripe = $2",
	UUIDOID, INT4OID, BOOLOID, BOOLOID);

/* An experiment's stripes, created with the experiment (or when missing). */
static ApPlan stripes_insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.threshold_experiment_counts (experiment_id, stripe)"
	" SELECT $1, s FROM pg_catalog.generate_series(0, $2 - 1) s"
	" ON CONFLICT DO NOTHING",
	UUIDOID, INT4OID);

/* The sums of one experiment's stripes, read without locking them. */
static ApPlan sums_plan = AP_PLAN(
	"SELECT s.n, s.k, s.wn, s.wk"
	"  FROM (SELECT $1::uuid AS id) x, LATERAL (" EXPERIMENT_SUMS ") s",
	UUIDOID);

/* Every open experiment with the sums of its stripes, without locks. */
static ApPlan open_sums_plan = AP_PLAN_NO_ARGS(
	"SELECT " EXPERIMENT_COLUMNS ", s.n, s.k, s.wn, s.wk"
	"  FROM @extschema@.threshold_experiments x, LATERAL (" EXPERIMENT_SUMS ") s"
	" WHERE x.status = 'running' OR x.watching"
	" ORDER BY x.proposer_name COLLATE pg_catalog.\"C\"");

/* The counts of the last evaluation, when no verdict was reached. */
static ApPlan write_counts_plan = AP_PLAN(
	"UPDATE @extschema@.threshold_experiments"
	" SET current_sample_count = $2, current_successes = $3,"
	" current_success_rate = $3::float8 / NULLIF($2, 0),"
	" watch_sample_count = $4, watch_successes = $5"
	" WHERE id = $1",
	UUIDOID, INT4OID, INT4OID, INT4OID, INT4OID);

static ApPlan lock_by_id_plan = AP_PLAN(
	"SELECT " EXPERIMENT_COLUMNS
	" FROM @extschema@.threshold_experiments WHERE id = $1 FOR UPDATE",
	UUIDOID);

static ApPlan lock_open_plan = AP_PLAN(
	"SELECT watching FROM @extschema@.threshold_experiments"
	" WHERE proposer_name = $1 AND (status = 'running' OR watching) FOR UPDATE",
	TEXTOID);

static ApPlan proposer_read_plan = AP_PLAN(
	"SELECT complexity_threshold, active FROM @extschema@.proposers WHERE name = $1",
	TEXTOID);

static ApPlan proposer_lock_plan = AP_PLAN(
	"SELECT complexity_threshold, active FROM @extschema@.proposers"
	" WHERE name = $1 FOR UPDATE",
	TEXTOID);

static ApPlan insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.threshold_experiments"
	" (proposer_name, old_threshold, new_threshold, test_sample_size,"
	"  confidence_threshold, decision_rule, sprt_delta, sprt_alpha, sprt_beta,"
	"  started_by, watch_rule, watch_p_good, watch_p_bad, watch_alpha, watch_beta)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
	" ON CONFLICT (proposer_name) WHERE status = 'running' OR watching DO NOTHING"
	" RETURNING id",
	TEXTOID, FLOAT8OID, FLOAT8OID, INT4OID, FLOAT8OID, TEXTOID, FLOAT8OID,
	FLOAT8OID, FLOAT8OID, TEXTOID, TEXTOID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
	FLOAT8OID);

/* A decision or an abort, with the counts it was taken on. */
static ApPlan decide_plan = AP_PLAN(
	"UPDATE @extschema@.threshold_experiments"
	" SET status = $2, watching = $3, decided_at = pg_catalog.now(),"
	" decided_by = $4, decision_reason = $5,"
	" current_sample_count = $6, current_successes = $7,"
	" current_success_rate = $7::float8 / NULLIF($6, 0)"
	" WHERE id = $1",
	UUIDOID, TEXTOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, INT4OID);

static ApPlan end_watch_plan = AP_PLAN(
	"UPDATE @extschema@.threshold_experiments"
	" SET status = $2, watching = false, watch_ended_at = pg_catalog.now(),"
	" watch_reason = $3, watch_sample_count = $4, watch_successes = $5"
	" WHERE id = $1",
	UUIDOID, TEXTOID, TEXTOID, INT4OID, INT4OID);

/*
 * Abort a promotion during its watch: decision_reason then starts with how
 * the watch ended, followed by the promotion's own reason.
 */
static ApPlan abort_watch_plan = AP_PLAN(
	"UPDATE @extschema@.threshold_experiments"
	" SET status = 'aborted', watching = false, watch_ended_at = pg_catalog.now(),"
	" watch_reason = $2,"
	" decision_reason = pg_catalog.concat_ws(E'\\n', $2, decision_reason),"
	" watch_sample_count = $3, watch_successes = $4"
	" WHERE id = $1",
	UUIDOID, TEXTOID, INT4OID, INT4OID);

static ApPlan set_threshold_plan = AP_PLAN(
	"UPDATE @extschema@.proposers"
	" SET complexity_threshold = $2, updated_at = pg_catalog.now()"
	" WHERE name = $1",
	TEXTOID, FLOAT8OID);

/*
 * The experimenting proposer for a score in a running experiment's band;
 * else the cheapest active proposer whose threshold covers the score; else
 * the active proposer with the highest threshold.
 */
static ApPlan route_plan = AP_PLAN(
	"SELECT name FROM ("
	" SELECT p.name, 0 AS tier, 0::float8 AS reach, p.cost_rank"
	"   FROM @extschema@.threshold_experiments e"
	"   JOIN @extschema@.proposers p ON p.name = e.proposer_name"
	"  WHERE e.status = 'running' AND p.active"
	"    AND $1 >= e.old_threshold AND $1 <= e.new_threshold"
	" UNION ALL"
	" SELECT name, 1, 0::float8, cost_rank FROM @extschema@.proposers"
	"  WHERE active AND complexity_threshold >= $1"
	" UNION ALL"
	" SELECT name, 2, -complexity_threshold, cost_rank FROM @extschema@.proposers"
	"  WHERE active"
	") candidates ORDER BY tier, reach, cost_rank, name COLLATE pg_catalog.\"C\" LIMIT 1",
	FLOAT8OID);

static void experiment_lock(pg_uuid_t *id, Experiment *e);

/*
 * Copy the experiment in row `row` of the last SPI result.
 */
static void
experiment_from_tuple(uint64 row, Experiment *e)
{
	HeapTuple	tuple = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

	e->id = *DatumGetUUIDP(SPI_getbinval(tuple, desc, COL_ID, &isnull));
	e->proposer = TextDatumGetCString(SPI_getbinval(tuple, desc, COL_PROPOSER, &isnull));
	e->old_threshold = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_OLD_THRESHOLD, &isnull));
	e->new_threshold = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_NEW_THRESHOLD, &isnull));
	e->sample_size = DatumGetInt32(SPI_getbinval(tuple, desc, COL_SAMPLE_SIZE, &isnull));
	e->confidence = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_CONFIDENCE, &isnull));
	text_to_cstring_buffer(DatumGetTextPP(SPI_getbinval(tuple, desc, COL_RULE, &isnull)),
						   e->rule, sizeof(e->rule));
	e->sprt_delta = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_SPRT_DELTA, &isnull));
	if (isnull)
		e->sprt_delta = 0.0;
	e->sprt_alpha = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_SPRT_ALPHA, &isnull));
	if (isnull)
		e->sprt_alpha = 0.0;
	e->sprt_beta = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_SPRT_BETA, &isnull));
	if (isnull)
		e->sprt_beta = 0.0;
	text_to_cstring_buffer(DatumGetTextPP(SPI_getbinval(tuple, desc, COL_STATUS, &isnull)),
						   e->status, sizeof(e->status));
	e->watching = DatumGetBool(SPI_getbinval(tuple, desc, COL_WATCHING, &isnull));
	e->sample_count = DatumGetInt32(SPI_getbinval(tuple, desc, COL_SAMPLE_COUNT, &isnull));
	e->successes = DatumGetInt32(SPI_getbinval(tuple, desc, COL_SUCCESSES, &isnull));
	e->watch_count = DatumGetInt32(SPI_getbinval(tuple, desc, COL_WATCH_COUNT, &isnull));
	e->watch_successes = DatumGetInt32(SPI_getbinval(tuple, desc, COL_WATCH_SUCCESSES, &isnull));
	text_to_cstring_buffer(DatumGetTextPP(SPI_getbinval(tuple, desc, COL_WATCH_RULE, &isnull)),
						   e->watch_rule, sizeof(e->watch_rule));
	e->watch_p_good = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_WATCH_P_GOOD, &isnull));
	if (isnull)
		e->watch_p_good = 0.0;
	e->watch_p_bad = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_WATCH_P_BAD, &isnull));
	if (isnull)
		e->watch_p_bad = 0.0;
	e->watch_alpha = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_WATCH_ALPHA, &isnull));
	if (isnull)
		e->watch_alpha = 0.0;
	e->watch_beta = DatumGetFloat8(SPI_getbinval(tuple, desc, COL_WATCH_BETA, &isnull));
	if (isnull)
		e->watch_beta = 0.0;
}

/*
 * Rule kind of a rule name as stored on experiment rows.
 */
static StatsRuleKind
rule_kind_of(const char *name)
{
	if (strcmp(name, "wilson") == 0)
		return STATS_RULE_WILSON;
	if (strcmp(name, "sprt") == 0)
		return STATS_RULE_SPRT;
	return STATS_RULE_THRESHOLD;
}

/*
 * The decision rule copied onto an experiment row.
 */
static void
experiment_rule(const Experiment *e, StatsRule *rule)
{
	if (stats_rule_init(rule, rule_kind_of(e->rule), e->confidence,
						e->sample_size, e->sprt_delta, e->sprt_alpha,
						e->sprt_beta) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("threshold experiment of proposer \"%s\" has invalid rule parameters",
						e->proposer),
				 errdetail("Rule %s, confidence %g, sample size %d, SPRT delta %g.",
						   e->rule, e->confidence, e->sample_size, e->sprt_delta)));
}

/*
 * "12/30 successes, rate 0.400, Wilson 95% interval [0.246, 0.577]"
 */
static void
append_numbers(StringInfo buf, int32 successes, int32 count)
{
	StatsInterval interval = stats_wilson(successes, count, STATS_Z95);

	appendStringInfo(buf, "%d/%d successes, rate %.3f, Wilson 95%% interval [%.3f, %.3f]",
					 successes, count,
					 count > 0 ? (double) successes / (double) count : 0.0,
					 interval.lower, interval.upper);
}

/*
 * Text of decision_reason: the verdict, the numbers, the Wilson interval,
 * the rule and why the rule decided.
 */
static char *
decision_reason(const Experiment *e, const StatsRule *rule,
				StatsVerdict verdict, StatsVerdictReason why)
{
	StringInfoData buf;
	bool		promoted = (verdict == STATS_VERDICT_PROMOTE);

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s%s: ", promoted ? "promoted" : "rejected",
					 why == STATS_REASON_UNREACHABLE ? " early" : "");
	append_numbers(&buf, e->successes, e->sample_count);
	appendStringInfo(&buf, "; rule %s: ", e->rule);

	switch (why)
	{
		case STATS_REASON_SAMPLE_SIZE:
			if (rule->kind == STATS_RULE_WILSON)
				appendStringInfo(&buf, "Wilson lower bound %.3f %s confidence %g",
								 stats_wilson(e->successes, e->sample_count, STATS_Z95).lower,
								 promoted ? ">=" : "<", e->confidence);
			else
				appendStringInfo(&buf, "rate %.3f %s confidence %g",
								 (double) e->successes / (double) e->sample_count,
								 promoted ? ">=" : "<", e->confidence);
			break;
		case STATS_REASON_UNREACHABLE:
			appendStringInfo(&buf,
							 "%lld of %d successes needed (%s >= %g), at most %lld reachable",
							 (long long) rule->successes_needed, e->sample_size,
							 rule->kind == STATS_RULE_WILSON ? "Wilson lower bound" : "rate",
							 e->confidence,
							 (long long) (e->successes + (e->sample_size - e->sample_count)));
			break;
		case STATS_REASON_BOUNDARY:
			appendStringInfo(&buf,
							 "log-likelihood ratio %.3f %s boundary %.3f",
							 stats_sprt_llr(&rule->sprt, e->successes, e->sample_count),
							 promoted ? ">= upper" : "<= lower",
							 promoted ? rule->sprt.log_a : rule->sprt.log_b);
			break;
		case STATS_REASON_TRUNCATED:
			appendStringInfo(&buf,
							 "no boundary crossed by %lld samples (2 x sample size), log-likelihood ratio %.3f %s 0",
							 (long long) rule->max_samples,
							 stats_sprt_llr(&rule->sprt, e->successes, e->sample_count),
							 promoted ? ">" : "<=");
			break;
		case STATS_REASON_NONE:
			break;
	}
	if (rule->kind == STATS_RULE_SPRT)
		appendStringInfo(&buf, " (p0 %g against p1 %g, alpha %g, beta %g)",
						 rule->sprt.p0, rule->sprt.p1, e->sprt_alpha, e->sprt_beta);
	return buf.data;
}

/*
 * Record the verdict on the (locked) experiment row; a promotion raises
 * the proposer's threshold in the same transaction and starts the watch.
 */
static void
experiment_decide(Experiment *e, const StatsRule *rule, StatsVerdict verdict,
				  StatsVerdictReason why)
{
	bool		promoted = (verdict == STATS_VERDICT_PROMOTE);
	Datum		values[7];

	values[0] = UUIDPGetDatum(&e->id);
	values[1] = CStringGetTextDatum(promoted ? "promoted" : "rejected");
	values[2] = BoolGetDatum(promoted);
	values[3] = CStringGetTextDatum(ap_calling_role());
	values[4] = CStringGetTextDatum(decision_reason(e, rule, verdict, why));
	values[5] = Int32GetDatum(e->sample_count);
	values[6] = Int32GetDatum(e->successes);
	ap_execute(&decide_plan, values, NULL, false, 0);

	if (promoted)
	{
		values[0] = CStringGetTextDatum(e->proposer);
		values[1] = Float8GetDatum(e->new_threshold);
		ap_execute(&set_threshold_plan, values, NULL, false, 0);
	}

	strlcpy(e->status, promoted ? "promoted" : "rejected", sizeof(e->status));
	e->watching = promoted;
}

/*
 * Put the old threshold back after a failed watch or an abort, unless the
 * threshold was changed since the promotion.  Lock order: the experiment
 * row is already locked; the proposer row comes second.  Appends what was
 * done to buf.
 */
static void
experiment_restore_threshold(const Experiment *e, StringInfo buf)
{
	Datum		values[2];
	bool		isnull;
	double		current;

	values[0] = CStringGetTextDatum(e->proposer);
	ap_execute(&proposer_lock_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
	{
		appendStringInfoString(buf, "; the proposer no longer exists");
		return;
	}
	current = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	if (current != e->new_threshold)
	{
		appendStringInfo(buf, "; threshold left at %g: it was changed after the promotion",
						 current);
		return;
	}
	values[1] = Float8GetDatum(e->old_threshold);
	ap_execute(&set_threshold_plan, values, NULL, false, 0);
	appendStringInfo(buf, "; threshold restored to %g", e->old_threshold);
}

/*
 * The sequential watch of an experiment, from the parameters copied onto
 * its row.  Calibrating it is dynamic programming over the watch (O(n^2)
 * for n work orders), so the last one is remembered for the backend.
 */
static const StatsWatch *
experiment_watch(const Experiment *e)
{
	static StatsWatch cached;
	static bool cached_valid = false;

	if (cached_valid && cached.p_good == e->watch_p_good &&
		cached.p_bad == e->watch_p_bad && cached.alpha == e->watch_alpha &&
		cached.beta == e->watch_beta && cached.sample_size == e->sample_size)
		return &cached;
	cached_valid = false;
	if (stats_watch_init(&cached, e->watch_p_good, e->watch_p_bad,
						 e->watch_alpha, e->watch_beta, e->sample_size) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("threshold experiment of proposer \"%s\" has invalid watch parameters",
						e->proposer),
				 errdetail("Watch rule %s, rates %g and %g, alpha %g, beta %g, sample size %d.",
						   e->watch_rule, e->watch_p_good, e->watch_p_bad,
						   e->watch_alpha, e->watch_beta, e->sample_size)));
	cached_valid = true;
	return &cached;
}

/*
 * Apply the watch rule after a watched work order: keep the new threshold
 * or restore the old one when the watch reaches a verdict, else nothing.
 *
 *	 below_bar: at the end, keep when the rate is at least the confidence.
 *	 sprt: roll back as soon as the SPRT's boundary is reached; at the end,
 *		roll back when the successes are at most the calibrated final count.
 */
static void
experiment_watch_step(Experiment *e)
{
	StringInfoData buf;
	bool		kept;
	bool		early = false;
	const StatsWatch *watch = NULL;
	Datum		values[5];

	if (strcmp(e->watch_rule, "sprt") == 0)
	{
		StatsWatchVerdict verdict;

		watch = experiment_watch(e);
		verdict = stats_watch_decide(watch, e->watch_successes, e->watch_count);
		if (verdict == STATS_WATCH_CONTINUE)
			return;
		kept = (verdict == STATS_WATCH_KEEP);
		early = (verdict == STATS_WATCH_ROLL_BACK_EARLY);
	}
	else
	{
		if (e->watch_count < e->sample_size)
			return;
		kept = ((double) e->watch_successes / (double) e->watch_count >= e->confidence);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s after watch: ",
					 kept ? "kept" : early ? "rolled back early" : "rolled back");
	append_numbers(&buf, e->watch_successes, e->watch_count);
	if (watch == NULL)
		appendStringInfo(&buf, "; rate %s confidence %g", kept ? ">=" : "<", e->confidence);
	else
	{
		if (early)
			appendStringInfo(&buf,
							 "; watch rule sprt: log-likelihood ratio %.3f >= boundary %.3f after %d of %d work orders",
							 stats_watch_llr(watch, e->watch_successes, e->watch_count),
							 watch->log_upper, e->watch_count, e->sample_size);
		else
			appendStringInfo(&buf,
							 "; watch rule sprt: %d successes %s %lld, the largest count that rolls back at the end; no early boundary crossed",
							 e->watch_successes, kept ? ">" : "<=",
							 (long long) watch->final_max_successes);
		appendStringInfo(&buf,
						 " (rate %g against %g, alpha %g, beta %g; false-rollback rate %.3f at %g)",
						 watch->p_bad, watch->p_good, watch->alpha, watch->beta,
						 watch->error_at_good, watch->p_good);
	}
	if (!kept)
		experiment_restore_threshold(e, &buf);

	values[0] = UUIDPGetDatum(&e->id);
	values[1] = CStringGetTextDatum(kept ? "promoted" : "rolled_back");
	values[2] = CStringGetTextDatum(buf.data);
	values[3] = Int32GetDatum(e->watch_count);
	values[4] = Int32GetDatum(e->watch_successes);
	ap_execute(&end_watch_plan, values, NULL, false, 0);

	strlcpy(e->status, kept ? "promoted" : "rolled_back", sizeof(e->status));
	e->watching = false;
}

/*
 * A sum of stripes as a count column (sums are bounded by the caps plus
 * the work orders in flight; the clamp only guards the column type).
 */
static int32
count_of(int64 sum)
{
	return (int32) Max(Min(sum, (int64) PG_INT32_MAX), 0);
}

/*
 * Put the sums of the stripes (trial count, trial successes, watch count,
 * watch successes) in place of the counts of the experiment's phase: the
 * trial's while it runs, the watch's while it is watched (the trial's
 * counts of a watched experiment are those of its decision).
 */
static void
experiment_set_sums(Experiment *e, const int64 sums[4])
{
	if (strcmp(e->status, "running") == 0)
	{
		e->sample_count = count_of(sums[0]);
		e->successes = count_of(sums[1]);
	}
	else if (e->watching)
	{
		e->watch_count = count_of(sums[2]);
		e->watch_successes = count_of(sums[3]);
	}
}

/*
 * experiment_set_sums() with the sums in columns first .. first + 3 of row
 * `row` of the last SPI result.
 */
static void
experiment_apply_sums(uint64 row, int first, Experiment *e)
{
	HeapTuple	tuple = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	int64		sums[4];
	int			i;

	for (i = 0; i < 4; i++)
		sums[i] = DatumGetInt64(SPI_getbinval(tuple, desc, first + i, &isnull));
	experiment_set_sums(e, sums);
}

/*
 * Whether the experiment's rule reaches a verdict on its counts: a
 * decision of a running experiment, or the end of a watch.
 */
static bool
experiment_verdict_due(const Experiment *e)
{
	if (strcmp(e->status, "running") == 0)
	{
		StatsRule	rule;
		StatsVerdictReason why;

		experiment_rule(e, &rule);
		return stats_rule_decide(&rule, e->successes, e->sample_count, &why) !=
			STATS_VERDICT_CONTINUE;
	}
	if (!e->watching || e->watch_count <= 0)
		return false;
	if (strcmp(e->watch_rule, "sprt") == 0)
		return stats_watch_decide(experiment_watch(e), e->watch_successes,
								  e->watch_count) != STATS_WATCH_CONTINUE;
	return e->watch_count >= e->sample_size;
}

/*
 * Apply the rule to a locked experiment's counts: decide a running
 * experiment when the rule reaches a verdict, end a watch when its rule
 * does.  Returns whether it did.
 */
static bool
experiment_settle(Experiment *e)
{
	if (strcmp(e->status, "running") == 0)
	{
		StatsRule	rule;
		StatsVerdictReason why;
		StatsVerdict verdict;

		experiment_rule(e, &rule);
		verdict = stats_rule_decide(&rule, e->successes, e->sample_count, &why);
		if (verdict == STATS_VERDICT_CONTINUE)
			return false;
		experiment_decide(e, &rule, verdict, why);
		return true;
	}
	if (e->watching && e->watch_count > 0)
	{
		bool		was_watching = e->watching;

		experiment_watch_step(e);
		return was_watching && !e->watching;
	}
	return false;
}

/*
 * Lock an experiment (the caller may hold a stripe row of it: stripe, then
 * experiment), sum its stripes under a snapshot taken after the lock, and
 * settle it on those sums.  When seen is given, do nothing unless the
 * experiment is still in the phase the caller saw (running, or watched).
 * When write_counts, the sums are written into the row's count columns
 * also when no verdict is reached (the counts of the last evaluation).
 * Fills e with the experiment as it is afterwards; returns whether a
 * decision was taken or a watch ended.
 */
static bool
experiment_settle_locked(pg_uuid_t *id, const Experiment *seen,
						 bool write_counts, Experiment *e)
{
	Datum		value = UUIDPGetDatum(id);
	int32		row_counts[4];
	bool		settled;

	experiment_lock(id, e);
	if (seen != NULL &&
		(strcmp(e->status, seen->status) != 0 || e->watching != seen->watching))
		return false;
	if (strcmp(e->status, "running") != 0 && !e->watching)
		return false;

	row_counts[0] = e->sample_count;
	row_counts[1] = e->successes;
	row_counts[2] = e->watch_count;
	row_counts[3] = e->watch_successes;
	ap_execute(&sums_plan, &value, NULL, false, 1);
	if (SPI_processed != 1)
		elog(ERROR, "could not sum the counts of threshold experiment");
	experiment_apply_sums(0, 1, e);

	settled = experiment_settle(e);
	if (!settled && write_counts &&
		(row_counts[0] != e->sample_count || row_counts[1] != e->successes ||
		 row_counts[2] != e->watch_count || row_counts[3] != e->watch_successes))
	{
		Datum		values[5];

		values[0] = UUIDPGetDatum(&e->id);
		values[1] = Int32GetDatum(e->sample_count);
		values[2] = Int32GetDatum(e->successes);
		values[3] = Int32GetDatum(e->watch_count);
		values[4] = Int32GetDatum(e->watch_successes);
		ap_execute(&write_counts_plan, values, NULL, false, 0);
	}
	return settled;
}

/*
 * Count one result of a proposer in its experiment (trial or watch) when
 * the score is in the band, and decide when the sums reach a verdict.
 * Two statements when an experiment's band holds the score: read the
 * experiment and its counter rows (no lock), then add to this backend's
 * counter row unless the sums are already at the rule's cap.  Returns
 * false when no experiment counted it.  Needs an SPI connection.
 */
static bool
experiment_count(text *proposer, double score, bool was_success,
				 Experiment *e)
{
	Datum		values[4];
	TupleDesc	desc;
	Datum	   *columns;
	bool	   *nulls;
	int64		sums[4] = {0, 0, 0, 0};
	int64		cap;
	bool		running;
	int			phase;
	bool		counted = false;
	uint64		row;
	int			i;

	values[0] = PointerGetDatum(proposer);
	values[1] = Float8GetDatum(score);
	ap_execute(&find_plan, values, NULL, false, 0);
	if (SPI_processed == 0)
		return false;
	experiment_from_tuple(0, e);

	/*
	 * One pass over each row's attributes: the counters come after the
	 * experiment's text columns, so fetching them one by one would walk
	 * those columns again for each.
	 */
	desc = SPI_tuptable->tupdesc;
	columns = palloc(sizeof(Datum) * desc->natts);
	nulls = palloc(sizeof(bool) * desc->natts);
	for (row = 0; row < SPI_processed; row++)
	{
		heap_deform_tuple(SPI_tuptable->vals[row], desc, columns, nulls);
		if (row > 0 &&
			memcmp(DatumGetUUIDP(columns[COL_ID - 1]), &e->id, sizeof(pg_uuid_t)) != 0)
			elog(ERROR, "proposer \"%s\" has more than one open threshold experiment",
				 text_to_cstring(proposer));
		for (i = 0; i < 4; i++)
		{
			if (!nulls[COL_SUM_COUNT - 1 + i])
				sums[i] += DatumGetInt64(columns[COL_SUM_COUNT - 1 + i]);
		}
	}
	running = (strcmp(e->status, "running") == 0);
	phase = running ? 0 : 2;	/* the trial's sums, or the watch's */
	cap = running && strcmp(e->rule, "sprt") == 0 ?
		2 * (int64) e->sample_size : e->sample_size;

	if (sums[phase] < cap)
	{
		values[0] = UUIDPGetDatum(&e->id);
		values[1] = Int32GetDatum(ap_counter_stripe());
		values[2] = BoolGetDatum(!running);
		values[3] = BoolGetDatum(was_success);
		ap_execute(&add_plan, values, NULL, false, 0);
		if (SPI_processed == 0)
		{
			/* An experiment without counter rows (inserted by hand): add them. */
			Datum		stripe_values[2];

			stripe_values[0] = UUIDPGetDatum(&e->id);
			stripe_values[1] = Int32GetDatum(AP_COUNTER_STRIPES);
			ap_execute(&stripes_insert_plan, stripe_values, NULL, false, 0);
			ap_execute(&add_plan, values, NULL, false, 0);
		}
		counted = (SPI_processed == 1);
	}

	if (counted)
	{
		/* The sums were read before this call's own addition. */
		sums[phase] += 1;
		sums[phase + 1] += was_success ? 1 : 0;
	}
	experiment_set_sums(e, sums);

	/*
	 * The decision path: only when the rule may reach a verdict on the sums
	 * seen (a missed verdict is taken here too, by a call that finds the
	 * sums at the cap).
	 */
	if (experiment_verdict_due(e))
	{
		Experiment	seen = *e;

		(void) experiment_settle_locked(&seen.id, &seen, false, e);
	}
	return counted;
}

/*
 * Count a work order in its proposer's running experiment, or in the
 * watch after a promotion, when its score is in [old_threshold,
 * new_threshold].  Called by record_work_order inside its SPI connection,
 * after the window update (lock order: metrics row, stripe row, then
 * experiment row).  count->found says whether an experiment counted the
 * work order; its status is the experiment's status after the call.
 */
void
experiment_count_work_order(const WorkOrderFacts *facts, ExperimentCount *count)
{
	Experiment	e;

	count->found = false;
	if (!activity_experiments_open())
		return;
	count->found = experiment_count(facts->proposer, facts->score,
									facts->was_success, &e);
	if (count->found)
	{
		count->id = e.id;
		strlcpy(count->status, e.status, sizeof(count->status));
	}
}

/*
 * Settle every open experiment whose stripes reach a verdict (decisions
 * and watch endings that no counting call took), and write the sums of
 * the others into their rows' count columns.  Returns how many were
 * decided or ended their watch.  Needs an SPI connection; used by the
 * worker every cycle and by settle_threshold_experiments().
 */
int
experiments_settle_open(void)
{
	Experiment *open;
	bool	   *touch;
	uint64		n;
	uint64		i;
	int			settled = 0;

	ap_execute(&open_sums_plan, NULL, NULL, false, 0);
	n = SPI_processed;
	if (n == 0)
		return 0;
	open = palloc(sizeof(Experiment) * n);
	touch = palloc(sizeof(bool) * n);
	for (i = 0; i < n; i++)
	{
		Experiment	row;

		experiment_from_tuple(i, &row);
		open[i] = row;
		experiment_apply_sums(i, COL_SUM_COUNT, &open[i]);
		/* Lock only what has a verdict or counts to write. */
		touch[i] = experiment_verdict_due(&open[i]) ||
			row.sample_count != open[i].sample_count ||
			row.successes != open[i].successes ||
			row.watch_count != open[i].watch_count ||
			row.watch_successes != open[i].watch_successes;
	}
	for (i = 0; i < n; i++)
	{
		Experiment	e;

		if (touch[i] && experiment_settle_locked(&open[i].id, &open[i], true, &e))
			settled++;
	}
	return settled;
}

/* Argument checks specific to experiments. */

static int32
require_sample_size(FunctionCallInfo fcinfo, int argno)
{
	int32		value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("sample_size must not be NULL")));
	value = PG_GETARG_INT32(argno);
	if (value < 1 || value > EXPERIMENT_MAX_SAMPLE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sample_size must be between 1 and %d", EXPERIMENT_MAX_SAMPLE_SIZE),
				 errdetail("The value given was %d.", value)));
	return value;
}

static double
require_confidence(FunctionCallInfo fcinfo, int argno)
{
	double		value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("confidence must not be NULL")));
	value = PG_GETARG_FLOAT8(argno);
	if (isnan(value) || value <= 0.0 || value > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("confidence must be greater than 0 and at most 1"),
				 errdetail("The value given was %s.",
						   isnan(value) ? "NaN" : float8out_internal(value))));
	return value;
}

static pg_uuid_t *
require_experiment_id(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("experiment_id must not be NULL")));
	return PG_GETARG_UUID_P(argno);
}

/*
 * Lock an experiment by id and copy it; P0002 when there is none.
 */
static void
experiment_lock(pg_uuid_t *id, Experiment *e)
{
	Datum		value = UUIDPGetDatum(id);

	ap_execute(&lock_by_id_plan, &value, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("threshold experiment %s does not exist",
						DatumGetCString(DirectFunctionCall1(uuid_out, value)))));
	experiment_from_tuple(0, e);
}

/*
 * Start an experiment raising proposer's threshold to new_threshold.
 * When expected_current is given it must be the proposer's threshold.
 * Returns false (after a NOTICE) when the proposer already has an
 * experiment running or watched.  Needs an SPI connection.
 *
 * Locks, in the order decisions take them: the open experiment row if
 * there is one (then it returns), the new experiment row (the insert, which
 * relies on the unique partial index with ON CONFLICT DO NOTHING), then the
 * proposer row, so that the threshold cannot change until commit.  Holding
 * the proposer row while inserting could deadlock with a decision that
 * holds an experiment row and waits for the proposer row.
 */
static bool
experiment_start(text *proposer, const double *expected_current,
				 double new_threshold, int32 sample_size, double confidence,
				 pg_uuid_t *id)
{
	const char *name = text_to_cstring(proposer);
	StatsRuleKind kind;
	StatsRule	rule;
	const char *rule_name = decision_rule_name(ap_decision_rule);
	Datum		values[15];
	char		nulls[15];
	bool		sequential_watch = (ap_watch_rule == WATCH_RULE_SEQUENTIAL);
	bool		isnull;
	double		current;
	double		locked_current;
	bool		active;

	/* The rule in force now is the rule of this experiment for its life. */
	kind = rule_kind_of(rule_name);
	if (stats_rule_init(&rule, kind, confidence, sample_size, ap_sprt_delta,
						EXPERIMENT_SPRT_ALPHA, EXPERIMENT_SPRT_BETA) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence %g cannot be tested by the sequential test", confidence),
				 errdetail("adaptive_prompts.decision_rule is sprt, which tests confidence - %g against confidence + %g; both must lie strictly between 0 and 1.",
						   ap_sprt_delta, ap_sprt_delta)));
	if (kind != STATS_RULE_SPRT && rule.successes_needed > sample_size)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("confidence %g can never be reached with sample_size %d under decision rule %s",
						confidence, sample_size, rule_name),
				 errhint("Lower the confidence or raise the sample size.")));

	values[0] = PointerGetDatum(proposer);
	ap_execute(&proposer_read_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		proposer_raise_unknown(proposer);
	current = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	active = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										SPI_tuptable->tupdesc, 2, &isnull));

	ap_execute(&lock_open_plan, values, NULL, false, 1);
	if (SPI_processed > 0)
	{
		bool		watching = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		ereport(NOTICE,
				(errmsg("proposer \"%s\" already has a threshold experiment in progress; none started",
						name),
				 errdetail(watching ?
						   "Its promotion is being watched; a new experiment can start when the watch ends." :
						   "It is still collecting results."),
				 errhint("Wait for it to end, or stop it with abort_experiment().")));
		return false;
	}

	if (expected_current != NULL && *expected_current != current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("current (%g) is not the complexity threshold of proposer \"%s\" (%g)",
						*expected_current, name, current),
				 errhint("The threshold may have changed since the experiment was planned.")));
	if (new_threshold <= current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s (%g) must be above the current complexity threshold of proposer \"%s\" (%g)",
						expected_current != NULL ? "proposed" : "new_threshold",
						new_threshold, name, current)));

	memset(nulls, ' ', sizeof(nulls));
	values[1] = Float8GetDatum(current);
	values[2] = Float8GetDatum(new_threshold);
	values[3] = Int32GetDatum(sample_size);
	values[4] = Float8GetDatum(confidence);
	values[5] = CStringGetTextDatum(rule_name);
	values[6] = Float8GetDatum(ap_sprt_delta);
	values[7] = Float8GetDatum(EXPERIMENT_SPRT_ALPHA);
	values[8] = Float8GetDatum(EXPERIMENT_SPRT_BETA);
	if (kind != STATS_RULE_SPRT)
		nulls[6] = nulls[7] = nulls[8] = 'n';
	values[9] = CStringGetTextDatum(ap_calling_role());
	/* The watch's rule and parameters, also fixed for the experiment's life. */
	values[10] = CStringGetTextDatum(sequential_watch ? "sprt" : "below_bar");
	values[11] = Float8GetDatum(Min(confidence + WATCH_MARGIN_ABOVE, WATCH_RATE_MAX));
	values[12] = Float8GetDatum(Max(confidence - WATCH_MARGIN_BELOW, WATCH_RATE_MIN));
	values[13] = Float8GetDatum(WATCH_ALPHA);
	values[14] = Float8GetDatum(WATCH_BETA);
	if (!sequential_watch)
		nulls[11] = nulls[12] = nulls[13] = nulls[14] = 'n';
	ap_execute(&insert_plan, values, nulls, false, 0);
	if (SPI_processed != 1)
	{
		ereport(NOTICE,
				(errmsg("proposer \"%s\" already has a threshold experiment in progress; none started",
						name),
				 errhint("Wait for it to end, or stop it with abort_experiment().")));
		return false;
	}
	*id = *DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));

	/* Its striped counters (rows no other transaction can see yet). */
	{
		Datum		stripe_values[2];

		stripe_values[0] = UUIDPGetDatum(id);
		stripe_values[1] = Int32GetDatum(AP_COUNTER_STRIPES);
		ap_execute(&stripes_insert_plan, stripe_values, NULL, false, 0);
	}

	/* Hold the threshold still until commit; it must not have moved. */
	ap_execute(&proposer_lock_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		proposer_raise_unknown(proposer);
	locked_current = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	if (locked_current != current)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("the complexity threshold of proposer \"%s\" changed from %g to %g while the experiment was being started",
						name, current, locked_current),
				 errhint("Retry the call.")));

	if (!active)
		ereport(NOTICE,
				(errmsg("proposer \"%s\" is inactive: work orders are not routed to it",
						name),
				 errhint("Activate it with set_proposer_active() or register_proposer().")));
	return true;
}

/*
 * The result of propose_threshold_increase and run_threshold_experiment:
 * start the experiment (see experiment_start) and return its id, or NULL
 * when one was already in progress.
 */
static Datum
experiment_start_result(FunctionCallInfo fcinfo, text *proposer,
						const double *expected_current, double new_threshold,
						int32 sample_size, double confidence)
{
	pg_uuid_t	id;
	bool		started;
	pg_uuid_t  *result;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	started = experiment_start(proposer, expected_current, new_threshold,
							   sample_size, confidence, &id);
	SPI_finish();

	if (!started)
		PG_RETURN_NULL();
	result = palloc(sizeof(pg_uuid_t));
	*result = id;
	PG_RETURN_UUID_P(result);
}

/*
 * propose_threshold_increase(proposer_name, new_threshold, sample_size,
 * confidence) returns uuid: start an experiment from the proposer's
 * current threshold; NULL (with a NOTICE) when one is in progress.
 */
Datum
ap_propose_threshold_increase(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	double		new_threshold;
	int32		sample_size;
	double		confidence;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	new_threshold = ap_require_fraction(fcinfo, 1, "new_threshold");
	sample_size = require_sample_size(fcinfo, 2);
	confidence = require_confidence(fcinfo, 3);

	return experiment_start_result(fcinfo, proposer, NULL, new_threshold,
								   sample_size, confidence);
}

/*
 * run_threshold_experiment(proposer_name, current, proposed, sample_size,
 * confidence) returns uuid: the notes' weekly entry point.  Like
 * propose_threshold_increase, but refuses when current is not the
 * proposer's threshold (the plan was made on stale numbers).
 */
Datum
ap_run_threshold_experiment(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	double		current;
	double		proposed;
	int32		sample_size;
	double		confidence;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	current = ap_require_fraction(fcinfo, 1, "current");
	proposed = ap_require_fraction(fcinfo, 2, "proposed");
	sample_size = require_sample_size(fcinfo, 3);
	confidence = require_confidence(fcinfo, 4);
	if (proposed <= current)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("proposed (%g) must be above current (%g)", proposed, current)));

	return experiment_start_result(fcinfo, proposer, &current, proposed,
								   sample_size, confidence);
}

/*
 * record_experiment_result(proposer_name, complexity_score, was_success)
 * returns text: count one result for callers that do not report work
 * orders with record_work_order.  Returns the experiment's status after
 * the call, or NULL when no experiment counted the result.
 */
Datum
ap_record_experiment_result(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	double		score;
	bool		was_success;
	Experiment	e;
	text	   *result = NULL;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	score = ap_require_fraction(fcinfo, 1, "complexity_score");
	was_success = ap_require_bool(fcinfo, 2, "was_success");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (experiment_count(proposer, score, was_success, &e))
		result = (text *) SPI_datumTransfer(CStringGetTextDatum(e.status), false, -1);
	else
	{
		Datum		value = PointerGetDatum(proposer);

		ap_execute(&proposer_read_plan, &value, NULL, false, 1);
		if (SPI_processed != 1)
			proposer_raise_unknown(proposer);
	}
	SPI_finish();

	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/*
 * evaluate_experiment(experiment_id) returns text: apply the experiment's
 * rule to the sums of its stripes now (deciding if the rule reaches a
 * verdict, ending a complete watch; else writing the sums into the row's
 * count columns) and return its status.  Counting usually does this; this
 * takes a verdict that concurrent last callers missed.
 */
Datum
ap_evaluate_experiment(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	Experiment	e;
	text	   *result;

	AP_ENTER();
	id = require_experiment_id(fcinfo, 0);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	(void) experiment_settle_locked(id, NULL, true, &e);
	result = (text *) SPI_datumTransfer(CStringGetTextDatum(e.status), false, -1);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/*
 * abort_experiment(experiment_id, reason) returns void: stop a running
 * experiment (nothing changes but its status), or end the watch of a
 * promoted one, restoring the old threshold.  Decided experiments cannot
 * be aborted.
 */
Datum
ap_abort_experiment(PG_FUNCTION_ARGS)
{
	pg_uuid_t  *id;
	text	   *reason;
	Experiment	e;
	StringInfoData buf;
	Datum		values[7];

	AP_ENTER();
	id = require_experiment_id(fcinfo, 0);
	reason = ap_require_text(fcinfo, 1, "reason", EXPERIMENT_MAX_REASON_BYTES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	experiment_lock(id, &e);
	if (strcmp(e.status, "running") == 0 || e.watching)
	{
		/* The counts the abort records are the sums of the stripes. */
		values[0] = UUIDPGetDatum(&e.id);
		ap_execute(&sums_plan, values, NULL, false, 1);
		if (SPI_processed != 1)
			elog(ERROR, "could not sum the counts of threshold experiment");
		experiment_apply_sums(0, 1, &e);
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "aborted by %s: %s", ap_calling_role(),
					 text_to_cstring(reason));
	values[0] = UUIDPGetDatum(&e.id);
	values[1] = CStringGetTextDatum("aborted");

	if (strcmp(e.status, "running") == 0)
	{
		appendStringInfoString(&buf, "; after ");
		append_numbers(&buf, e.successes, e.sample_count);
		values[2] = BoolGetDatum(false);
		values[3] = CStringGetTextDatum(ap_calling_role());
		values[4] = CStringGetTextDatum(buf.data);
		values[5] = Int32GetDatum(e.sample_count);
		values[6] = Int32GetDatum(e.successes);
		ap_execute(&decide_plan, values, NULL, false, 0);
	}
	else if (e.watching)
	{
		resetStringInfo(&buf);
		appendStringInfo(&buf, "aborted during the watch by %s: %s; watch after ",
						 ap_calling_role(), text_to_cstring(reason));
		append_numbers(&buf, e.watch_successes, e.watch_count);
		experiment_restore_threshold(&e, &buf);
		values[1] = CStringGetTextDatum(buf.data);
		values[2] = Int32GetDatum(e.watch_count);
		values[3] = Int32GetDatum(e.watch_successes);
		ap_execute(&abort_watch_plan, values, NULL, false, 0);
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("threshold experiment of proposer \"%s\" is already %s",
						e.proposer, e.status),
				 errdetail("Only running experiments and promotions being watched can be aborted.")));

	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * settle_threshold_experiments() returns integer: settle every open
 * experiment on the sums of its stripes (see experiments_settle_open);
 * returns how many were decided or ended their watch.
 */
Datum
ap_settle_threshold_experiments(PG_FUNCTION_ARGS)
{
	int			settled;

	AP_ENTER();
	ap_require_writable("settle_threshold_experiments()");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	settled = experiments_settle_open();
	SPI_finish();
	PG_RETURN_INT32(settled);
}

/*
 * route_work_order(complexity_score, work_order_id) returns text: the
 * proposer that should take a work order.  work_order_id is checked but
 * does not change the answer yet (reserved for sticky routing); the answer
 * is a function of the score and the current proposers and experiments.
 */
Datum
ap_route_work_order(PG_FUNCTION_ARGS)
{
	Datum		score;
	bool		isnull;
	text	   *result;

	AP_ENTER();
	score = Float8GetDatum(ap_require_fraction(fcinfo, 0, "complexity_score"));
	(void) ap_optional_name(fcinfo, 1, "work_order_id");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ap_execute(&route_plan, &score, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("no active proposer to route to"),
				 errhint("Register one with register_proposer(name, complexity_threshold, cost_rank).")));
	result = (text *) SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1,
													  &isnull),
										false, -1);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}
