/*-------------------------------------------------------------------------
 *
 * prompts.c
 *	  The prompt registry (versioned base prompts per proposer, at most one
 *	  active) and build_enhanced_prompt(), which puts a proposer's prompt
 *	  together with the live enhancements of the error codes it is likely
 *	  to make.
 *
 * get_active_prompt_version() and build_enhanced_prompt() only read, so
 * they run on a hot standby; during an A/B test they hand out the version
 * of the work order's arm (ab_tests.c).  Every change of the active
 * version is a row of version_history.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/uuid.h"

#include "prompts.h"

PG_FUNCTION_INFO_V1(ap_register_prompt_version);
PG_FUNCTION_INFO_V1(ap_activate_prompt_version);
PG_FUNCTION_INFO_V1(ap_rollback_prompt_version);
PG_FUNCTION_INFO_V1(ap_get_active_prompt_version);
PG_FUNCTION_INFO_V1(ap_start_prompt_test);
PG_FUNCTION_INFO_V1(ap_build_enhanced_prompt);

/*
 * The built-in prompt, version AP_DEFAULT_PROMPT_VERSION ("v1.0"), used
 * for a proposer that has no active version.
 */
const char *const ap_default_prompt =
"You are an expert TypeScript engineer. Write complete, correct TypeScript "
"that compiles under strict mode for the work order below. Keep the "
"existing structure and naming, declare types where inference is unclear, "
"and return only the code.";

/* Heading of the enhancements appended to a prompt. */
#define ENHANCEMENTS_HEADING "## Avoid these errors"

static ApPlan version_insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.prompt_versions"
	" (version, proposer_name, base_prompt, system_changes, created_by)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING RETURNING id",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID);

static ApPlan version_lookup_plan = AP_PLAN(
	"SELECT proposer_name, is_active FROM @extschema@.prompt_versions WHERE version = $1",
	TEXTOID);

static ApPlan active_version_plan = AP_PLAN(
	"SELECT version, replaced_version FROM @extschema@.prompt_versions"
	" WHERE proposer_name = $1 AND is_active",
	TEXTOID);

static ApPlan any_version_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.prompt_versions WHERE proposer_name = $1 LIMIT 1",
	TEXTOID);

static ApPlan deactivate_plan = AP_PLAN(
	"UPDATE @extschema@.prompt_versions SET is_active = false"
	" WHERE proposer_name = $1 AND is_active RETURNING version",
	TEXTOID);

static ApPlan activate_plan = AP_PLAN(
	"UPDATE @extschema@.prompt_versions SET is_active = true"
	" WHERE version = $1 AND proposer_name = $2",
	TEXTOID, TEXTOID);

static ApPlan activate_recording_plan = AP_PLAN(
	"UPDATE @extschema@.prompt_versions SET is_active = true,"
	" promoted_at = pg_catalog.now(), replaced_version = $3"
	" WHERE version = $1 AND proposer_name = $2",
	TEXTOID, TEXTOID, TEXTOID);

static ApPlan record_test_plan = AP_PLAN(
	"UPDATE @extschema@.prompt_versions SET test_sample_size = $2,"
	" test_success_rate = $3::pg_catalog.float8 / NULLIF($2, 0),"
	" test_avg_improvement = $4 / NULLIF($2, 0)"
	" WHERE version = $1",
	TEXTOID, INT4OID, INT8OID, FLOAT8OID);

static ApPlan proposer_exists_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.proposers WHERE name = $1",
	TEXTOID);

/* The version a work order gets: the active one, or a test's candidate. */
static ApPlan resolve_plan = AP_PLAN(
	"SELECT v.version, v.base_prompt, t.salt, c.version, c.base_prompt"
	" FROM (VALUES (1)) AS one (x)"
	" LEFT JOIN @extschema@.prompt_versions v ON v.proposer_name = $1 AND v.is_active"
	" LEFT JOIN @extschema@.ab_tests t"
	"   ON t.kind = 'prompt_version' AND t.subject = $1 AND t.status = 'running'"
	" LEFT JOIN @extschema@.prompt_versions c ON c.version = t.candidate",
	TEXTOID);

/*
 * The live enhancements (or a running test's candidate) of the given
 * codes, highest priority first, at most $2.  A code under test takes its
 * slot by the live version's priority (the candidate's for a new code), so
 * which codes get a slot does not depend on the arm.
 */
