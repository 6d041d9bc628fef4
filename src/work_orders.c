/*-------------------------------------------------------------------------
 *
 * work_orders.c
 *	  record_work_order(): the hot path that every work order goes through,
 *	  and complexity_band().
 *
 * One call: validate every argument (before anything is written), write the
 * idempotency ledger row first, update the (proposer, band) window and its
 * metrics, count the attempt in a running experiment, and log the work order
 * if it is a failure or falls in the sample.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "access/xact.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

#include "adaptive_prompts.h"
#include "retention.h"

PG_FUNCTION_INFO_V1(ap_complexity_band);
PG_FUNCTION_INFO_V1(ap_record_work_order);
PG_FUNCTION_INFO_V1(ap_purge_work_orders);

/* Argument positions of record_work_order. */
enum
{
	ARG_PROPOSER,
	ARG_SCORE,
	ARG_INITIAL_ERRORS,
	ARG_FINAL_ERRORS,
	ARG_STALLED,
	ARG_ERROR_CODES,
	ARG_ERROR_SAMPLES,
	ARG_PROMPT_VERSION,
	ARG_ENHANCEMENTS_USED,
	ARG_SANITIZER_CHANGES,
	ARG_WORK_ORDER_ID
};

/* Columns of work_order_result. */
enum
{
	RESULT_OUTCOME,
	RESULT_LOGGED,
	RESULT_BAND,
	RESULT_IMPROVEMENT_RATE,
	RESULT_WINDOW_ATTEMPTS,
	RESULT_WINDOW_SUCCESS_RATE,
	RESULT_EXPERIMENT_ID,
	RESULT_EXPERIMENT_STATUS,
	RESULT_DUPLICATE,
	RESULT_AUTO_REGISTERED,
	RESULT_NATTS
};

typedef enum Outcome
{
	OUTCOME_SUCCESS,
	OUTCOME_PARTIAL,
	OUTCOME_FAILURE
} Outcome;

static const char *const outcome_names[] = {"success", "partial", "failure"};

static const char *const band_labels[AP_BAND_COUNT] = {
	"0.0-0.1", "0.1-0.2", "0.2-0.3", "0.3-0.4", "0.4-0.5",
	"0.5-0.6", "0.6-0.7", "0.7-0.8", "0.8-0.9", "0.9-1.0"
};

/*
 * Every this many calls a backend purges up to twice as many expired ledger
 * rows, so purging outpaces recording.
 */
#define LEDGER_PURGE_EVERY 1024
#define LEDGER_PURGE_BATCH (2 * LEDGER_PURGE_EVERY)

/* Once a purge finds the ledger caught up, the next waits this long. */
#define LEDGER_PURGE_IDLE_USECS (60 * USECS_PER_SEC)

static ApPlan ledger_insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.work_orders"
	" (work_order_id, proposer_name, outcome, complexity_band, logged)"
	" VALUES ($1, $2, $3, $4, $5) ON CONFLICT (work_order_id) DO NOTHING",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID);

static ApPlan ledger_lookup_plan = AP_PLAN(
	"SELECT proposer_name, outcome, complexity_band, logged"
	" FROM @extschema@.work_orders WHERE work_order_id = $1",
	TEXTOID);

static ApPlan ledger_renew_plan = AP_PLAN(
	"UPDATE @extschema@.work_orders"
	" SET recorded_at = pg_catalog.now(), proposer_name = $2, outcome = $3,"
	" complexity_band = $4, logged = $5"
	" WHERE work_order_id = $1 AND recorded_at < $6",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, BOOLOID, TIMESTAMPTZOID);

/*
 * Planned for each cutoff: with the value known, the planner sees that few
 * or no rows are older and scans the BRIN index instead of the ledger.
 */
static ApPlan ledger_purge_plan = AP_PLAN_CUSTOM(
	"DELETE FROM @extschema@.work_orders WHERE ctid = ANY (ARRAY("
	" SELECT ctid FROM @extschema@.work_orders WHERE recorded_at < $1"
	" LIMIT $2 FOR UPDATE SKIP LOCKED))",
	TIMESTAMPTZOID, INT4OID);

