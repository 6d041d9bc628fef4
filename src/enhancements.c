/*-------------------------------------------------------------------------
 *
 * enhancements.c
 *	  Enhancements: the instruction per error code that is appended to
 *	  prompts, its versions and their lifecycle.
 *
 * Every text ever proposed or live is a row of enhancement_versions
 * (texts are never changed); prompt_enhancements holds the live one.
 *
 *	  set_enhancement      a person's text goes live at once (status
 *	                       active); the previous live one is retired
 *	  (worker)             an automatic text arrives as pending_approval
 *	                       or testing
 *	  approve_enhancement  pending_approval -> testing: an A/B test against
 *	                       the live version (or no enhancement) starts, or
 *	                       waits until the code's open test has ended
 *	  (A/B engine)         testing -> active (promoted; the old one is
 *	                       retired and the new one watched) or rejected;
 *	                       after the watch, active -> rolled_back and the
 *	                       previous version is live again
 *	  reject_enhancement   pending_approval/testing -> rejected
 *	  rollback_enhancement the live version -> rolled_back, the one it
 *	                       replaced is live again
 *
 * Every change of the live text is also a row of version_history.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "prompts.h"

PG_FUNCTION_INFO_V1(ap_set_enhancement);
PG_FUNCTION_INFO_V1(ap_approve_enhancement);
PG_FUNCTION_INFO_V1(ap_reject_enhancement);
PG_FUNCTION_INFO_V1(ap_rollback_enhancement);

#define PRIORITY_MIN 0
#define PRIORITY_MAX 100

static ApPlan next_version_plan = AP_PLAN(
	"SELECT coalesce(pg_catalog.max(version), 0) + 1"
	" FROM @extschema@.enhancement_versions WHERE error_code = $1",
	TEXTOID);

static ApPlan insert_version_plan = AP_PLAN(
	"INSERT INTO @extschema@.enhancement_versions"
	" (error_code, version, enhancement_text, priority, source, status, created_by)"
	" VALUES ($1, $2, $3, $4, 'manual', 'pending_approval', $5)",
	TEXTOID, INT4OID, TEXTOID, INT4OID, TEXTOID);

static ApPlan retire_live_plan = AP_PLAN(
	"UPDATE @extschema@.enhancement_versions"
	" SET status = $2, decided_at = pg_catalog.now(), decided_by = $3, decision_reason = $4"
	" WHERE error_code = $1 AND status = 'active' RETURNING version",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID);

static ApPlan make_live_plan = AP_PLAN(
	"UPDATE @extschema@.enhancement_versions"
	" SET status = 'active', decided_at = pg_catalog.now(), decided_by = $3,"
	" decision_reason = $4,"
	" replaced_version = CASE WHEN $5 THEN $6 ELSE replaced_version END"
	" WHERE error_code = $1 AND version = $2"
	" RETURNING enhancement_text, priority, source",
	TEXTOID, INT4OID, TEXTOID, TEXTOID, BOOLOID, INT4OID);

static ApPlan upsert_live_plan = AP_PLAN(
	"INSERT INTO @extschema@.prompt_enhancements AS e"
	" (error_code, enhancement_text, priority, active, source, version, last_updated)"
	" VALUES ($1, $2, $3, true, $4, $5, pg_catalog.now())"
	" ON CONFLICT (error_code) DO UPDATE SET enhancement_text = excluded.enhancement_text,"
	" priority = excluded.priority, active = true, source = excluded.source,"
	" version = excluded.version, last_updated = excluded.last_updated",
	TEXTOID, TEXTOID, INT4OID, TEXTOID, INT4OID);

static ApPlan clear_live_plan = AP_PLAN(
	"UPDATE @extschema@.prompt_enhancements SET active = false, last_updated = pg_catalog.now()"
	" WHERE error_code = $1",
	TEXTOID);

static ApPlan set_status_plan = AP_PLAN(
	"UPDATE @extschema@.enhancement_versions"
	" SET status = $2, decided_at = pg_catalog.now(), decided_by = $3, decision_reason = $4"
	" WHERE id = $1",
	INT8OID, TEXTOID, TEXTOID, TEXTOID);

static ApPlan approve_plan = AP_PLAN(
	"UPDATE @extschema@.enhancement_versions"
	" SET status = 'testing', approved_at = pg_catalog.now(), approved_by = $2,"
	" decided_at = pg_catalog.now(), decided_by = $2, decision_reason = $3"
	" WHERE id = $1 AND status = 'pending_approval'",
	INT8OID, TEXTOID, TEXTOID);

static ApPlan version_by_id_plan = AP_PLAN(
	"SELECT error_code, status, version FROM @extschema@.enhancement_versions WHERE id = $1",
	INT8OID);

static ApPlan live_version_plan = AP_PLAN(
	"SELECT version, replaced_version FROM @extschema@.enhancement_versions"
	" WHERE error_code = $1 AND status = 'active'",
	TEXTOID);

static ApPlan any_version_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.enhancement_versions WHERE error_code = $1 LIMIT 1",
	TEXTOID);

static ApPlan next_waiting_plan = AP_PLAN(
	"SELECT id, version FROM @extschema@.enhancement_versions"
	" WHERE error_code = $1 AND status = 'testing' ORDER BY id LIMIT 1",
	TEXTOID);

static ApPlan open_test_exists_plan = AP_PLAN(
	"SELECT id FROM @extschema@.ab_tests"
	" WHERE kind = 'enhancement' AND subject = $1 AND status IN ('running', 'watching')",
	TEXTOID);

static ApPlan abort_candidate_test_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET status = 'aborted', decided_at = pg_catalog.now(),"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $2)"
	" WHERE id = $1 AND status = 'running'",
	INT8OID, TEXTOID);

/*
 * A required error code: a name of at most AP_MAX_CODE_BYTES without '@'
 * (which separates the code from the version in CODE@N) or white space.
 */