#define ENHANCEMENT_SLOTS_TAIL \
	" LEFT JOIN @extschema@.prompt_enhancements e ON e.error_code = c.code AND e.active" \
	" LEFT JOIN @extschema@.ab_tests t" \
	"   ON t.kind = 'enhancement' AND t.subject = c.code AND t.status = 'running'" \
	" LEFT JOIN @extschema@.enhancement_versions cv ON cv.id = t.candidate_version_id" \
	" WHERE e.error_code IS NOT NULL OR cv.id IS NOT NULL" \
	" ORDER BY coalesce(e.priority, cv.priority) DESC, c.ord, c.code COLLATE pg_catalog.\"C\"" \
	" LIMIT $2"

#define ENHANCEMENT_SLOTS_COLUMNS \
	"SELECT c.code, e.version, e.enhancement_text, t.salt, cv.version, cv.enhancement_text"

static ApPlan slots_for_codes_plan = AP_PLAN(
	ENHANCEMENT_SLOTS_COLUMNS
	" FROM (SELECT u.code, pg_catalog.min(u.ord) AS ord"
	"       FROM pg_catalog.unnest($1::pg_catalog.text[]) WITH ORDINALITY AS u (code, ord)"
	"       GROUP BY u.code) c"
	ENHANCEMENT_SLOTS_TAIL,
	TEXTARRAYOID, INT4OID);

static ApPlan slots_for_proposer_plan = AP_PLAN(
	ENHANCEMENT_SLOTS_COLUMNS
	" FROM (SELECT f.error_code AS code,"
	"        pg_catalog.row_number() OVER (ORDER BY f.occurrence_count DESC, f.error_code COLLATE pg_catalog.\"C\") AS ord"
	"       FROM @extschema@.proposer_frequent_codes f WHERE f.proposer_name = $1) c"
	ENHANCEMENT_SLOTS_TAIL,
	TEXTOID, INT4OID);

/*
 * Set up a materialized result set for a function returning a table.
 * Written out rather than InitMaterializedSRF() so that it builds on
 * PostgreSQL 13 and 14 too.
 */
Tuplestorestate *
prompts_begin_srf(FunctionCallInfo fcinfo, TupleDesc *tupdesc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext old_context;
	Tuplestorestate *store;
	TupleDesc	desc;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));

	old_context = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	desc = CreateTupleDescCopy(desc);
	store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	MemoryContextSwitchTo(old_context);

	*tupdesc = desc;
	return store;
}

/*
 * Look up a prompt version, raising 42704 when there is none.  Returns
 * whether it is active and, when proposer is not NULL, sets it to the
 * version's proposer.
 */
static bool
prompt_version_lookup(text *version, text **proposer)
{
	Datum		values[1];
	bool		isnull;

	values[0] = PointerGetDatum(version);
	ap_execute(&version_lookup_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("prompt version \"%s\" does not exist", text_to_cstring(version)),
				 errhint("Register it with register_prompt_version().")));
	if (proposer != NULL)
		*proposer = cstring_to_text(SPI_getvalue(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1));
	return DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 2, &isnull));
}

/*
 * Refuse to change a proposer's active version while a prompt test runs:
 * the test compares against the version active when it started.
 */
static void
refuse_during_test(const AbOpenTest *test, text *proposer, const char *what)
{
	if (test->found && !test->watching)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s while A/B test %lld of proposer \"%s\" is running",
						what, (long long) test->id, text_to_cstring(proposer)),
				 errhint("Wait for its decision, or stop it with abort_ab_test(%lld, reason).",
						 (long long) test->id)));
}

/*
 * Make version (NULL: none, the built-in default) the proposer's active
 * version; the caller holds the proposer's locks.  With record_replaced
 * the new version's replaced_version and promoted_at are set (activation,
 * promotion); a rollback leaves them, so rolling back again goes further
 * back.  Records the change in version_history and returns the version
 * that was active before (NULL: none).
 */
char *
prompt_version_make_active(text *proposer, const char *version,
						   bool record_replaced, const char *action,
						   int64 test_id, const char *reason)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	char	   *old_version = NULL;

	values[0] = PointerGetDatum(proposer);
	ap_execute(&deactivate_plan, values, NULL, false, 0);
	if (SPI_processed == 1)
		old_version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	if (version != NULL)
	{
		values[0] = CStringGetTextDatum(version);
		values[1] = PointerGetDatum(proposer);
		if (record_replaced)
		{
			if (old_version != NULL)
				values[2] = CStringGetTextDatum(old_version);
			else
				nulls[2] = 'n';
			ap_execute(&activate_recording_plan, values, nulls, false, 0);
		}
		else
			ap_execute(&activate_plan, values, NULL, false, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("prompt version \"%s\" of proposer \"%s\" was deleted by a concurrent transaction",
							version, text_to_cstring(proposer)),
					 errhint("Retry the call.")));
	}

	version_history_add(AB_KIND_PROMPT, proposer, old_version, version, action,
						test_id, reason);
	return old_version;
}