static ApPlan exclusion_plan = AP_PLAN(
	"SELECT coalesce(array_agg(code ORDER BY ord) FILTER (WHERE NOT excluded), '{}'),"
	" coalesce(array_agg(code ORDER BY ord) FILTER (WHERE excluded), '{}')"
	" FROM (SELECT u.code, u.ord, EXISTS (SELECT 1 FROM @extschema@.sanitizer_error_map m"
	"  WHERE m.change = ANY ($2) AND m.error_code = u.code) AS excluded"
	"  FROM pg_catalog.unnest($1::text[]) WITH ORDINALITY AS u(code, ord)) s",
	TEXTARRAYOID, TEXTARRAYOID);

static ApPlan log_insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.proposer_failures"
	" (work_order_id, proposer_name, complexity_score, complexity_band,"
	"  initial_errors, final_errors, stalled, improvement_rate, outcome,"
	"  error_codes, excluded_error_codes, error_samples, prompt_version,"
	"  prompt_enhancements_used, sanitizer_changes, is_sampled_success, sample_rate)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
	TEXTOID, TEXTOID, FLOAT8OID, TEXTOID, INT4OID, INT4OID, BOOLOID,
		FLOAT8OID, TEXTOID, TEXTARRAYOID, TEXTARRAYOID, JSONBOID, TEXTOID,
	TEXTARRAYOID, TEXTARRAYOID, BOOLOID, FLOAT8OID);

/*
 * Band index of a score in [0, 1]: the score falls in [k/10, (k+1)/10) as
 * written in decimal.  k/10.0 is the double nearest to the decimal k/10, so
 * comparing with it (rather than trusting floor(score * 10)) puts 0.3 in
 * band 3 and 0.29999999999999993 in band 2.  1.0 belongs to the last band.
 */
int
complexity_band_index(double score)
{
	int			k = (int) floor(score * 10.0);

	if (k < 0)
		k = 0;
	if (k > AP_BAND_COUNT - 1)
		k = AP_BAND_COUNT - 1;
	if (k < AP_BAND_COUNT - 1 && score >= (double) (k + 1) / 10.0)
		k++;
	if (k > 0 && score < (double) k / 10.0)
		k--;
	return k;
}

/*
 * Label of a band index, e.g. "0.3-0.4".
 */
const char *
complexity_band_label(int band)
{
	Assert(band >= 0 && band < AP_BAND_COUNT);
	return band_labels[band];
}

/*
 * complexity_band(float8) returns text
 */
Datum
ap_complexity_band(PG_FUNCTION_ARGS)
{
	double		score = PG_GETARG_FLOAT8(0);

	ap_check_fraction(score, "complexity_score");
	PG_RETURN_TEXT_P(cstring_to_text(complexity_band_label(complexity_band_index(score))));
}

/*
 * (initial - final) / initial; for initial = 0, 1 when final = 0, else 0.
 */
static double
improvement_rate_of(int32 initial_errors, int32 final_errors)
{
	if (initial_errors > 0)
		return ((double) initial_errors - (double) final_errors) / (double) initial_errors;
	return final_errors == 0 ? 1.0 : 0.0;
}

/*
 * success: no errors left and not stalled; partial: not stalled, errors
 * left but more than half fixed; anything else is a failure.
 */
static Outcome
outcome_of(int32 final_errors, bool stalled, double improvement_rate)
{
	if (stalled)
		return OUTCOME_FAILURE;
	if (final_errors == 0)
		return OUTCOME_SUCCESS;
	if (improvement_rate > 0.5)
		return OUTCOME_PARTIAL;
	return OUTCOME_FAILURE;
}

/*
 * A required text[] argument: not NULL, and the rules of
 * ap_check_text_array.  Returns the number of elements.
 */
static int
require_text_array(FunctionCallInfo fcinfo, int argno, const char *argname,
				   int max_element_bytes)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname),
				 errhint("Pass an empty array, '{}', when there is nothing to report.")));
	return ap_check_text_array(PG_GETARG_ARRAYTYPE_P(argno), argname,
							   max_element_bytes);
}

/*
 * Split enhancements_used into (code, version) pairs.  Each element is a
 * bare code (version -1) or CODE@N with N of at most 9 digits, as
 * build_enhanced_prompt returns them; anything else raises 22P02.
 * Returns the number of elements.
 */
