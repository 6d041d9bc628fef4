/*-------------------------------------------------------------------------
 *
 * improvement.c
 *	  Auto-improvement (SPEC 4.5, 5): runs that enqueue jobs, the job queue
 *	  as the background worker claims and finishes it, the application of
 *	  Claude's answers, cancel_job, worker_status, and the pg_cron
 *	  schedule.
 *
 * A job's life:
 *
 *	queued --claim--> running --answer--> done (outcome: version_created,
 *	   ^                 |                      kept_as_is, answer_rejected)
 *	   +---retryable-----+--not retryable, or max_attempts--> failed
 *	queued/running --cancel_job--> cancelled
 *
 * The claim counts the attempt and stores a fresh claim token; the answer
 * is written only while status = running and the token is the claim's, so
 * a cancelled job's answer is discarded and no job is applied twice.  Jobs
 * left running by a worker that stopped are requeued when the next one
 * starts (their attempt stays counted).
 *
 * An answer becomes a version of the code's enhancement, source auto:
 * pending_approval while fewer than adaptive_prompts.approvals_required
 * automatic texts have been approved by a person, otherwise testing (its
 * A/B test starts, or waits for the code's open test).  Under the code's
 * lock the live version is compared with the one the job was made from;
 * when a person (or a test's decision) changed it while the request was in
 * flight, the text waits for a person instead of starting a stale test.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <time.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

#include "anthropic.h"
#include "improvement.h"
#include "prompts.h"

PG_FUNCTION_INFO_V1(ap_run_auto_improvement);
PG_FUNCTION_INFO_V1(ap_schedule_auto_improvement);
PG_FUNCTION_INFO_V1(ap_unschedule_auto_improvement);
PG_FUNCTION_INFO_V1(ap_cancel_job);
PG_FUNCTION_INFO_V1(ap_worker_status);
PG_FUNCTION_INFO_V1(ap_check_worker_database);

/* Messages per job context (recent failures, samples). */
#define CONTEXT_MESSAGES 5

/* Longest cron schedule accepted. */
#define MAX_SCHEDULE_BYTES 200

/* Name of the pg_cron job of a database. */
#define CRON_JOB_NAME_PREFIX "adaptive_prompts auto-improvement in "

/* Runs ----------------------------------------------------------------- */

static ApPlan insert_run_plan = AP_PLAN(
	"INSERT INTO @extschema@.improvement_runs (trigger, started_by, failure_log_id)"
	" VALUES ($1, $2, (SELECT coalesce(pg_catalog.max(f.id), 0)"
	"                  FROM @extschema@.proposer_failures f))"
	" RETURNING id",
	TEXTOID, TEXTOID);

static ApPlan improve_candidates_plan = AP_PLAN(
	"SELECT a.error_code, pg_catalog.jsonb_build_object("
	"  'error_code', a.error_code, 'current_text', a.current_text,"
	"  'current_version', e.version, 'priority', e.priority,"
	"  'times_used', a.times_used, 'error_reduction_rate', a.error_reduction_rate,"
	"  'recent_failures', pg_catalog.to_jsonb(a.recent_failures), 'window', $1::text)"
	" FROM @extschema@.analyze_enhancement_effectiveness($1) a"
	" JOIN @extschema@.prompt_enhancements e ON e.error_code = a.error_code AND e.active"
	" WHERE a.times_used >= $2 AND a.error_reduction_rate < $3"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.improvement_jobs j"
	"                  WHERE j.error_code = a.error_code AND j.status IN ('queued', 'running'))"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.enhancement_versions v"
	"                  WHERE v.error_code = a.error_code"
	"                    AND v.status IN ('pending_approval', 'testing'))"
	" ORDER BY a.error_reduction_rate, a.times_used DESC, a.error_code",
	INTERVALOID, INT8OID, FLOAT8OID);

static ApPlan create_candidates_plan = AP_PLAN(
	"SELECT u.error_code, pg_catalog.jsonb_build_object("
	"  'error_code', u.error_code, 'occurrence_count', u.occurrence_count, 'window', $1::text,"
	"  'samples', coalesce((SELECT pg_catalog.jsonb_agg(s.message ORDER BY s.created_at DESC, s.id DESC)"
	"   FROM (SELECT m.value ->> 'message' AS message, r.created_at, r.id"
	"         FROM @extschema@.proposer_failures r,"
	"          pg_catalog.jsonb_array_elements(CASE WHEN pg_catalog.jsonb_typeof(r.error_samples) = 'array'"
	"                                          THEN r.error_samples ELSE '[]' END) AS m (value)"
	"         WHERE r.created_at > pg_catalog.now() - $1 AND u.error_code = ANY (r.error_codes)"
	"          AND pg_catalog.jsonb_typeof(m.value) = 'object'"
	"          AND m.value ->> 'code' = u.error_code AND m.value ->> 'message' IS NOT NULL"
	"         ORDER BY r.created_at DESC, r.id DESC LIMIT $3) s), '[]'::jsonb))"
	" FROM @extschema@.get_common_unaddressed_errors($2, $1) u"
	" ORDER BY u.occurrence_count DESC, u.error_code",
	INTERVALOID, INT4OID, INT4OID);

static ApPlan insert_job_plan = AP_PLAN(
	"INSERT INTO @extschema@.improvement_jobs (run_id, kind, error_code, context)"
	" VALUES ($1, $2, $3, $4)"
	" ON CONFLICT (error_code) WHERE status IN ('queued', 'running') DO NOTHING"
	" RETURNING id",
	INT8OID, TEXTOID, TEXTOID, JSONBOID);

static ApPlan finish_run_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_runs SET jobs_enqueued = $2, improve_jobs = $3,"
	" create_jobs = $4, jobs_skipped = $5,"
	" finished_at = CASE WHEN $2 = 0 THEN pg_catalog.now() END"
	" WHERE id = $1",
	INT8OID, INT4OID, INT4OID, INT4OID, INT4OID);

/* A run ends when the last of its jobs has. */
static ApPlan end_runs_plan = AP_PLAN_NO_ARGS(
	"UPDATE @extschema@.improvement_runs r SET finished_at = pg_catalog.now()"
	" WHERE r.finished_at IS NULL"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.improvement_jobs j"
	"                  WHERE j.run_id = r.id AND j.status IN ('queued', 'running'))");