/*
 * Record a prompt test's numbers for the candidate on its prompt_versions
 * row (test_sample_size, test_success_rate, test_avg_improvement).
 */
void
prompt_version_record_test(const char *version, int64 work_orders,
						   int64 successes, double improvement_sum)
{
	Datum		values[4];

	values[0] = CStringGetTextDatum(version);
	values[1] = Int32GetDatum((int32) Min(work_orders, PG_INT32_MAX));
	values[2] = Int64GetDatum(successes);
	values[3] = Float8GetDatum(improvement_sum);
	ap_execute(&record_test_plan, values, NULL, false, 0);
}

/*
 * The prompt version a work order gets: a running test's arm, else the
 * active version, else the built-in default.  Read-only.
 */
static void
prompt_resolve(text *proposer, text *work_order_id, char **version,
			   char **base_prompt)
{
	Datum		values[1];
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		salt_null;
	Datum		salt;

	values[0] = PointerGetDatum(proposer);
	ap_execute(&resolve_plan, values, NULL, true, 1);
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;

	salt = SPI_getbinval(tuple, desc, 3, &salt_null);
	if (!salt_null && SPI_getvalue(tuple, desc, 4) != NULL &&
		ab_arm_is_candidate(DatumGetInt64(salt), work_order_id))
	{
		*version = SPI_getvalue(tuple, desc, 4);
		*base_prompt = SPI_getvalue(tuple, desc, 5);
		return;
	}

	*version = SPI_getvalue(tuple, desc, 1);
	*base_prompt = SPI_getvalue(tuple, desc, 2);
	if (*version != NULL)
		return;

	/* No active version: the built-in default, for a known proposer. */
	if (!ap_auto_register_proposers)
	{
		ap_execute(&proposer_exists_plan, values, NULL, true, 1);
		if (SPI_processed == 0)
			proposer_raise_unknown(proposer);
	}
	*version = pstrdup(AP_DEFAULT_PROMPT_VERSION);
	*base_prompt = pstrdup(ap_default_prompt);
}

/*
 * register_prompt_version(proposer_name, version, base_prompt,
 * system_changes, activate) returns uuid
 */
Datum
ap_register_prompt_version(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	text	   *version;
	text	   *base_prompt;
	text	   *system_changes = NULL;
	bool		activate;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	AbOpenTest	test;
	pg_uuid_t  *id;
	bool		isnull;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	version = ap_require_name(fcinfo, 1, "version");
	base_prompt = ap_require_text(fcinfo, 2, "base_prompt", AP_MAX_PROMPT_BYTES);
	if (!PG_ARGISNULL(3))
		system_changes = ap_require_text(fcinfo, 3, "system_changes",
										 AP_MAX_PROMPT_BYTES);
	activate = ap_require_bool(fcinfo, 4, "activate");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	proposer_ensure_registered(proposer);
	if (activate)
	{
		subject_lock_for_change(AB_KIND_PROMPT, proposer, &test);
		refuse_during_test(&test, proposer, "activate a prompt version");
	}

	values[0] = PointerGetDatum(version);
	values[1] = PointerGetDatum(proposer);
	values[2] = PointerGetDatum(base_prompt);
	values[3] = PointerGetDatum(system_changes);
	nulls[3] = system_changes ? ' ' : 'n';
	values[4] = CStringGetTextDatum(ap_calling_role());
	ap_execute(&version_insert_plan, values, nulls, false, 0);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("prompt version \"%s\" already exists", text_to_cstring(version)),
				 errdetail("Version names are unique across proposers."),
				 errhint("Name versions after the proposer, e.g. \"%s/v1.1\".",
						 text_to_cstring(proposer))));
	id = DatumGetUUIDP(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &isnull));
	id = (pg_uuid_t *) SPI_datumTransfer(UUIDPGetDatum(id), false, sizeof(pg_uuid_t));

	if (activate)
	{
		if (test.found)
			ab_end_watch_early(test.id, false,
							   psprintf("watch ended early: prompt version %s registered and activated by %s",
										text_to_cstring(version), ap_calling_role()));
		prompt_version_make_active(proposer, text_to_cstring(version), true,
								   "activated", 0,
								   psprintf("registered and activated by %s",
											ap_calling_role()));
	}
	SPI_finish();
	PG_RETURN_UUID_P(id);
}