static int
parse_enhancements_used(ArrayType *array, UsedEnhancement **used)
{
	Datum	   *elements;
	int			count;
	int			i;

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elements, NULL, &count);
	*used = count > 0 ? palloc(sizeof(UsedEnhancement) * count) : NULL;
	for (i = 0; i < count; i++)
	{
		char	   *token = TextDatumGetCString(elements[i]);
		char	   *at = strchr(token, '@');
		int32		version = -1;

		if (at != NULL)
		{
			const char *digits = at + 1;
			size_t		digit_count = strlen(digits);

			if (at == token || digit_count < 1 || digit_count > 9 ||
				strspn(digits, "0123456789") != digit_count)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						 errmsg("invalid token in enhancements_used: \"%s\"", token),
						 errhint("Use the error code (TS2345) or CODE@N as returned by build_enhanced_prompt (TS2345@7).")));
			version = (int32) strtol(digits, NULL, 10);
			*at = '\0';
		}
		(*used)[i].code = token;
		(*used)[i].version = version;
	}
	return count;
}

/*
 * error_samples must be a JSON array of objects whose "code" and
 * "message" members, when present, are strings.
 */
static void
check_error_samples(Jsonb *samples)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken token;
	int			depth = 0;
	int			element = 0;
	bool		expect_value_of_string_key = false;
	const char *key_name = NULL;

	if (VARSIZE(samples) > AP_MAX_SAMPLES_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("error_samples is too large"),
				 errdetail("It has %zu bytes; the limit is %d.",
						   (size_t) VARSIZE(samples), AP_MAX_SAMPLES_BYTES)));
	if (!JB_ROOT_IS_ARRAY(samples) || JB_ROOT_IS_SCALAR(samples))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("error_samples must be a JSON array of objects"),
				 errhint("Example: '[{\"code\": \"TS2345\", \"message\": \"...\"}]'.")));
	if (JB_ROOT_COUNT(samples) > AP_MAX_SAMPLES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("error_samples has too many elements"),
				 errdetail("It has %u; the limit is %d.",
						   JB_ROOT_COUNT(samples), AP_MAX_SAMPLES)));

	it = JsonbIteratorInit(&samples->root);
	while ((token = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		switch (token)
		{
			case WJB_BEGIN_ARRAY:
			case WJB_BEGIN_OBJECT:
				if (depth == 1)
				{
					element++;
					if (token != WJB_BEGIN_OBJECT)
						goto not_object;
				}
				/* An object or array as the value of "code" or "message". */
				if (depth == 2 && expect_value_of_string_key)
					goto not_string;
				depth++;
				break;
			case WJB_END_ARRAY:
			case WJB_END_OBJECT:
				depth--;
				break;
			case WJB_ELEM:
				if (depth == 1)
				{
					element++;
					goto not_object;
				}
				break;
			case WJB_KEY:
				if (depth == 2)
				{
					expect_value_of_string_key =
						(v.val.string.len == 4 && memcmp(v.val.string.val, "code", 4) == 0) ||
						(v.val.string.len == 7 && memcmp(v.val.string.val, "message", 7) == 0);
					key_name = expect_value_of_string_key &&
						v.val.string.len == 4 ? "code" : "message";
				}
				break;
			case WJB_VALUE:
				if (depth == 2 && expect_value_of_string_key && v.type != jbvString)
					goto not_string;
				expect_value_of_string_key = false;
				break;
			default:
				break;
		}
	}
	return;

not_string:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("\"%s\" of element %d of error_samples must be a string",
					key_name, element)));

not_object:
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("error_samples must be a JSON array of objects"),
			 errdetail("Element %d is not an object.", element)));
}

/*
 * Uniform number in [0, 1) deciding whether a work order is logged.  With
 * an id the decision is a function of the id (same id, same decision on
 * any database); without one it is random.
 */
static double
sampling_draw(text *work_order_id)
{
	if (work_order_id != NULL)
		return ap_hash_unit(AP_SAMPLING_SALT, VARDATA_ANY(work_order_id),
							VARSIZE_ANY_EXHDR(work_order_id));
#if PG_VERSION_NUM >= 150000
	return pg_prng_double(&pg_global_prng_state);
#else
	return (double) random() / ((double) MAX_RANDOM_VALUE + 1.0);
#endif
}

/*
 * Ledger rows recorded before this time have expired.
 */
static TimestampTz
ledger_cutoff(void)
{
	return GetCurrentTransactionStartTimestamp() -
		(TimestampTz) ap_work_order_retention * USECS_PER_SEC;
}

/*
 * Delete a batch of ledger rows older than work_order_retention.
 */