static text *
require_error_code(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	text	   *code = ap_require_text(fcinfo, argno, argname, AP_MAX_CODE_BYTES);
	const char *data = VARDATA_ANY(code);
	int			len = VARSIZE_ANY_EXHDR(code);
	int			i;

	for (i = 0; i < len; i++)
	{
		if (data[i] == '@' || data[i] == ' ' || data[i] == '\t' ||
			data[i] == '\n' || data[i] == '\r')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain \"@\" or white space", argname),
					 errdetail("The value given was \"%.*s\".", len, data)));
	}
	return code;
}

/*
 * A required enhancement_version_id.
 */
static int64
require_version_id(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("enhancement_version_id must not be NULL")));
	return PG_GETARG_INT64(argno);
}

/*
 * Read an enhancement version's code and status; P0002 if there is none.
 */
static void
version_by_id(int64 id, text **error_code, char **status)
{
	Datum		values[1];

	values[0] = Int64GetDatum(id);
	ap_execute(&version_by_id_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("enhancement version %lld does not exist", (long long) id)));
	if (error_code)
		*error_code = cstring_to_text(SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1));
	*status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
}

/*
 * Refuse to change a code's live text while an A/B test of the code runs:
 * the test compares against the text live when it started.
 */
static void
refuse_during_test(const AbOpenTest *test, text *error_code, const char *what)
{
	if (test->found && !test->watching)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s while A/B test %lld of %s is running",
						what, (long long) test->id, text_to_cstring(error_code)),
				 errhint("Wait for its decision, or stop it with abort_ab_test(%lld, reason) or reject_enhancement(%lld, reason).",
						 (long long) test->id, (long long) test->candidate_version_id)));
}

static char *
version_label(int32 version)
{
	return version > 0 ? psprintf("%d", version) : NULL;
}

/*
 * Make version (0: none) the live text of a code; the caller holds the
 * code's locks.  The version live before gets replaced_status ('retired'
 * or 'rolled_back').  With record_replaced the new live version remembers
 * which one it replaced (for rollback_enhancement); a restore leaves that.
 * The reason is recorded on both rows and in version_history.  Returns the
 * version live before (0: none).
 */
int32
enhancement_make_live(text *error_code, int32 version,
					  const char *replaced_status, bool record_replaced,
					  const char *action, int64 test_id, const char *reason)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	int32		old_version = 0;
	char	   *role = ap_calling_role();
	bool		isnull;

	values[0] = PointerGetDatum(error_code);
	values[1] = CStringGetTextDatum(replaced_status);
	values[2] = CStringGetTextDatum(role);
	values[3] = CStringGetTextDatum(reason);
	ap_execute(&retire_live_plan, values, NULL, false, 0);
	if (SPI_processed == 1)
		old_version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));

	if (version > 0)
	{
		Datum		live[5];
		HeapTuple	tuple;
		TupleDesc	desc;

		values[1] = Int32GetDatum(version);
		values[2] = CStringGetTextDatum(role);
		values[3] = CStringGetTextDatum(reason);
		values[4] = BoolGetDatum(record_replaced);
		values[5] = Int32GetDatum(old_version);
		nulls[5] = old_version > 0 ? ' ' : 'n';
		ap_execute(&make_live_plan, values, nulls, false, 0);
		if (SPI_processed != 1)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("version %d of the enhancement of error code \"%s\" was deleted by a concurrent transaction",
							version, text_to_cstring(error_code)),
					 errhint("Retry the call.")));
		tuple = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;

		live[0] = PointerGetDatum(error_code);
		live[1] = SPI_getbinval(tuple, desc, 1, &isnull);
		live[2] = SPI_getbinval(tuple, desc, 2, &isnull);
		live[3] = SPI_getbinval(tuple, desc, 3, &isnull);
		live[4] = Int32GetDatum(version);
		ap_execute(&upsert_live_plan, live, NULL, false, 0);
	}
	else
		ap_execute(&clear_live_plan, values, NULL, false, 0);

	version_history_add(AB_KIND_ENHANCEMENT, error_code, version_label(old_version),
						version_label(version), action, test_id, reason);
	return old_version;
}