/*
 * activate_prompt_version(version) returns void: make a version its
 * proposer's active version; the previous one is deactivated in the same
 * statement sequence, under the proposer's lock.
 */
Datum
ap_activate_prompt_version(PG_FUNCTION_ARGS)
{
	text	   *version;
	text	   *proposer;
	AbOpenTest	test;

	AP_ENTER();
	version = ap_require_name(fcinfo, 0, "version");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prompt_version_lookup(version, &proposer);

	subject_lock_for_change(AB_KIND_PROMPT, proposer, &test);
	refuse_during_test(&test, proposer, "activate a prompt version");

	/* Read again under the lock: a concurrent activation may have won. */
	if (prompt_version_lookup(version, NULL))
	{
		ereport(NOTICE,
				(errmsg("prompt version \"%s\" is already active",
						text_to_cstring(version))));
		SPI_finish();
		PG_RETURN_VOID();
	}

	if (test.found)
		ab_end_watch_early(test.id, false,
						   psprintf("watch ended early: prompt version %s activated by %s",
									text_to_cstring(version), ap_calling_role()));
	prompt_version_make_active(proposer, text_to_cstring(version), true,
							   "activated", 0,
							   psprintf("activated by %s", ap_calling_role()));
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * rollback_prompt_version(proposer_name) returns text: make the version
 * that the active one replaced active again ("v1.0", the built-in
 * default, when it replaced none) and return it.
 */
Datum
ap_rollback_prompt_version(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	Datum		values[1];
	AbOpenTest	test;
	char	   *active;
	char	   *target;
	char	   *reason;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	subject_lock_for_change(AB_KIND_PROMPT, proposer, &test);
	refuse_during_test(&test, proposer, "roll back the prompt version");

	values[0] = PointerGetDatum(proposer);
	ap_execute(&active_version_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
	{
		ap_execute(&any_version_plan, values, NULL, false, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("proposer \"%s\" has no prompt versions",
							text_to_cstring(proposer))));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("proposer \"%s\" has no active prompt version to roll back",
						text_to_cstring(proposer)),
				 errdetail("It uses the built-in default prompt %s.",
						   AP_DEFAULT_PROMPT_VERSION)));
	}
	active = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);

	reason = psprintf("rolled back manually by %s: %s replaced by %s", ap_calling_role(),
					  active, target ? target :
					  "the built-in default prompt " AP_DEFAULT_PROMPT_VERSION);
	if (test.found)
		ab_end_watch_early(test.id, true, reason);
	prompt_version_make_active(proposer, target, false, "rolled_back",
							   test.found ? test.id : 0, reason);
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(target ? target : AP_DEFAULT_PROMPT_VERSION));
}

/*
 * get_active_prompt_version(proposer_name, work_order_id) returns
 * table(version, base_prompt)
 */