/* The queue -------------------------------------------------------------- */

static ApPlan requeue_orphans_plan = AP_PLAN(
	"WITH requeued AS ("
	" UPDATE @extschema@.improvement_jobs"
	" SET status = CASE WHEN attempts >= $1 THEN 'failed' ELSE 'queued' END,"
	"  claim_token = NULL, next_attempt_at = pg_catalog.now(),"
	"  error_type = 'worker_restarted',"
	"  last_error = 'the worker stopped while the request of this job was in flight',"
	"  finished_at = CASE WHEN attempts >= $1 THEN pg_catalog.now() END"
	" WHERE status = 'running' RETURNING 1)"
	" SELECT pg_catalog.count(*)::pg_catalog.int4 FROM requeued",
	INT4OID);

#define TOKENS_TODAY_SQL \
	"(SELECT coalesce(pg_catalog.sum(coalesce(t.input_tokens, 0) + coalesce(t.output_tokens, 0)" \
	"  + coalesce(t.cache_creation_input_tokens, 0) + coalesce(t.cache_read_input_tokens, 0)), 0)::pg_catalog.int8" \
	" FROM @extschema@.improvement_jobs t" \
	" WHERE t.answered_at >= (pg_catalog.date_trunc('day', pg_catalog.now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'))"

static ApPlan queue_state_plan = AP_PLAN_NO_ARGS(
	"SELECT (SELECT pg_catalog.min(q.next_attempt_at) FROM @extschema@.improvement_jobs q"
	"        WHERE q.status = 'queued'), " TOKENS_TODAY_SQL);

static ApPlan claim_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs j"
	" SET status = 'running', attempts = j.attempts + 1,"
	"  claim_token = pg_catalog.gen_random_uuid(), model = $2,"
	"  started_at = coalesce(j.started_at, pg_catalog.now()), last_attempt_at = pg_catalog.now()"
	" FROM (SELECT q.id FROM @extschema@.improvement_jobs q"
	"       WHERE q.status = 'queued' AND q.next_attempt_at <= pg_catalog.now()"
	"       ORDER BY q.next_attempt_at, q.id LIMIT $1 FOR UPDATE SKIP LOCKED) c"
	" WHERE j.id = c.id"
	" RETURNING j.id, j.kind, j.error_code, j.claim_token::text, j.attempts,"
	"  j.context ->> 'current_text', j.context ->> 'current_version',"
	"  j.context ->> 'priority', j.context ->> 'times_used',"
	"  j.context ->> 'error_reduction_rate', j.context ->> 'occurrence_count',"
	"  ARRAY(SELECT pg_catalog.jsonb_array_elements_text("
	"         CASE WHEN pg_catalog.jsonb_typeof(j.context -> 'recent_failures') = 'array'"
	"         THEN j.context -> 'recent_failures' END)),"
	"  ARRAY(SELECT pg_catalog.jsonb_array_elements_text("
	"         CASE WHEN pg_catalog.jsonb_typeof(j.context -> 'samples') = 'array'"
	"         THEN j.context -> 'samples' END))",
	INT4OID, TEXTOID);

static ApPlan fail_invalid_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs SET status = 'failed', claim_token = NULL,"
	" error_type = 'invalid_job', last_error = $2, finished_at = pg_catalog.now()"
	" WHERE id = $1",
	INT8OID, TEXTOID);

static ApPlan lock_job_plan = AP_PLAN(
	"SELECT status, claim_token = $2::uuid FROM @extschema@.improvement_jobs"
	" WHERE id = $1 FOR UPDATE",
	INT8OID, TEXTOID);

/* Usage is recorded while the claim token is the job's, even if it was cancelled meanwhile. */
static ApPlan usage_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs SET input_tokens = $3, output_tokens = $4,"
	" cache_creation_input_tokens = $5, cache_read_input_tokens = $6,"
	" answered_at = pg_catalog.now(), request_id = coalesce($7, request_id)"
	" WHERE id = $1 AND claim_token = $2::uuid",
	INT8OID, TEXTOID, INT8OID, INT8OID, INT8OID, INT8OID, TEXTOID);

static ApPlan attempt_failed_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs SET status = $2, claim_token = NULL,"
	" next_attempt_at = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => $3),"
	" http_status = $4, error_type = $5, last_error = $6, request_id = coalesce($7, request_id),"
	" finished_at = CASE WHEN $2 = 'failed' THEN pg_catalog.now() END"
	" WHERE id = $1",
	INT8OID, TEXTOID, FLOAT8OID, INT4OID, TEXTOID, TEXTOID, TEXTOID);

static ApPlan job_done_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs SET status = 'done', claim_token = NULL,"
	" outcome = $2, outcome_reason = $3, result = $4, enhancement_version_id = $5,"
	" http_status = $6, stop_reason = $7, finished_at = pg_catalog.now()"
	" WHERE id = $1",
	INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT4OID, TEXTOID);

static ApPlan fail_after_error_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs"
	" SET status = CASE WHEN attempts >= $3 THEN 'failed' ELSE 'queued' END,"
	"  claim_token = NULL, error_type = 'internal_error', last_error = $4,"
	"  next_attempt_at = pg_catalog.clock_timestamp() + interval '10 seconds',"
	"  finished_at = CASE WHEN attempts >= $3 THEN pg_catalog.now() END"
	" WHERE id = $1 AND status = 'running' AND claim_token = $2::uuid",
	INT8OID, TEXTOID, INT4OID, TEXTOID);

/* Applying an answer ----------------------------------------------------- */

static ApPlan live_version_plan = AP_PLAN(
	"SELECT version, priority FROM @extschema@.enhancement_versions"
	" WHERE error_code = $1 AND status = 'active'",
	TEXTOID);

static ApPlan person_approvals_plan = AP_PLAN_NO_ARGS(
	"SELECT pg_catalog.count(*) FROM @extschema@.enhancement_versions"
	" WHERE source = 'auto' AND approved_at IS NOT NULL");

static ApPlan next_version_plan = AP_PLAN(
	"SELECT coalesce(pg_catalog.max(version), 0) + 1"
	" FROM @extschema@.enhancement_versions WHERE error_code = $1",
	TEXTOID);