static uint64
ledger_purge(int batch_size)
{
	Datum		values[2];

	values[0] = TimestampTzGetDatum(ledger_cutoff());
	values[1] = Int32GetDatum(batch_size);
	ap_execute(&ledger_purge_plan, values, NULL, false, 0);
	return SPI_processed;
}

/*
 * The same for the background worker, inside its transaction and SPI
 * connection.
 */
uint64
work_orders_purge_ledger(int batch_size)
{
	return ledger_purge(batch_size);
}

/*
 * Write the ledger row.  Returns true when this call is the first for the
 * id (or the earlier row had expired), false for a duplicate.
 */
static bool
ledger_claim(text *work_order_id, text *proposer, const char *outcome,
			 const char *band, bool logged)
{
	Datum		values[6];

	values[0] = PointerGetDatum(work_order_id);
	values[1] = PointerGetDatum(proposer);
	values[2] = CStringGetTextDatum(outcome);
	values[3] = CStringGetTextDatum(band);
	values[4] = BoolGetDatum(logged);
	ap_execute(&ledger_insert_plan, values, NULL, false, 0);
	if (SPI_processed == 1)
		return true;

	/* A row older than the retention no longer makes this a duplicate. */
	values[5] = TimestampTzGetDatum(ledger_cutoff());
	ap_execute(&ledger_renew_plan, values, NULL, false, 0);
	return SPI_processed == 1;
}

/*
 * Build the result row.
 */
static Datum
make_result(FunctionCallInfo fcinfo, const char *outcome, bool logged,
			const char *band, double improvement_rate, bool improvement_known,
			const WindowState *window, const ExperimentCount *experiment,
			bool duplicate)
{
	TupleDesc	tupdesc;
	Datum		values[RESULT_NATTS];
	bool		nulls[RESULT_NATTS];

	/* The row type is looked up once per call site and kept with it. */
	tupdesc = (TupleDesc) fcinfo->flinfo->fn_extra;
	if (tupdesc == NULL)
	{
		MemoryContext old_context = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
		fcinfo->flinfo->fn_extra = tupdesc;
		MemoryContextSwitchTo(old_context);
	}

	memset(nulls, false, sizeof(nulls));
	values[RESULT_OUTCOME] = CStringGetTextDatum(outcome);
	values[RESULT_LOGGED] = BoolGetDatum(logged);
	values[RESULT_BAND] = CStringGetTextDatum(band);
	values[RESULT_IMPROVEMENT_RATE] = Float8GetDatum(improvement_rate);
	nulls[RESULT_IMPROVEMENT_RATE] = !improvement_known;
	values[RESULT_WINDOW_ATTEMPTS] = Int32GetDatum(window->attempts);
	values[RESULT_WINDOW_SUCCESS_RATE] = Float8GetDatum(window->success_rate);
	nulls[RESULT_WINDOW_SUCCESS_RATE] = (window->attempts == 0);
	if (experiment != NULL && experiment->found)
	{
		pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

		*id = experiment->id;
		values[RESULT_EXPERIMENT_ID] = UUIDPGetDatum(id);
		values[RESULT_EXPERIMENT_STATUS] = CStringGetTextDatum(experiment->status);
	}
	else
	{
		nulls[RESULT_EXPERIMENT_ID] = true;
		nulls[RESULT_EXPERIMENT_STATUS] = true;
	}
	values[RESULT_DUPLICATE] = BoolGetDatum(duplicate);
	values[RESULT_AUTO_REGISTERED] = BoolGetDatum(window->auto_registered);

	return HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls));
}

/*
 * The answer to a repeated work_order_id: the first call's outcome, band
 * and logging decision with the current window values.
 */
static Datum
duplicate_result(FunctionCallInfo fcinfo, text *work_order_id)
{
	Datum		values[1];
	HeapTuple	row;
	TupleDesc	desc;
	bool		isnull;
	text	   *proposer;
	char	   *outcome;
	char	   *band;
	bool		logged;
	WindowState window = {0};
	Datum		result;

	values[0] = PointerGetDatum(work_order_id);
	ap_execute(&ledger_lookup_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("work order \"%s\" was recorded by a concurrent transaction that this snapshot cannot see",
						text_to_cstring(work_order_id)),
				 errhint("Retry the call in a new transaction.")));

	row = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	proposer = DatumGetTextPP(SPI_getbinval(row, desc, 1, &isnull));
	outcome = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
	band = TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull));
	logged = DatumGetBool(SPI_getbinval(row, desc, 4, &isnull));

	/* Copy out of SPI memory before the window lookup reuses it. */
	proposer = (text *) SPI_datumTransfer(PointerGetDatum(proposer), false, -1);
	window_current(proposer, band, &window);

	result = make_result(fcinfo, outcome, logged, band, 0.0, false, &window,
						 NULL, true);
	return result;
}