Datum
ap_get_active_prompt_version(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	text	   *work_order_id;
	Tuplestorestate *store;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	   *version;
	char	   *base_prompt;

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	work_order_id = ap_optional_name(fcinfo, 1, "work_order_id");
	store = prompts_begin_srf(fcinfo, &tupdesc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prompt_resolve(proposer, work_order_id, &version, &base_prompt);
	values[0] = CStringGetTextDatum(version);
	values[1] = CStringGetTextDatum(base_prompt);
	tuplestore_putvalues(store, tupdesc, values, nulls);
	SPI_finish();
	return (Datum) 0;
}

/*
 * start_prompt_test(version, sample_size, salt) returns bigint: A/B test
 * a registered version against the proposer's active one (or the built-in
 * default), sample_size work orders per arm; returns the test's id.  salt
 * (NULL: random) fixes the arm assignment, for reproducible examples.
 */
Datum
ap_start_prompt_test(PG_FUNCTION_ARGS)
{
	text	   *version;
	int32		sample_size;
	text	   *proposer;
	Datum		values[1];
	AbOpenTest	test;
	char	   *incumbent = NULL;
	int64		test_id;
	int64		salt = 0;
	bool		has_salt = !PG_ARGISNULL(2);

	AP_ENTER();
	version = ap_require_name(fcinfo, 0, "version");
	sample_size = ap_require_count(fcinfo, 1, "sample_size");
	if (has_salt)
		salt = PG_GETARG_INT64(2);
	if (sample_size < 1 || sample_size > AP_MAX_SAMPLE_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("sample_size must be between 1 and %d", AP_MAX_SAMPLE_SIZE),
				 errdetail("The value given was %d.", sample_size)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prompt_version_lookup(version, &proposer);

	subject_lock_for_change(AB_KIND_PROMPT, proposer, &test);
	if (test.found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("proposer \"%s\" already has an open A/B test", text_to_cstring(proposer)),
				 errdetail(test.watching ?
						   "A/B test %lld promoted a version that is being watched." :
						   "A/B test %lld is running.", (long long) test.id),
				 errhint("Start the next test when it has ended.")));

	if (prompt_version_lookup(version, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("prompt version \"%s\" is already active", text_to_cstring(version)),
				 errhint("Test a version that is not active against the active one.")));

	values[0] = PointerGetDatum(proposer);
	ap_execute(&active_version_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
		incumbent = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	test_id = ab_start_test(AB_KIND_PROMPT, proposer, text_to_cstring(version),
							incumbent, 0, sample_size, has_salt ? &salt : NULL);
	prompt_version_record_test(text_to_cstring(version), 0, 0, 0.0);
	ereport(NOTICE,
			(errmsg("started A/B test %lld: prompt version %s against %s, %d work orders per arm",
					(long long) test_id, text_to_cstring(version),
					incumbent ? incumbent : "the built-in default " AP_DEFAULT_PROMPT_VERSION,
					sample_size)));
	SPI_finish();
	PG_RETURN_INT64(test_id);
}

/*
 * build_enhanced_prompt(proposer_name, error_codes, work_order_id) returns
 * table(prompt, version, used): the prompt version of the work order with
 * the enhancements of its codes appended, highest priority first, at most
 * adaptive_prompts.max_enhancements.  used lists CODE@N for each code
 * given a slot (N = 0: held out, the control arm of a new code's test).
 * Reads only, so it works on a hot standby.
 */
Datum
ap_build_enhanced_prompt(PG_FUNCTION_ARGS)
{
	text	   *proposer;
	ArrayType  *codes = NULL;
	text	   *work_order_id;
	Tuplestorestate *store;
	TupleDesc	tupdesc;
	char	   *version;
	char	   *base_prompt;
	StringInfoData prompt;
	Datum	   *used = NULL;
	int			used_count = 0;
	bool		heading_written = false;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	AP_ENTER();
	proposer = ap_require_name(fcinfo, 0, "proposer_name");
	if (!PG_ARGISNULL(1))
	{
		codes = PG_GETARG_ARRAYTYPE_P(1);
		ap_check_text_array(codes, "error_codes", AP_MAX_CODE_BYTES);
	}
	work_order_id = ap_optional_name(fcinfo, 2, "work_order_id");
	store = prompts_begin_srf(fcinfo, &tupdesc);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prompt_resolve(proposer, work_order_id, &version, &base_prompt);
	initStringInfo(&prompt);
	appendStringInfoString(&prompt, base_prompt);

	if (ap_max_enhancements > 0)
	{
		Datum		args[2];
		uint64		i;

		args[0] = codes ? PointerGetDatum(codes) : PointerGetDatum(proposer);
		args[1] = Int32GetDatum(ap_max_enhancements);
		ap_execute(codes ? &slots_for_codes_plan : &slots_for_proposer_plan,
				   args, NULL, true, 0);
		used = palloc(sizeof(Datum) * (SPI_processed + 1));
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *code = SPI_getvalue(tuple, desc, 1);
			char	   *live_version = SPI_getvalue(tuple, desc, 2);
			char	   *text_used = SPI_getvalue(tuple, desc, 3);
			char	   *version_used = live_version;
			bool		salt_null;
			Datum		salt = SPI_getbinval(tuple, desc, 4, &salt_null);

			if (!salt_null && ab_arm_is_candidate(DatumGetInt64(salt), work_order_id))
			{
				version_used = SPI_getvalue(tuple, desc, 5);
				text_used = SPI_getvalue(tuple, desc, 6);
			}
			if (version_used == NULL)
			{
				/* The control arm of a new code's test: held out. */
				used[used_count++] = CStringGetTextDatum(psprintf("%s@0", code));
				continue;
			}
			if (!heading_written)
			{
				appendStringInfoString(&prompt, "\n\n" ENHANCEMENTS_HEADING);
				heading_written = true;
			}
			appendStringInfo(&prompt, "\n\n### %s\n%s", code, text_used);
			used[used_count++] = CStringGetTextDatum(psprintf("%s@%s", code, version_used));
		}
	}

	values[0] = CStringGetTextDatum(prompt.data);
	values[1] = CStringGetTextDatum(version);
	values[2] = PointerGetDatum(construct_array(used, used_count, TEXTOID, -1,
												false, TYPALIGN_INT));
	tuplestore_putvalues(store, tupdesc, values, nulls);
	SPI_finish();
	return (Datum) 0;
}