static ApPlan insert_auto_version_plan = AP_PLAN(
	"INSERT INTO @extschema@.enhancement_versions"
	" (error_code, version, enhancement_text, priority, source, status, created_by,"
	"  decided_at, decided_by, decision_reason, job_id)"
	" VALUES ($1, $2, $3, $4, 'auto', $5, $6, pg_catalog.now(), $6, $7, $8)"
	" RETURNING id",
	TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID, TEXTOID, TEXTOID, INT8OID);

/* Triggers --------------------------------------------------------------- */

static ApPlan failures_since_run_plan = AP_PLAN(
	"SELECT pg_catalog.count(*) FROM ("
	" SELECT 1 FROM @extschema@.proposer_failures f"
	" WHERE f.id > coalesce((SELECT r.failure_log_id FROM @extschema@.improvement_runs r"
	"                        ORDER BY r.id DESC LIMIT 1), 0)"
	"  AND f.outcome = 'failure' LIMIT $1) s",
	INT8OID);

static ApPlan effectiveness_drop_plan = AP_PLAN(
	"SELECT EXISTS (SELECT 1 FROM @extschema@.analyze_enhancement_effectiveness($1) a"
	" WHERE a.times_used >= $2 AND a.error_reduction_rate < $3"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.improvement_jobs j"
	"                  WHERE j.error_code = a.error_code AND j.status IN ('queued', 'running'))"
	"  AND NOT EXISTS (SELECT 1 FROM @extschema@.enhancement_versions v"
	"                  WHERE v.error_code = a.error_code"
	"                    AND v.status IN ('pending_approval', 'testing')))",
	INTERVALOID, INT8OID, FLOAT8OID);

static ApPlan refresh_stats_plan = AP_PLAN_NO_ARGS(
	"SELECT @extschema@.refresh_enhancement_stats()");

/* cancel_job, worker_status ---------------------------------------------- */

static ApPlan job_status_plan = AP_PLAN(
	"SELECT status FROM @extschema@.improvement_jobs WHERE id = $1 FOR UPDATE",
	INT8OID);

static ApPlan cancel_plan = AP_PLAN(
	"UPDATE @extschema@.improvement_jobs SET status = 'cancelled',"
	" finished_at = pg_catalog.now(), cancelled_by = $2"
	" WHERE id = $1",
	INT8OID, TEXTOID);

static ApPlan status_counts_plan = AP_PLAN_NO_ARGS(
	"SELECT (SELECT r.started_at FROM @extschema@.improvement_runs r ORDER BY r.id DESC LIMIT 1),"
	" (SELECT r.trigger FROM @extschema@.improvement_runs r ORDER BY r.id DESC LIMIT 1),"
	" (SELECT pg_catalog.count(*) FROM @extschema@.improvement_jobs WHERE status = 'queued'),"
	" (SELECT pg_catalog.count(*) FROM @extschema@.improvement_jobs WHERE status = 'running'),"
	" (SELECT pg_catalog.count(*) FROM @extschema@.improvement_jobs WHERE status = 'failed'),"
	" " TOKENS_TODAY_SQL ","
	" (SELECT pg_catalog.concat('job ', j.id, ' (', j.error_code, '): ', j.error_type, ': ', j.last_error)"
	"  FROM @extschema@.improvement_jobs j WHERE j.status = 'failed'"
	"  ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT 1),"
	" (SELECT j.finished_at FROM @extschema@.improvement_jobs j WHERE j.status = 'failed'"
	"  ORDER BY j.finished_at DESC NULLS LAST, j.id DESC LIMIT 1)");

/* Wake the worker when the transaction that enqueued jobs commits. */
static bool wake_callback_registered = false;
static bool wake_at_commit = false;

static void
wake_worker_callback(XactEvent event, void *arg)
{
	(void) arg;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit)
				worker_wake();
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

static void
wake_worker_at_commit(void)
{
	if (!wake_callback_registered)
	{
		RegisterXactCallback(wake_worker_callback, NULL);
		wake_callback_registered = true;
	}
	wake_at_commit = true;
}

static Datum
analysis_window(void)
{
	return DirectFunctionCall3(interval_in, CStringGetDatum(AP_ANALYSIS_WINDOW),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static int64
column_int64(int row, int column, bool *isnull)
{
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
									   column, isnull));
}

/* A candidate job of a run. */
typedef struct Candidate
{
	bool		improve;
	text	   *error_code;
	Datum		context;
} Candidate;

/*
 * Read the candidates of one kind into *candidates (appended).
 */
static void
collect_candidates(ApPlan *plan, Datum *values, bool improve,
				   List **candidates)
{
	uint64		i;

	ap_execute(plan, values, NULL, true, 0);
	for (i = 0; i < SPI_processed; i++)
	{
		Candidate  *candidate = palloc(sizeof(Candidate));
		bool		isnull;
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		candidate->improve = improve;
		candidate->error_code = DatumGetTextPCopy(SPI_getbinval(tuple, desc, 1, &isnull));
		candidate->context = PointerGetDatum(PG_DETOAST_DATUM_COPY(SPI_getbinval(tuple, desc, 2, &isnull)));
		*candidates = lappend(*candidates, candidate);
	}
}

/*
 * One analysis run: record it, enqueue improve jobs (worst reduction
 * first), then create jobs (most frequent code first), at most
 * max_jobs_per_run, never a second open job for a code.  Puts (job_id,
 * kind, error_code) rows into store when it is not NULL.  SPI is
 * connected.  Returns the number of jobs enqueued.
 */