/*
 * Split error_codes into kept and excluded codes using sanitizer_error_map.
 */
static void
apply_sanitizer_exclusion(Datum error_codes, Datum sanitizer_changes,
						  Datum *kept, Datum *excluded)
{
	Datum		values[2];
	bool		isnull;

	values[0] = error_codes;
	values[1] = sanitizer_changes;
	ap_execute(&exclusion_plan, values, NULL, false, 1);
	*kept = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1, &isnull),
							  false, -1);
	*excluded = SPI_datumTransfer(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull),
								  false, -1);
}

/*
 * record_work_order(...) returns work_order_result
 */
Datum
ap_record_work_order(PG_FUNCTION_ARGS)
{
	static uint32 calls_since_purge = 0;
	static TimestampTz next_purge_at = 0;
	text	   *proposer;
	double		score;
	int32		initial_errors;
	int32		final_errors;
	bool		stalled;
	int			code_count;
	UsedEnhancement *used;
	int			used_count;
	int			change_count;
	Jsonb	   *samples;
	text	   *prompt_version;
	text	   *work_order_id;
	double		improvement_rate;
	Outcome		outcome;
	const char *band;
	double		sample_rate;
	bool		logged;
	WindowState window = {0};
	WorkOrderFacts facts;
	ExperimentCount experiment;
	Datum		error_codes;
	Datum		excluded_codes;
	Datum		result;

	AP_ENTER();
	ap_require_writable("record_work_order()");

	/* Validate everything before writing anything. */
	proposer = ap_require_name(fcinfo, ARG_PROPOSER, "proposer_name");
	score = ap_require_fraction(fcinfo, ARG_SCORE, "complexity_score");
	initial_errors = ap_require_count(fcinfo, ARG_INITIAL_ERRORS, "initial_errors");
	final_errors = ap_require_count(fcinfo, ARG_FINAL_ERRORS, "final_errors");
	stalled = ap_require_bool(fcinfo, ARG_STALLED, "stalled");
	code_count = require_text_array(fcinfo, ARG_ERROR_CODES, "error_codes",
									AP_MAX_CODE_BYTES);
	if (PG_ARGISNULL(ARG_ERROR_SAMPLES))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("error_samples must not be NULL"),
				 errhint("Pass an empty array, '[]', when there are no samples.")));
	samples = PG_GETARG_JSONB_P(ARG_ERROR_SAMPLES);
	check_error_samples(samples);
	prompt_version = ap_optional_name(fcinfo, ARG_PROMPT_VERSION, "prompt_version");
	require_text_array(fcinfo, ARG_ENHANCEMENTS_USED, "enhancements_used",
					   AP_MAX_CODE_BYTES + 11);
	used_count = parse_enhancements_used(PG_GETARG_ARRAYTYPE_P(ARG_ENHANCEMENTS_USED),
										 &used);
	change_count = require_text_array(fcinfo, ARG_SANITIZER_CHANGES,
									  "sanitizer_changes", AP_MAX_CODE_BYTES);
	work_order_id = ap_optional_name(fcinfo, ARG_WORK_ORDER_ID, "work_order_id");

	/* What the call decides does not depend on the database. */
	improvement_rate = improvement_rate_of(initial_errors, final_errors);
	outcome = outcome_of(final_errors, stalled, improvement_rate);
	band = complexity_band_label(complexity_band_index(score));
	switch (outcome)
	{
		case OUTCOME_SUCCESS:
			sample_rate = ap_success_sample_rate;
			break;
		case OUTCOME_PARTIAL:
			sample_rate = ap_partial_sample_rate;
			break;
		default:
			sample_rate = 1.0;
			break;
	}
	logged = (outcome == OUTCOME_FAILURE) ||
		(sample_rate > 0.0 && sampling_draw(work_order_id) < sample_rate);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/*
	 * The worker purges when it runs; this is the fallback without it.  It
	 * comes before the call locks anything: run after the window update, the
	 * purge held the key's metrics row (and an A/B test's row) for its whole
	 * duration, and every concurrent caller of that key waited for it.
	 */
	if (++calls_since_purge >= LEDGER_PURGE_EVERY && !ap_worker_is_running())
	{
		TimestampTz now = GetCurrentTransactionStartTimestamp();

		calls_since_purge = 0;
		if (now >= next_purge_at &&
			ledger_purge(LEDGER_PURGE_BATCH) < LEDGER_PURGE_BATCH)
			next_purge_at = now + LEDGER_PURGE_IDLE_USECS;
	}

	/* What the caller says it used must exist (usually answered from memory). */
	if (prompt_version != NULL)
		known_require_prompt_version(proposer, prompt_version);
	known_require_enhancement_versions(used, used_count);

	/* The ledger row comes first, so concurrent duplicates wait here. */
	if (work_order_id != NULL &&
		!ledger_claim(work_order_id, proposer, outcome_names[outcome], band, logged))
	{
		result = duplicate_result(fcinfo, work_order_id);
		result = SPI_datumTransfer(result, false, -1);
		SPI_finish();
		PG_RETURN_DATUM(result);
	}

	window_record_attempt(proposer, band, outcome == OUTCOME_SUCCESS,
						  improvement_rate, &window);

	/* Codes a reported sanitizer change accounts for are not learned from. */
	error_codes = PG_GETARG_DATUM(ARG_ERROR_CODES);
	if (code_count > 0 && change_count > 0)
		apply_sanitizer_exclusion(error_codes,
								  PG_GETARG_DATUM(ARG_SANITIZER_CHANGES),
								  &error_codes, &excluded_codes);
	else
		excluded_codes = PointerGetDatum(construct_empty_array(TEXTOID));

	facts.proposer = proposer;
	facts.score = score;
	facts.band = band;
	facts.was_success = (outcome == OUTCOME_SUCCESS);
	facts.improvement_rate = improvement_rate;
	facts.work_order_id = work_order_id;
	facts.prompt_version = prompt_version;
	facts.enhancements_used = used;
	facts.enhancements_used_count = used_count;
	facts.error_codes = DatumGetArrayTypeP(error_codes);
	experiment_count_work_order(&facts, &experiment);
	ab_count_work_order(&facts);

	if (logged)
	{
		Datum		values[17];
		char		nulls[17];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = PointerGetDatum(work_order_id);
		nulls[0] = work_order_id ? ' ' : 'n';
		values[1] = PointerGetDatum(proposer);
		values[2] = Float8GetDatum(score);
		values[3] = CStringGetTextDatum(band);
		values[4] = Int32GetDatum(initial_errors);
		values[5] = Int32GetDatum(final_errors);
		values[6] = BoolGetDatum(stalled);
		values[7] = Float8GetDatum(improvement_rate);
		values[8] = CStringGetTextDatum(outcome_names[outcome]);
		values[9] = error_codes;
		values[10] = excluded_codes;
		values[11] = JsonbPGetDatum(samples);
		values[12] = PointerGetDatum(prompt_version);
		nulls[12] = prompt_version ? ' ' : 'n';
		values[13] = PG_GETARG_DATUM(ARG_ENHANCEMENTS_USED);
		values[14] = PG_GETARG_DATUM(ARG_SANITIZER_CHANGES);
		values[15] = BoolGetDatum(outcome != OUTCOME_FAILURE);
		values[16] = Float8GetDatum(sample_rate);
		ap_execute(&log_insert_plan, values, nulls, false, 0);
	}

	result = make_result(fcinfo, outcome_names[outcome], logged, band,
						 improvement_rate, true, &window, &experiment, false);
	result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	PG_RETURN_DATUM(result);
}

/*
 * purge_work_orders(batch_size int) returns bigint: delete up to batch_size
 * ledger rows older than adaptive_prompts.work_order_retention.
 */
Datum
ap_purge_work_orders(PG_FUNCTION_ARGS)
{
	int32		batch_size;
	uint64		deleted;

	AP_ENTER();
	ap_require_writable("purge_work_orders()");
	batch_size = ap_require_batch_size(fcinfo, 0, "batch_size");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	deleted = ledger_purge(batch_size);
	SPI_finish();
	PG_RETURN_INT64((int64) deleted);
}