/*
 * Set the status of an enhancement version with who and why.
 */
void
enhancement_set_status(int64 enhancement_version_id, const char *status,
					   const char *reason)
{
	Datum		values[4];

	values[0] = Int64GetDatum(enhancement_version_id);
	values[1] = CStringGetTextDatum(status);
	values[2] = CStringGetTextDatum(ap_calling_role());
	values[3] = CStringGetTextDatum(reason);
	ap_execute(&set_status_plan, values, NULL, false, 0);
}

/*
 * Start the A/B test of the oldest version of a code that waits in
 * 'testing', unless a test of the code is open.  The caller holds the
 * code's locks.  Returns the new test's id, 0 if none was started.
 */
int64
enhancement_start_next_test(text *error_code)
{
	return enhancement_start_next_test_salted(error_code, NULL);
}

/*
 * The same, with the new test's salt given (NULL: random).
 */
int64
enhancement_start_next_test_salted(text *error_code, const int64 *fixed_salt)
{
	Datum		values[1];
	int64		candidate_id;
	int32		candidate;
	char	   *incumbent = NULL;
	bool		isnull;

	values[0] = PointerGetDatum(error_code);
	ap_execute(&open_test_exists_plan, values, NULL, false, 1);
	if (SPI_processed > 0)
		return 0;
	ap_execute(&next_waiting_plan, values, NULL, false, 1);
	if (SPI_processed == 0)
		return 0;
	candidate_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	candidate = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 2, &isnull));

	ap_execute(&live_version_plan, values, NULL, false, 1);
	if (SPI_processed == 1)
		incumbent = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

	return ab_start_test(AB_KIND_ENHANCEMENT, error_code,
						 psprintf("%d", candidate), incumbent, candidate_id,
						 ap_ab_sample_size, fixed_salt);
}

/*
 * set_enhancement(error_code, enhancement_text, priority) returns int: a
 * person's text goes live at once as a new version; returns its number.
 */
Datum
ap_set_enhancement(PG_FUNCTION_ARGS)
{
	text	   *error_code;
	text	   *enhancement_text;
	int32		priority;
	Datum		values[5];
	AbOpenTest	test;
	int32		version;
	bool		isnull;
	char	   *reason;

	AP_ENTER();
	error_code = require_error_code(fcinfo, 0, "error_code");
	enhancement_text = ap_require_text(fcinfo, 1, "enhancement_text",
									   AP_MAX_ENHANCEMENT_BYTES);
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("priority must not be NULL")));
	priority = PG_GETARG_INT32(2);
	if (priority < PRIORITY_MIN || priority > PRIORITY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("priority must be between %d and %d", PRIORITY_MIN, PRIORITY_MAX),
				 errdetail("The value given was %d.", priority)));

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	subject_lock_for_change(AB_KIND_ENHANCEMENT, error_code, &test);
	refuse_during_test(&test, error_code, "set the enhancement");

	values[0] = PointerGetDatum(error_code);
	ap_execute(&next_version_plan, values, NULL, false, 1);
	version = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	values[1] = Int32GetDatum(version);
	values[2] = PointerGetDatum(enhancement_text);
	values[3] = Int32GetDatum(priority);
	values[4] = CStringGetTextDatum(ap_calling_role());
	ap_execute(&insert_version_plan, values, NULL, false, 0);

	reason = psprintf("version %d set manually by %s", version, ap_calling_role());
	if (test.found)
		ab_end_watch_early(test.id, false, psprintf("watch ended early: %s", reason));
	enhancement_make_live(error_code, version, "retired", true, "set", 0, reason);
	if (test.found)
		enhancement_start_next_test(error_code);
	SPI_finish();
	PG_RETURN_INT32(version);
}

/*
 * approve_enhancement(enhancement_version_id) returns text: a person
 * approves a pending text for testing; its A/B test starts now, or when
 * the code's open test has ended.  Returns the new status.
 */