static int
improvement_run(const char *trigger, Tuplestorestate *store, TupleDesc desc)
{
	Datum		values[5];
	bool		isnull;
	int64		run_id;
	List	   *candidates = NIL;
	ListCell   *cell;
	int			enqueued = 0;
	int			improve_jobs = 0;
	int			create_jobs = 0;
	int			skipped = 0;

	values[0] = CStringGetTextDatum(trigger);
	values[1] = CStringGetTextDatum(ap_calling_role());
	ap_execute(&insert_run_plan, values, NULL, false, 0);
	run_id = column_int64(0, 1, &isnull);

	values[0] = analysis_window();
	values[1] = Int64GetDatum(AP_IMPROVE_MIN_USES);
	values[2] = Float8GetDatum(AP_IMPROVE_BELOW);
	collect_candidates(&improve_candidates_plan, values, true, &candidates);

	values[0] = analysis_window();
	values[1] = Int32GetDatum(AP_CREATE_MIN_OCCURRENCES);
	values[2] = Int32GetDatum(CONTEXT_MESSAGES);
	collect_candidates(&create_candidates_plan, values, false, &candidates);

	foreach(cell, candidates)
	{
		Candidate  *candidate = (Candidate *) lfirst(cell);
		const char *kind = candidate->improve ? "improve" : "create";
		int64		job_id;

		if (enqueued >= ap_max_jobs_per_run)
		{
			skipped++;
			continue;
		}
		values[0] = Int64GetDatum(run_id);
		values[1] = CStringGetTextDatum(kind);
		values[2] = PointerGetDatum(candidate->error_code);
		values[3] = candidate->context;
		ap_execute(&insert_job_plan, values, NULL, false, 0);
		if (SPI_processed == 0)
		{
			/* A concurrent run enqueued one for the code first. */
			skipped++;
			continue;
		}
		job_id = column_int64(0, 1, &isnull);
		enqueued++;
		if (candidate->improve)
			improve_jobs++;
		else
			create_jobs++;
		if (store != NULL)
		{
			Datum		row[3];
			bool		nulls[3] = {false, false, false};

			row[0] = Int64GetDatum(job_id);
			row[1] = CStringGetTextDatum(kind);
			row[2] = PointerGetDatum(candidate->error_code);
			tuplestore_putvalues(store, desc, row, nulls);
		}
	}

	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(enqueued);
	values[2] = Int32GetDatum(improve_jobs);
	values[3] = Int32GetDatum(create_jobs);
	values[4] = Int32GetDatum(skipped);
	ap_execute(&finish_run_plan, values, NULL, false, 0);

	if (enqueued > 0)
		wake_worker_at_commit();
	return enqueued;
}

/*
 * run_auto_improvement(trigger) returns table(job_id, kind, error_code):
 * one analysis run; the jobs it enqueued.  The worker is woken when the
 * transaction commits.
 */
Datum
ap_run_auto_improvement(PG_FUNCTION_ARGS)
{
	text	   *trigger_arg;
	char	   *trigger;
	Tuplestorestate *store;
	TupleDesc	tupdesc;

	AP_ENTER();
	trigger_arg = ap_require_name(fcinfo, 0, "trigger");
	trigger = text_to_cstring(trigger_arg);
	if (strcmp(trigger, "manual") != 0 && strcmp(trigger, "cron") != 0 &&
		strcmp(trigger, "failure_count") != 0 &&
		strcmp(trigger, "effectiveness_drop") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("trigger must be one of manual, cron, failure_count, effectiveness_drop"),
				 errdetail("The value given was \"%s\".", trigger)));
	PreventCommandIfReadOnly("run_auto_improvement()");

	store = prompts_begin_srf(fcinfo, &tupdesc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	improvement_run(trigger, store, tupdesc);
	SPI_finish();
	return (Datum) 0;
}

/*
 * cancel_job(id) returns boolean: cancel a queued or running job (the
 * answer of a running one is then discarded when it arrives).  False when
 * it was already cancelled; 55000 when it has ended otherwise.
 */
Datum
ap_cancel_job(PG_FUNCTION_ARGS)
{
	int64		id;
	Datum		values[2];
	char	   *status;

	AP_ENTER();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be NULL")));
	id = PG_GETARG_INT64(0);
	PreventCommandIfReadOnly("cancel_job()");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(id);
	ap_execute(&job_status_plan, values, NULL, false, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("improvement job %lld does not exist", (long long) id)));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (strcmp(status, "cancelled") == 0)
	{
		SPI_finish();
		PG_RETURN_BOOL(false);
	}
	if (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("improvement job %lld cannot be cancelled", (long long) id),
				 errdetail("Its status is %s; only queued and running jobs can be cancelled.",
						   status)));
	values[1] = CStringGetTextDatum(ap_calling_role());
	ap_execute(&cancel_plan, values, NULL, false, 0);
	ap_execute(&end_runs_plan, NULL, NULL, false, 0);
	SPI_finish();
	PG_RETURN_BOOL(true);
}

/*
 * worker_status() returns one row: the worker's pid (NULL when it is not
 * running), its state and database, the last run, the job counts, the
 * tokens used this UTC day and the last error.
 */
Datum
ap_worker_status(PG_FUNCTION_ARGS)
{
	Tuplestorestate *store;
	TupleDesc	tupdesc;
	Datum		row[13];
	bool		nulls[13];
	int			pid = 0;
	char		state[128];
	char		shared_error[512];
	int64		shared_error_at = 0;
	bool		preloaded;
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;
	int			i;

	AP_ENTER();
	store = prompts_begin_srf(fcinfo, &tupdesc);
	memset(nulls, 0, sizeof(nulls));
	shared_error[0] = '\0';

	preloaded = worker_status_snapshot(&pid, state, sizeof(state),
									   shared_error, sizeof(shared_error),
									   &shared_error_at);
	if (!preloaded)
		strlcpy(state, "not running: adaptive_prompts is not in shared_preload_libraries",
				sizeof(state));
	else if (pid == 0)
		strlcpy(state, "not running", sizeof(state));

	if (pid != 0)
		row[0] = Int32GetDatum(pid);
	else
		nulls[0] = true;
	row[1] = CStringGetTextDatum(state);
	if (preloaded && ap_worker_database != NULL)
		row[2] = CStringGetTextDatum(ap_worker_database);
	else
		nulls[2] = true;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	ap_execute(&status_counts_plan, NULL, NULL, true, 0);
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	/* last_run_at, last_run_trigger, queued, running, failed, tokens_today */
	for (i = 0; i < 6; i++)
	{
		row[3 + i] = SPI_getbinval(tuple, desc, i + 1, &isnull);
		nulls[3 + i] = isnull;
		if (!isnull && i == 1)
			row[3 + i] = PointerGetDatum(DatumGetTextPCopy(row[3 + i]));
	}
	row[9] = Int32GetDatum(ap_daily_token_budget);

	/* The newer of the worker's own last error and the last failed job. */
	{
		Datum		job_error = SPI_getbinval(tuple, desc, 7, &isnull);
		bool		job_error_null = isnull;
		Datum		job_error_at = SPI_getbinval(tuple, desc, 8, &isnull);
		bool		job_error_at_null = isnull;

		if (shared_error[0] != '\0' &&
			(job_error_null || job_error_at_null ||
			 shared_error_at > DatumGetTimestampTz(job_error_at)))
		{
			row[10] = CStringGetTextDatum(shared_error);
			row[11] = TimestampTzGetDatum((TimestampTz) shared_error_at);
		}
		else if (!job_error_null)
		{
			row[10] = PointerGetDatum(DatumGetTextPCopy(job_error));
			row[11] = job_error_at;
			nulls[11] = job_error_at_null;
		}
		else
		{
			nulls[10] = true;
			nulls[11] = true;
		}
	}
	row[12] = BoolGetDatum(preloaded && ap_worker_database != NULL &&
						   strcmp(ap_worker_database,
								  get_database_name(MyDatabaseId)) == 0);
	tuplestore_putvalues(store, tupdesc, row, nulls);
	SPI_finish();
	return (Datum) 0;
}