Datum
ap_approve_enhancement(PG_FUNCTION_ARGS)
{
	int64		id;
	text	   *error_code;
	char	   *status;
	AbOpenTest	test;
	Datum		values[3];
	int64		test_id;
	int64		salt = 0;
	bool		has_salt = !PG_ARGISNULL(1);

	AP_ENTER();
	id = require_version_id(fcinfo, 0);
	if (has_salt)
		salt = PG_GETARG_INT64(1);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	version_by_id(id, &error_code, &status);
	subject_lock_for_change(AB_KIND_ENHANCEMENT, error_code, &test);
	version_by_id(id, NULL, &status);
	if (strcmp(status, "pending_approval") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("enhancement version %lld is not pending approval", (long long) id),
				 errdetail("Its status is %s.", status)));
	if (has_salt && test.found)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot give a salt to an A/B test of %s that cannot start now",
						text_to_cstring(error_code)),
				 errdetail("A/B test %lld of the code is open; the test of this version would start when it ends.",
						   (long long) test.id),
				 errhint("Approve it without a salt.")));

	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(ap_calling_role());
	values[2] = CStringGetTextDatum(psprintf("approved for testing by %s", ap_calling_role()));
	ap_execute(&approve_plan, values, NULL, false, 0);

	test_id = enhancement_start_next_test_salted(error_code, has_salt ? &salt : NULL);
	if (test_id != 0)
		ereport(NOTICE,
				(errmsg("started A/B test %lld of enhancement %s",
						(long long) test_id, text_to_cstring(error_code))));
	else
		ereport(NOTICE,
				(errmsg("the A/B test of enhancement version %lld waits for the end of A/B test %lld of %s",
						(long long) id, (long long) test.id,
						text_to_cstring(error_code))));
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text("testing"));
}

/*
 * reject_enhancement(enhancement_version_id, reason) returns void: a
 * person rejects a pending or testing text; a running test of it is
 * aborted.
 */
Datum
ap_reject_enhancement(PG_FUNCTION_ARGS)
{
	int64		id;
	text	   *reason_arg;
	text	   *error_code;
	char	   *status;
	AbOpenTest	test;
	char	   *reason;

	AP_ENTER();
	id = require_version_id(fcinfo, 0);
	reason_arg = ap_require_text(fcinfo, 1, "reason", AP_MAX_REASON_BYTES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	version_by_id(id, &error_code, &status);
	subject_lock_for_change(AB_KIND_ENHANCEMENT, error_code, &test);
	version_by_id(id, NULL, &status);
	if (strcmp(status, "pending_approval") != 0 && strcmp(status, "testing") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("enhancement version %lld cannot be rejected", (long long) id),
				 errdetail("Its status is %s; only pending_approval and testing versions can be rejected.",
						   status),
				 strcmp(status, "active") == 0 ?
				 errhint("Use rollback_enhancement() to take a live text back.") : 0));

	reason = psprintf("rejected by %s: %s", ap_calling_role(),
					  text_to_cstring(reason_arg));
	if (test.found && !test.watching && test.candidate_version_id == id)
	{
		Datum		values[2];

		values[0] = Int64GetDatum(test.id);
		values[1] = CStringGetTextDatum(psprintf("aborted: candidate %s", reason));
		ap_execute(&abort_candidate_test_plan, values, NULL, false, 0);
	}
	enhancement_set_status(id, "rejected", reason);
	enhancement_start_next_test(error_code);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * rollback_enhancement(error_code) returns int: the live version is
 * rolled back and the one it replaced is live again; returns that
 * version's number (0: the code has no live enhancement now).
 */
Datum
ap_rollback_enhancement(PG_FUNCTION_ARGS)
{
	text	   *error_code;
	AbOpenTest	test;
	Datum		values[1];
	int32		live;
	int32		target = 0;
	bool		isnull;
	Datum		replaced;
	char	   *reason;

	AP_ENTER();
	error_code = require_error_code(fcinfo, 0, "error_code");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	subject_lock_for_change(AB_KIND_ENHANCEMENT, error_code, &test);
	refuse_during_test(&test, error_code, "roll back the enhancement");

	values[0] = PointerGetDatum(error_code);
	ap_execute(&live_version_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
	{
		ap_execute(&any_version_plan, values, NULL, false, 1);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("error code \"%s\" has no enhancement",
							text_to_cstring(error_code))));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("error code \"%s\" has no live enhancement to roll back",
						text_to_cstring(error_code))));
	}
	live = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
	replaced = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull)
		target = DatumGetInt32(replaced);

	reason = target > 0 ?
		psprintf("rolled back manually by %s: version %d replaced by version %d",
				 ap_calling_role(), live, target) :
		psprintf("rolled back manually by %s: version %d removed, no enhancement is live",
				 ap_calling_role(), live);
	if (test.found)
		ab_end_watch_early(test.id, true, reason);
	enhancement_make_live(error_code, target, "rolled_back", false, "rolled_back",
						  test.found ? test.id : 0, reason);
	if (test.found)
		enhancement_start_next_test(error_code);
	SPI_finish();
	PG_RETURN_INT32(target);
}