/*
 * Called at the end of CREATE EXTENSION: warn when the library is preloaded
 * but the worker serves another database, so jobs enqueued here would
 * wait forever.
 */
Datum
ap_check_worker_database(PG_FUNCTION_ARGS)
{
	char	   *here = get_database_name(MyDatabaseId);

	if (ap_worker_database != NULL && here != NULL &&
		strcmp(here, ap_worker_database) != 0)
		ereport(WARNING,
				(errmsg("the adaptive_prompts background worker does not serve database \"%s\"", here),
				 errdetail("It serves database \"%s\" (adaptive_prompts.database); improvement jobs enqueued here are not processed.",
						   ap_worker_database),
				 errhint("To have the worker serve this database, set adaptive_prompts.database = '%s' and restart the server.",
						 here)));
	PG_RETURN_VOID();
}

/* pg_cron ---------------------------------------------------------------- */

/*
 * The statement a pg_cron job runs: SELECT <schema>.run_auto_improvement('cron').
 */
static char *
cron_command(void)
{
	return psprintf("SELECT %s.run_auto_improvement('cron')",
					quote_identifier(ap_extension_schema_name()));
}

static char *
cron_job_name(void)
{
	return psprintf(CRON_JOB_NAME_PREFIX "%s", get_database_name(MyDatabaseId));
}

/*
 * Raise a clear error unless pg_cron can schedule a job from this
 * database: it must be preloaded, this must be cron.database_name, and the
 * extension must be installed here.  hint_statement is what to run in
 * cron.database_name instead.
 */
static void
require_cron_here(const char *hint_statement)
{
	const char *cron_database = GetConfigOption("cron.database_name", true, false);
	char	   *here = get_database_name(MyDatabaseId);

	if (cron_database == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron is not loaded"),
				 errdetail("Scheduling needs the pg_cron extension, which runs only from shared_preload_libraries."),
				 errhint("Add pg_cron to shared_preload_libraries, restart the server, run CREATE EXTENSION pg_cron in the database named by cron.database_name, and then run there: %s",
						 hint_statement)));
	if (strcmp(cron_database, here) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_cron schedules jobs from database \"%s\", not from \"%s\"",
						cron_database, here),
				 errhint("Connect to database \"%s\" and run: %s",
						 cron_database, hint_statement)));
	if (!OidIsValid(get_extension_oid("pg_cron", true)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pg_cron\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION pg_cron; then call this function again.")));
}

/*
 * schedule_auto_improvement(schedule) returns bigint: a pg_cron job (named
 * after this database) that runs run_auto_improvement('cron') on the
 * schedule; scheduling again changes the schedule.  Returns the job id.
 */
Datum
ap_schedule_auto_improvement(PG_FUNCTION_ARGS)
{
	text	   *schedule;
	char	   *command;
	char	   *name;
	char	   *hint;
	Oid			argtypes[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	bool		isnull;
	int64		job_id;

	AP_ENTER();
	schedule = ap_require_text(fcinfo, 0, "schedule", MAX_SCHEDULE_BYTES);
	command = cron_command();
	name = cron_job_name();
	hint = psprintf("SELECT cron.schedule_in_database(%s, %s, %s, %s);",
					quote_literal_cstr(name),
					quote_literal_cstr(text_to_cstring(schedule)),
					quote_literal_cstr(command),
					quote_literal_cstr(get_database_name(MyDatabaseId)));
	PreventCommandIfReadOnly("schedule_auto_improvement()");
	require_cron_here(hint);

	/*
	 * pg_cron's own function, called by name: it may have been created or
	 * dropped since the last call, so no plan is kept.
	 */
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(name);
	values[1] = PointerGetDatum(schedule);
	values[2] = CStringGetTextDatum(command);
	if (SPI_execute_with_args("SELECT cron.schedule($1, $2, $3)", 3, argtypes,
							  values, NULL, false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "cron.schedule returned no job id");
	job_id = column_int64(0, 1, &isnull);
	SPI_finish();
	PG_RETURN_INT64(job_id);
}

/*
 * unschedule_auto_improvement() returns boolean: remove this database's
 * pg_cron job; false when there was none.
 */
Datum
ap_unschedule_auto_improvement(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		removed;

	AP_ENTER();
	name = cron_job_name();
	PreventCommandIfReadOnly("unschedule_auto_improvement()");
	require_cron_here(psprintf("SELECT cron.unschedule(%s);", quote_literal_cstr(name)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = CStringGetTextDatum(name);
	if (SPI_execute_with_args("SELECT cron.unschedule(j.jobid) FROM cron.job j"
							  " WHERE j.jobname = $1 AND j.username = current_user",
							  1, argtypes, values, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "cron.unschedule failed");
	removed = SPI_processed > 0;
	SPI_finish();
	PG_RETURN_BOOL(removed);
}

/* The worker's side (improvement.h) ------------------------------------- */

/*
 * Jobs a stopped worker left running go back to the queue (or fail when
 * they have used every attempt).  Returns how many were requeued or failed.
 */
int
improvement_requeue_orphans(void)
{
	Datum		values[1];
	bool		isnull;
	int			count;

	values[0] = Int32GetDatum(ap_max_attempts);
	ap_execute(&requeue_orphans_plan, values, NULL, false, 0);
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	ap_execute(&end_runs_plan, NULL, NULL, false, 0);
	return count;
}

void
improvement_refresh_stats(void)
{
	ap_execute(&refresh_stats_plan, NULL, NULL, false, 0);
}

/*
 * Start a run with trigger failure_count when failure_trigger failures
 * were logged since the last run.
 */
void
improvement_check_failure_trigger(void)
{
	Datum		values[1];
	bool		isnull;
	int64		failures;

	values[0] = Int64GetDatum(ap_failure_trigger);
	ap_execute(&failures_since_run_plan, values, NULL, true, 0);
	failures = column_int64(0, 1, &isnull);
	if (failures >= ap_failure_trigger)
	{
		int			enqueued = improvement_run("failure_count", NULL, NULL);

		ereport(LOG,
				(errmsg("adaptive_prompts worker: %lld failures since the last run started a run that enqueued %d jobs",
						(long long) failures, enqueued)));
	}
}

/*
 * Start a run with trigger effectiveness_drop when an enhancement used
 * often enough reduces its code less than rewrite_below and nothing is in
 * progress for it.
 */
void
improvement_check_effectiveness_trigger(void)
{
	Datum		values[3];
	bool		isnull;

	values[0] = analysis_window();
	values[1] = Int64GetDatum(AP_IMPROVE_MIN_USES);
	values[2] = Float8GetDatum(ap_rewrite_below);
	ap_execute(&effectiveness_drop_plan, values, NULL, true, 0);
	if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)))
	{
		int			enqueued = improvement_run("effectiveness_drop", NULL, NULL);

		ereport(LOG,
				(errmsg("adaptive_prompts worker: an enhancement's error reduction fell below %g; a run enqueued %d jobs",
						ap_rewrite_below, enqueued)));
	}
}

/*
 * When the next queued job is due, and the tokens used today.
 */
void
improvement_queue_state(QueueState *queue)
{
	bool		isnull;
	Datum		next;

	ap_execute(&queue_state_plan, NULL, NULL, true, 0);
	next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	queue->has_next_due = !isnull;
	if (!isnull)
		queue->next_due = DatumGetTimestampTz(next);
	queue->tokens_today = column_int64(0, 2, &isnull);
	queue->over_budget = ap_daily_token_budget > 0 &&
		queue->tokens_today >= (int64) ap_daily_token_budget;
}

static char *
malloc_strdup(const char *s)
{
	char	   *copy = strdup(s);

	if (copy == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return copy;
}

/*
 * The elements of a text[] column as C strings.
 */
static const char **
column_strings(HeapTuple tuple, TupleDesc desc, int column, size_t *count)
{
	bool		isnull;
	Datum		value = SPI_getbinval(tuple, desc, column, &isnull);
	Datum	   *elements;
	bool	   *nulls;
	int			n;
	int			i;
	const char **strings;

	*count = 0;
	if (isnull)
		return NULL;
	deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT,
					  &elements, &nulls, &n);
	strings = palloc0(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
		strings[i] = nulls[i] ? NULL : TextDatumGetCString(elements[i]);
	*count = n;
	return strings;
}

static int64
parse_int64(const char *value, int64 otherwise)
{
	char	   *end;
	long long	parsed;

	if (value == NULL)
		return otherwise;
	errno = 0;
	parsed = strtoll(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0')
		return otherwise;
	return (int64) parsed;
}

/*
 * Claim up to wanted due jobs and build their request bodies.  A job whose
 * context cannot make a prompt fails at once (invalid_job).  Returns the
 * number of jobs filled in.
 */
int
improvement_claim(int wanted, ClaimedJob *jobs)
{
	Datum		values[2];
	uint64		i;
	int			claimed = 0;
	SPITupleTable *tuptable;
	uint64		rows;

	values[0] = Int32GetDatum(wanted);
	values[1] = CStringGetTextDatum(ap_model);
	ap_execute(&claim_plan, values, NULL, false, 0);
	tuptable = SPI_tuptable;
	rows = SPI_processed;

	for (i = 0; i < rows; i++)
	{
		HeapTuple	tuple = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		ClaimedJob *job = &jobs[claimed];
		bool		isnull;
		char	   *kind = SPI_getvalue(tuple, desc, 2);
		char	   *code = SPI_getvalue(tuple, desc, 3);
		char	   *prompt;
		const char *error = NULL;
		char	   *reduction;

		memset(job, 0, sizeof(*job));
		job->id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
		strlcpy(job->claim_token, SPI_getvalue(tuple, desc, 4), sizeof(job->claim_token));
		job->improve = strcmp(kind, "improve") == 0;
		job->attempts = DatumGetInt32(SPI_getbinval(tuple, desc, 5, &isnull));
		job->expected_live_version =
			(int32) parse_int64(SPI_getvalue(tuple, desc, 7), job->improve ? -1 : 0);
		job->priority = (int32) parse_int64(SPI_getvalue(tuple, desc, 8), 5);
		if (job->priority < 0 || job->priority > 100)
			job->priority = 5;

		if (job->improve)
		{
			AnthropicImprovePrompt input;

			memset(&input, 0, sizeof(input));
			input.error_code = code;
			input.current_text = SPI_getvalue(tuple, desc, 6);
			input.times_used = parse_int64(SPI_getvalue(tuple, desc, 9), 0);
			reduction = SPI_getvalue(tuple, desc, 10);
			input.error_reduction_rate = reduction != NULL ? strtod(reduction, NULL) : NAN;
			input.recent_failures = column_strings(tuple, desc, 12, &input.recent_failure_count);
			input.max_words = ap_max_enhancement_words;
			prompt = anthropic_improve_prompt(&input, &error);
		}
		else
		{
			AnthropicCreatePrompt input;

			memset(&input, 0, sizeof(input));
			input.error_code = code;
			input.occurrence_count = parse_int64(SPI_getvalue(tuple, desc, 11), -1);
			input.samples = column_strings(tuple, desc, 13, &input.sample_count);
			input.max_words = ap_max_enhancement_words;
			prompt = anthropic_create_prompt(&input, &error);
		}

		if (prompt != NULL)
		{
			job->body = anthropic_build_request(ap_model, ap_max_tokens, prompt, &error);
			free(prompt);
		}
		if (job->body == NULL)
		{
			Datum		fail[2];

			fail[0] = Int64GetDatum(job->id);
			fail[1] = CStringGetTextDatum(psprintf("no request could be built from the job's context: %s",
												   error != NULL ? error : "out of memory"));
			ap_execute(&fail_invalid_plan, fail, NULL, false, 0);
			worker_report_error(psprintf("job %lld (%s): invalid_job: %s", (long long) job->id, code,
										 error != NULL ? error : "out of memory"));
			continue;
		}
		job->error_code = malloc_strdup(code);
		claimed++;
	}
	if (claimed < (int) rows)
		ap_execute(&end_runs_plan, NULL, NULL, false, 0);
	return claimed;
}

void
improvement_claimed_job_free(ClaimedJob *job)
{
	free(job->error_code);
	free(job->body);
	job->error_code = NULL;
	job->body = NULL;
}

/* What the worker keeps of a parsed answer (palloc'd copies). */
typedef struct Answer
{
	bool		ok;
	char	   *text;
	AnthropicStopReason stop;
	char	   *stop_reason;
	int64		tokens[4];		/* input, output, cache creation, cache read */
	char	   *error_type;
	char	   *error_message;
	char	   *request_id;
} Answer;

static char *
pstrdup_or_null(const char *s)
{
	return s != NULL ? pstrdup(s) : NULL;
}

/*
 * Parse a response body into palloc'd memory; cJSON's allocations are
 * freed before anything can raise an error.
 */
static void
parse_answer(const HttpResult *result, Answer *answer)
{
	AnthropicResponse *response;

	response = anthropic_parse_response((int) result->http_status, result->body,
										result->body_length);
	if (response == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while parsing an API response")));
	answer->ok = response->ok;
	answer->text = pstrdup_or_null(response->text);
	answer->stop = response->stop;
	answer->stop_reason = pstrdup_or_null(response->stop_reason);
	answer->tokens[0] = response->input_tokens;
	answer->tokens[1] = response->output_tokens;
	answer->tokens[2] = response->cache_creation_input_tokens;
	answer->tokens[3] = response->cache_read_input_tokens;
	answer->error_type = pstrdup_or_null(response->error_type);
	answer->error_message = pstrdup_or_null(response->error_message);
	answer->request_id = pstrdup_or_null(response->request_id);
	anthropic_response_free(response);
}

static double
random_unit(void)
{
#if PG_VERSION_NUM >= 150000
	return pg_prng_double(&pg_global_prng_state);
#else
	return (double) random() / ((double) MAX_RANDOM_VALUE + 1.0);
#endif
}

/*
 * The answer text with surrounding white space removed (palloc'd).
 */
static char *
trimmed(const char *text)
{
	const char *start = text;
	const char *end = text + strlen(text);

	while (*start && isspace((unsigned char) *start))
		start++;
	while (end > start && isspace((unsigned char) end[-1]))
		end--;
	return pnstrdup(start, end - start);
}

/*
 * Store an accepted answer as a new automatic version of the code, under
 * the code's locks; returns its id.
 */
static int64
add_auto_version(ClaimedJob *job, const char *enhancement_text)
{
	text	   *code = cstring_to_text(job->error_code);
	AbOpenTest	test;
	Datum		values[8];
	bool		isnull;
	int32		live = 0;
	int32		priority = job->priority;
	int64		approvals;
	int32		version;
	bool		stale;
	const char *status;
	char	   *reason;
	int64		version_id;

	subject_lock_for_change(AB_KIND_ENHANCEMENT, code, &test);

	values[0] = PointerGetDatum(code);
	ap_execute(&live_version_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
	{
		live = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		priority = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	stale = live != job->expected_live_version;

	ap_execute(&person_approvals_plan, NULL, NULL, false, 1);
	approvals = column_int64(0, 1, &isnull);

	if (stale)
	{
		status = "pending_approval";
		if (job->improve)
			reason = psprintf("written by job %lld for version %d, but version %d is live now; waits for a person",
							  (long long) job->id, job->expected_live_version, live);
		else
			reason = psprintf("written by job %lld for a code without enhancement, but version %d is live now; waits for a person",
							  (long long) job->id, live);
	}
	else if (approvals >= ap_approvals_required)
	{
		status = "testing";
		reason = psprintf("written by job %lld; sent to testing: %lld automatic texts were approved by a person (approvals_required = %d)",
						  (long long) job->id, (long long) approvals, ap_approvals_required);
	}
	else
	{
		status = "pending_approval";
		reason = psprintf("written by job %lld; waits for a person: %lld of %d automatic texts approved so far",
						  (long long) job->id, (long long) approvals, ap_approvals_required);
	}

	ap_execute(&next_version_plan, values, NULL, false, 1);
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));

	values[1] = Int32GetDatum(version);
	values[2] = CStringGetTextDatum(enhancement_text);
	values[3] = Int32GetDatum(priority);
	values[4] = CStringGetTextDatum(status);
	values[5] = CStringGetTextDatum(ap_calling_role());
	values[6] = CStringGetTextDatum(reason);
	values[7] = Int64GetDatum(job->id);
	ap_execute(&insert_auto_version_plan, values, NULL, false, 0);
	version_id = column_int64(0, 1, &isnull);

	if (strcmp(status, "testing") == 0)
		enhancement_start_next_test(code);
	return version_id;
}

/*
 * Record a failed attempt: requeued after delay seconds while attempts
 * remain and retry is true, else failed.
 */
static void
attempt_failed(ClaimedJob *job, bool retry, double delay, long http_status,
			   const char *error_type, const char *message,
			   const char *request_id)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		requeue = retry && job->attempts < ap_max_attempts;

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(requeue ? "queued" : "failed");
	values[2] = Float8GetDatum(requeue ? delay : 0.0);
	values[3] = Int32GetDatum((int32) http_status);
	if (http_status == 0)
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(error_type);
	values[5] = CStringGetTextDatum(message != NULL ? message : "");
	if (request_id != NULL)
		values[6] = CStringGetTextDatum(request_id);
	else
		nulls[6] = 'n';
	ap_execute(&attempt_failed_plan, values, nulls, false, 0);

	if (requeue)
		ereport(LOG,
				(errmsg("adaptive_prompts worker: job %lld (%s) attempt %d failed (%s), retrying in %.1f s",
						(long long) job->id, job->error_code, job->attempts, error_type, delay)));
	else
	{
		ap_execute(&end_runs_plan, NULL, NULL, false, 0);
		ereport(LOG,
				(errmsg("adaptive_prompts worker: job %lld (%s) failed after %d attempts: %s: %s",
						(long long) job->id, job->error_code, job->attempts, error_type,
						message != NULL ? message : "")));
		worker_report_error(psprintf("job %lld (%s): %s: %s", (long long) job->id,
									 job->error_code, error_type,
									 message != NULL ? message : ""));
	}
}

/*
 * Write the outcome of one request: record the usage, then, while the
 * claim holds, requeue or fail the job, or apply the answer.
 */
void
improvement_apply_result(ClaimedJob *job, const HttpResult *result)
{
	Datum		values[8];
	char		nulls[8];
	bool		isnull;
	bool		holds;
	Answer		answer;
	const char *request_id = result->request_id;
	int			i;

	memset(&answer, 0, sizeof(answer));
	if (result->error == HTTP_OK)
	{
		parse_answer(result, &answer);
		if (request_id == NULL)
			request_id = answer.request_id;
	}

	/* Tokens were spent whatever happens to the job now. */
	if (answer.ok)
	{
		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(job->id);
		values[1] = CStringGetTextDatum(job->claim_token);
		for (i = 0; i < 4; i++)
		{
			values[2 + i] = Int64GetDatum(answer.tokens[i]);
			if (answer.tokens[i] == ANTHROPIC_TOKENS_UNKNOWN)
				nulls[2 + i] = 'n';
		}
		if (request_id != NULL)
			values[6] = CStringGetTextDatum(request_id);
		else
			nulls[6] = 'n';
		ap_execute(&usage_plan, values, nulls, false, 0);
	}

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(job->claim_token);
	ap_execute(&lock_job_plan, values, NULL, false, 1);
	holds = SPI_processed == 1 &&
		strcmp(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1), "running") == 0 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)) &&
		!isnull;
	if (!holds)
	{
		ereport(LOG,
				(errmsg("adaptive_prompts worker: the answer to job %lld (%s) was discarded because the job was cancelled or claimed again",
						(long long) job->id, job->error_code)));
		return;
	}

	if (result->error != HTTP_OK)
	{
		attempt_failed(job, http_error_is_transient(result->error),
					   anthropic_retry_delay(NULL, NULL, job->attempts - 1,
											 (double) time(NULL), random_unit()),
					   result->http_status, http_error_kind_name(result->error),
					   result->error_message, request_id);
		return;
	}
	if (!answer.ok)
	{
		attempt_failed(job,
					   anthropic_should_retry((int) result->http_status, false,
											  result->x_should_retry),
					   anthropic_retry_delay(result->retry_after_ms, result->retry_after,
											 job->attempts - 1, (double) time(NULL),
											 random_unit()),
					   result->http_status,
					   answer.error_type != NULL ? answer.error_type : ANTHROPIC_ERROR_HTTP,
					   answer.error_message, request_id);
		return;
	}

	/* An answer: decide what it leads to. */
	{
		char	   *text = trimmed(answer.text != NULL ? answer.text : "");
		const char *outcome;
		char	   *reason = NULL;
		int64		version_id = 0;
		int			words = anthropic_count_words(text);

		if (answer.stop == ANTHROPIC_STOP_MAX_TOKENS)
		{
			outcome = "answer_rejected";
			reason = psprintf("the answer was cut off at adaptive_prompts.max_tokens (%d)", ap_max_tokens);
		}
		else if (answer.stop == ANTHROPIC_STOP_REFUSAL)
		{
			outcome = "answer_rejected";
			reason = pstrdup("the model refused to answer (stop_reason refusal)");
		}
		else if (anthropic_answer_is_keep(text))
		{
			outcome = "kept_as_is";
			reason = pstrdup("the model answered KEEP_AS_IS");
		}
		else if (text[0] == '\0')
		{
			outcome = "answer_rejected";
			reason = pstrdup("the answer has no text");
		}
		else if (words > ap_max_enhancement_words)
		{
			outcome = "answer_rejected";
			reason = psprintf("the answer has %d words; the limit is %d (adaptive_prompts.max_enhancement_words)",
							  words, ap_max_enhancement_words);
		}
		else if (strlen(text) > AP_MAX_ENHANCEMENT_BYTES)
		{
			outcome = "answer_rejected";
			reason = psprintf("the answer has %zu bytes; the limit is %d", strlen(text),
							  AP_MAX_ENHANCEMENT_BYTES);
		}
		else
		{
			outcome = "version_created";
			version_id = add_auto_version(job, text);
		}

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(job->id);
		values[1] = CStringGetTextDatum(outcome);
		if (reason != NULL)
			values[2] = CStringGetTextDatum(reason);
		else
			nulls[2] = 'n';
		values[3] = CStringGetTextDatum(answer.text != NULL ? answer.text : "");
		values[4] = Int64GetDatum(version_id);
		if (version_id == 0)
			nulls[4] = 'n';
		values[5] = Int32GetDatum((int32) result->http_status);
		if (answer.stop_reason != NULL)
			values[6] = CStringGetTextDatum(answer.stop_reason);
		else
			nulls[6] = 'n';
		ap_execute(&job_done_plan, values, nulls, false, 0);
		ap_execute(&end_runs_plan, NULL, NULL, false, 0);
		ereport(LOG,
				(errmsg("adaptive_prompts worker: job %lld (%s) done: %s%s%s",
						(long long) job->id, job->error_code, outcome,
						reason != NULL ? ": " : "", reason != NULL ? reason : "")));
	}
}

/*
 * Writing a job's outcome raised an error (rolled back): requeue it while
 * attempts remain, else fail it, with the error message.
 */
void
improvement_fail_after_error(ClaimedJob *job, const char *message)
{
	Datum		values[4];

	values[0] = Int64GetDatum(job->id);
	values[1] = CStringGetTextDatum(job->claim_token);
	values[2] = Int32GetDatum(ap_max_attempts);
	values[3] = CStringGetTextDatum(message);
	ap_execute(&fail_after_error_plan, values, NULL, false, 0);
	ap_execute(&end_runs_plan, NULL, NULL, false, 0);
}
