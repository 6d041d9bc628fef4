/*-------------------------------------------------------------------------
 *
 * ab_tests.c
 *	  A/B tests of prompt versions and enhancement versions: arm
 *	  assignment, counting work orders (the hook of record_work_order),
 *	  decisions, the watch after a promotion, and the subject locks.
 *
 * One engine for both kinds.  A test compares a candidate with the
 * incumbent (for a new error code: no enhancement).  A work order's arm is
 * hash(test salt, work_order_id): the same id always gets the same arm of
 * a test and nothing is stored per work order.  build_enhanced_prompt and
 * get_active_prompt_version hand out the arm's version; the caller passes
 * back what it used (prompt_version, CODE@N tokens) to record_work_order,
 * which calls ab_count_work_order().  A work order counts in a test only
 * when it has an id and used the version its id is assigned to, so both
 * arms are random samples of the same work orders.
 *
 * Counting adds to striped rows (ab_test_counts, AP_COUNTER_STRIPES per
 * test, each backend to the row of ap_counter_stripe()), so the callers of
 * one test do not wait on one row.  A caller whose stripe holds its share
 * (1/16) of the next checkpoint (or the watch's next look) reads the sums;
 * when they reach it, it takes the decision path: it locks the test's row (FOR UPDATE), sums the stripes
 * again under a fresh snapshot, and if the look is still due, decides on
 * those sums and writes them onto the row with the decision.  The row lock
 * makes each decision happen once; the row keeps the counts it used, and
 * work orders that commit later only add to the stripes.  The last callers
 * of a checkpoint may each miss the others' uncommitted counts:
 * settle_ab_tests(), called by the worker every cycle, and the next counted
 * work order take such a decision.  Locks, in every path: the window's
 * metrics row, then for each test in id order its stripe row, then its
 * ab_tests row.  The rule that
 * decides (decision_rule, normally the group-sequential lan_demets_obf) and
 * the watch's rule are copied onto the row when the test starts.  A
 * promotion makes the candidate live and starts the watch: the work orders
 * that use it are counted, its looks (watch_looks of them taken) come after
 * ceil(k x sample_size / AB_WATCH_LOOKS) of them, and if at one of them it
 * did significantly worse than the incumbent's arm did in the test, the
 * incumbent is restored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "ab_decision.h"
#include "prompts.h"

PG_FUNCTION_INFO_V1(ap_ab_test_arm);
PG_FUNCTION_INFO_V1(ap_abort_ab_test);
PG_FUNCTION_INFO_V1(ap_settle_ab_tests);

/* Columns of ab_tests that the engine reads, in AbTestRow order. */
typedef struct AbTestRow
{
	int64		id;
	bool		is_prompt;		/* kind = 'prompt_version' */
	char	   *subject;		/* proposer or error code */
	char	   *candidate;
	char	   *incumbent;		/* NULL: built-in default / no enhancement */
	int64		candidate_version_id;
	int64		salt;
	int32		sample_size;
	double		alpha;
	bool		open;			/* status = 'running' or 'watching' */
	bool		watching;		/* status = 'watching' */
	int32		checkpoint;
	int64		candidate_work_orders;
	int64		candidate_successes;
	int64		candidate_occurrences;
	double		candidate_improvement_sum;
	int64		incumbent_work_orders;
	int64		incumbent_successes;
	int64		incumbent_occurrences;
	double		incumbent_improvement_sum;
	int64		watch_work_orders;
	int64		watch_successes;
	int64		watch_occurrences;
	AbRule		rule;			/* decision_rule */
	AbWatchRule watch_rule;
	int32		watch_looks;	/* looks of the watch taken */
} AbTestRow;

/* Where a work order counts in one test. */
typedef enum AbArmChoice
{
	ARM_NONE,
	ARM_CANDIDATE,
	ARM_INCUMBENT,
	ARM_WATCH
} AbArmChoice;

/*
 * The hot path's one lookup: the open tests a work order may count in,
 * with only the columns counting needs (executor start-up grows with the
 * width of the plan, and the hot path pays it on every call while a test
 * runs).  Sorted by id in C (ab_count_work_order), not by a Sort node.
 */
#define AB_LOOKUP_COLUMNS \
	"id, kind, subject, candidate, incumbent, salt, sample_size, status," \
	" checkpoint, watch_rule, watch_looks"

/* The eleven counters, in the order ab_counts_read() reads them. */
#define AB_COUNT_COLUMNS \
	"candidate_work_orders, candidate_successes, candidate_occurrences," \
	" candidate_improvement_sum," \
	" incumbent_work_orders, incumbent_successes, incumbent_occurrences," \
	" incumbent_improvement_sum," \
	" watch_work_orders, watch_successes, watch_occurrences"

/*
 * Columns of ab_tests that a decision reads: the lookup's, then what only
 * a decision needs (ab_row_read reads them in this order).
 */
#define AB_TEST_COLUMNS \
	AB_LOOKUP_COLUMNS ", candidate_version_id, alpha, decision_rule, " \
	AB_COUNT_COLUMNS

static ApPlan open_tests_plan = AP_PLAN(
	"SELECT " AB_LOOKUP_COLUMNS " FROM @extschema@.ab_tests"
	" WHERE status IN ('running', 'watching')"
	" AND ((kind = 'prompt_version' AND subject = $1)"
	"   OR (kind = 'enhancement' AND subject = ANY ($2)))",
	TEXTOID, TEXTARRAYOID);

/* The same for a work order that reports no enhancements: one index probe. */
static ApPlan open_prompt_test_plan = AP_PLAN(
	"SELECT " AB_LOOKUP_COLUMNS " FROM @extschema@.ab_tests"
	" WHERE status IN ('running', 'watching')"
	" AND kind = 'prompt_version' AND subject = $1",
	TEXTOID);

/*
 * Counting: add to this backend's stripe of the test and return the
 * stripe's work orders (both arms and the watch).  $3 success, $4 the
 * targeted code occurred, $5 improvement rate.  No row when the test has
 * no stripes.
 */
#define AB_COUNT_RETURNING \
	" RETURNING candidate_work_orders, incumbent_work_orders, watch_work_orders"

/* The work orders of both arms and the watch, summed over the stripes. */
static ApPlan stripe_work_orders_plan = AP_PLAN(
	"SELECT pg_catalog.sum(candidate_work_orders)::pg_catalog.int8,"
	" pg_catalog.sum(incumbent_work_orders)::pg_catalog.int8,"
	" pg_catalog.sum(watch_work_orders)::pg_catalog.int8"
	" FROM @extschema@.ab_test_counts WHERE test_id = $1",
	INT8OID);

static ApPlan count_candidate_plan = AP_PLAN(
	"UPDATE @extschema@.ab_test_counts"
	" SET candidate_work_orders = candidate_work_orders + 1,"
	" candidate_successes = candidate_successes + $3,"
	" candidate_occurrences = candidate_occurrences + $4,"
	" candidate_improvement_sum = candidate_improvement_sum + $5"
	" WHERE test_id = $1 AND stripe = $2"
	AB_COUNT_RETURNING,
	INT8OID, INT4OID, INT4OID, INT4OID, FLOAT8OID);

static ApPlan count_incumbent_plan = AP_PLAN(
	"UPDATE @extschema@.ab_test_counts"
	" SET incumbent_work_orders = incumbent_work_orders + 1,"
	" incumbent_successes = incumbent_successes + $3,"
	" incumbent_occurrences = incumbent_occurrences + $4,"
	" incumbent_improvement_sum = incumbent_improvement_sum + $5"
	" WHERE test_id = $1 AND stripe = $2"
	AB_COUNT_RETURNING,
	INT8OID, INT4OID, INT4OID, INT4OID, FLOAT8OID);

/* The first four parameters of the two above: no improvement sum. */
static ApPlan count_watch_plan = AP_PLAN(
	"UPDATE @extschema@.ab_test_counts"
	" SET watch_work_orders = watch_work_orders + 1,"
	" watch_successes = watch_successes + $3,"
	" watch_occurrences = watch_occurrences + $4"
	" WHERE test_id = $1 AND stripe = $2"
	AB_COUNT_RETURNING,
	INT8OID, INT4OID, INT4OID, INT4OID);

/* A test's stripes: made when it starts (and by counting if missing). */
static ApPlan create_stripes_plan = AP_PLAN(
	"INSERT INTO @extschema@.ab_test_counts (test_id, stripe)"
	" SELECT $1, s FROM pg_catalog.generate_series(0, $2 - 1) s"
	" ON CONFLICT DO NOTHING",
	INT8OID, INT4OID);

/* The sums of a test's stripes, in AB_COUNT_COLUMNS order (ab_counts_read). */
static ApPlan stripe_sums_plan = AP_PLAN(
	"SELECT pg_catalog.sum(candidate_work_orders)::pg_catalog.int8, pg_catalog.sum(candidate_successes)::pg_catalog.int8,"
	" pg_catalog.sum(candidate_occurrences)::pg_catalog.int8, pg_catalog.sum(candidate_improvement_sum),"
	" pg_catalog.sum(incumbent_work_orders)::pg_catalog.int8, pg_catalog.sum(incumbent_successes)::pg_catalog.int8,"
	" pg_catalog.sum(incumbent_occurrences)::pg_catalog.int8, pg_catalog.sum(incumbent_improvement_sum),"
	" pg_catalog.sum(watch_work_orders)::pg_catalog.int8, pg_catalog.sum(watch_successes)::pg_catalog.int8,"
	" pg_catalog.sum(watch_occurrences)::pg_catalog.int8"
	" FROM @extschema@.ab_test_counts WHERE test_id = $1",
	INT8OID);

/* The decision path's lock. */
static ApPlan lock_test_plan = AP_PLAN(
	"SELECT " AB_TEST_COLUMNS " FROM @extschema@.ab_tests WHERE id = $1 FOR UPDATE",
	INT8OID);

/* Open tests, for settle_ab_tests(). */
static ApPlan open_test_ids_plan = AP_PLAN_NO_ARGS(
	"SELECT id FROM @extschema@.ab_tests WHERE status IN ('running', 'watching')"
	" ORDER BY id");

/* The counts a decision used, $5 .. $12, are written with it. */
#define AB_SET_TEST_COUNTS \
	" candidate_work_orders = $5, candidate_successes = $6," \
	" candidate_occurrences = $7, candidate_improvement_sum = $8," \
	" incumbent_work_orders = $9, incumbent_successes = $10," \
	" incumbent_occurrences = $11, incumbent_improvement_sum = $12"
#define AB_TEST_COUNT_TYPES \
	INT8OID, INT8OID, INT8OID, FLOAT8OID, INT8OID, INT8OID, INT8OID, FLOAT8OID

/* $4: the checkpoint decided. */
static ApPlan extend_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET checkpoint = checkpoint + 1, p_value = $2,"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $3),"
	AB_SET_TEST_COUNTS
	" WHERE id = $1 AND status = 'running' AND checkpoint = $4",
	INT8OID, FLOAT8OID, TEXTOID, INT4OID, AB_TEST_COUNT_TYPES);

static ApPlan decide_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET status = $2, p_value = $3,"
	" decided_at = pg_catalog.now(),"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $4),"
	AB_SET_TEST_COUNTS
	" WHERE id = $1 AND status = 'running'",
	INT8OID, TEXTOID, FLOAT8OID, TEXTOID, AB_TEST_COUNT_TYPES);

/* The counts and the number of a look of the watch, $5 .. $8. */
#define AB_SET_WATCH_COUNTS \
	" watch_work_orders = $5, watch_successes = $6, watch_occurrences = $7," \
	" watch_looks = $8"
#define AB_WATCH_COUNT_TYPES INT8OID, INT8OID, INT8OID, INT4OID

/* A look of the watch that did not end it; $4: the looks taken before. */
static ApPlan watch_look_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET watch_p_value = $2,"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $3),"
	AB_SET_WATCH_COUNTS
	" WHERE id = $1 AND status = 'watching' AND watch_looks = $4",
	INT8OID, FLOAT8OID, TEXTOID, INT4OID, AB_WATCH_COUNT_TYPES);

/* The look that ends the watch. */
static ApPlan end_watch_look_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET status = $2, watch_p_value = $3,"
	" watch_ended_at = pg_catalog.now(),"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $4),"
	AB_SET_WATCH_COUNTS
	" WHERE id = $1 AND status = 'watching'",
	INT8OID, TEXTOID, FLOAT8OID, TEXTOID, AB_WATCH_COUNT_TYPES);

/* A watch ended by a person (the row keeps the counts of its last look). */
static ApPlan end_watch_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET status = $2, watch_p_value = $3,"
	" watch_ended_at = pg_catalog.now(),"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $4)"
	" WHERE id = $1 AND status = 'watching'",
	INT8OID, TEXTOID, FLOAT8OID, TEXTOID);

static ApPlan start_plan = AP_PLAN(
	"INSERT INTO @extschema@.ab_tests"
	" (kind, subject, candidate, incumbent, candidate_version_id, salt,"
	"  sample_size, alpha, started_by, decision_rule, watch_rule)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, INT4OID,
	FLOAT8OID, TEXTOID, TEXTOID, TEXTOID);

static ApPlan open_test_lock_plan = AP_PLAN(
	"SELECT id, status = 'watching', candidate_version_id FROM @extschema@.ab_tests"
	" WHERE kind = $1 AND subject = $2 AND status IN ('running', 'watching')"
	" FOR UPDATE",
	TEXTOID, TEXTOID);

static ApPlan open_test_plan = AP_PLAN(
	"SELECT id, status = 'watching', candidate_version_id FROM @extschema@.ab_tests"
	" WHERE kind = $1 AND subject = $2 AND status IN ('running', 'watching')",
	TEXTOID, TEXTOID);

static ApPlan subject_lock_plan = AP_PLAN(
	"SELECT pg_catalog.pg_advisory_xact_lock("
	" (CASE $1 WHEN 'prompt_version' THEN '@extschema@.prompt_versions'::pg_catalog.regclass"
	"  ELSE '@extschema@.enhancement_versions'::pg_catalog.regclass END)::pg_catalog.oid::pg_catalog.int4,"
	" pg_catalog.hashtext($2))",
	TEXTOID, TEXTOID);

static ApPlan history_plan = AP_PLAN(
	"INSERT INTO @extschema@.version_history"
	" (kind, subject, old_version, new_version, action, ab_test_id, changed_by, reason)"
	" VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID);

static ApPlan test_by_id_plan = AP_PLAN(
	"SELECT kind, subject, status, salt FROM @extschema@.ab_tests WHERE id = $1",
	INT8OID);

static ApPlan abort_plan = AP_PLAN(
	"UPDATE @extschema@.ab_tests SET status = 'aborted', decided_at = pg_catalog.now(),"
	" decision_reason = pg_catalog.concat_ws(E'\\n', decision_reason, $2)"
	" WHERE id = $1 AND status = 'running'",
	INT8OID, TEXTOID);

/*
 * Read an AB_LOOKUP_COLUMNS row of SPI_tuptable (or the same first columns
 * of an AB_TEST_COLUMNS row): what counting needs.
 */
static void
ab_lookup_row_read(int row_number, AbTestRow *row)
{
	HeapTuple	tuple = SPI_tuptable->vals[row_number];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	char	   *status;

	memset(row, 0, sizeof(*row));
	row->id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	row->is_prompt = strcmp(SPI_getvalue(tuple, desc, 2), AB_KIND_PROMPT) == 0;
	row->subject = SPI_getvalue(tuple, desc, 3);
	row->candidate = SPI_getvalue(tuple, desc, 4);
	row->incumbent = SPI_getvalue(tuple, desc, 5);	/* NULL when NULL */
	row->salt = DatumGetInt64(SPI_getbinval(tuple, desc, 6, &isnull));
	row->sample_size = DatumGetInt32(SPI_getbinval(tuple, desc, 7, &isnull));
	status = SPI_getvalue(tuple, desc, 8);
	row->watching = strcmp(status, "watching") == 0;
	row->open = row->watching || strcmp(status, "running") == 0;
	row->checkpoint = DatumGetInt32(SPI_getbinval(tuple, desc, 9, &isnull));
	if (ab_watch_rule_from_name(SPI_getvalue(tuple, desc, 10), &row->watch_rule) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("A/B test %lld has an unknown watch rule",
						(long long) row->id)));
	row->watch_looks = DatumGetInt32(SPI_getbinval(tuple, desc, 11, &isnull));
}

/*
 * Read the eleven AB_COUNT_COLUMNS counters, from column `first` on, of
 * row `row_number` of SPI_tuptable.
 */
static void
ab_counts_read(int row_number, int first, AbTestRow *row)
{
	HeapTuple	tuple = SPI_tuptable->vals[row_number];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

#define COUNT_INT64(i) DatumGetInt64(SPI_getbinval(tuple, desc, first + (i), &isnull))
#define COUNT_FLOAT8(i) DatumGetFloat8(SPI_getbinval(tuple, desc, first + (i), &isnull))
	row->candidate_work_orders = COUNT_INT64(0);
	row->candidate_successes = COUNT_INT64(1);
	row->candidate_occurrences = COUNT_INT64(2);
	row->candidate_improvement_sum = COUNT_FLOAT8(3);
	row->incumbent_work_orders = COUNT_INT64(4);
	row->incumbent_successes = COUNT_INT64(5);
	row->incumbent_occurrences = COUNT_INT64(6);
	row->incumbent_improvement_sum = COUNT_FLOAT8(7);
	row->watch_work_orders = COUNT_INT64(8);
	row->watch_successes = COUNT_INT64(9);
	row->watch_occurrences = COUNT_INT64(10);
#undef COUNT_INT64
#undef COUNT_FLOAT8
}

/*
 * Read an AB_TEST_COLUMNS row of SPI_tuptable.
 */
static void
ab_row_read(int row_number, AbTestRow *row)
{
	HeapTuple	tuple = SPI_tuptable->vals[row_number];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

	ab_lookup_row_read(row_number, row);
	row->candidate_version_id = DatumGetInt64(SPI_getbinval(tuple, desc, 12, &isnull));
	if (isnull)
		row->candidate_version_id = 0;
	row->alpha = DatumGetFloat8(SPI_getbinval(tuple, desc, 13, &isnull));
	if (ab_rule_from_name(SPI_getvalue(tuple, desc, 14), &row->rule) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("A/B test %lld has an unknown decision rule",
						(long long) row->id)));
	ab_counts_read(row_number, 15, row);
}

/* qsort comparator: tests by id. */
static int
ab_row_id_compare(const void *a, const void *b)
{
	int64		first = ((const AbTestRow *) a)->id;
	int64		second = ((const AbTestRow *) b)->id;

	return (first > second) - (first < second);
}

/*
 * Replace the counts of a row read with ab_row_read by the sums of the
 * test's stripes, under the snapshot of this statement.  A test without
 * stripes (made by hand) keeps the counts of its row.
 */
static void
ab_row_sum_stripes(AbTestRow *row)
{
	Datum		values[1];
	bool		isnull;

	values[0] = Int64GetDatum(row->id);
	ap_execute(&stripe_sums_plan, values, NULL, false, 0);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		ab_counts_read(0, 1, row);
}

/*
 * Is this work order in the candidate arm of a test with this salt?
 * Work orders without an id always get the incumbent.
 */
bool
ab_arm_is_candidate(int64 salt, text *work_order_id)
{
	if (work_order_id == NULL)
		return false;
	return ap_hash_unit((uint64) salt, VARDATA_ANY(work_order_id),
						VARSIZE_ANY_EXHDR(work_order_id)) < 0.5;
}

/*
 * Take the subject's transaction-level advisory lock (step 2 of the lock
 * order in prompts.h).  The key is the OID of the versions table of the
 * kind and a hash of the subject; a hash collision only serializes two
 * subjects that did not need it.
 */
void
subject_lock(const char *kind, text *subject)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(kind);
	values[1] = PointerGetDatum(subject);
	ap_execute(&subject_lock_plan, values, NULL, false, 0);
}

/*
 * Look up the subject's open test (running or watching).
 */
static void
open_test_read(ApPlan *plan, const char *kind, text *subject, AbOpenTest *test)
{
	Datum		values[2];
	bool		isnull;

	values[0] = CStringGetTextDatum(kind);
	values[1] = PointerGetDatum(subject);
	ap_execute(plan, values, NULL, false, 0);
	memset(test, 0, sizeof(*test));
	if (SPI_processed == 0)
		return;
	test->found = true;
	test->id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));
	test->watching = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
	test->candidate_version_id =
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 3, &isnull));
	if (isnull)
		test->candidate_version_id = 0;
}

/*
 * Steps 1 and 2 of the lock order for a function that changes a subject's
 * live version: lock its open test, if any, then the subject.  Returns the
 * open test as it is now.  A test that appeared between the two steps
 * (started by a concurrent transaction) is a serialization failure: the
 * caller may simply retry.
 */
void
subject_lock_for_change(const char *kind, text *subject, AbOpenTest *test)
{
	AbOpenTest	locked;

	open_test_read(&open_test_lock_plan, kind, subject, &locked);
	subject_lock(kind, subject);
	open_test_read(&open_test_plan, kind, subject, test);
	if (test->found && (!locked.found || locked.id != test->id))
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("an A/B test of \"%s\" was started concurrently",
						text_to_cstring(subject)),
				 errhint("Retry the call.")));
}

/*
 * Make the test's AP_COUNTER_STRIPES rows of counts (those missing).
 */
static void
ab_create_stripes(int64 test_id)
{
	Datum		values[2];

	values[0] = Int64GetDatum(test_id);
	values[1] = Int32GetDatum(AP_COUNTER_STRIPES);
	ap_execute(&create_stripes_plan, values, NULL, false, 0);
}

/*
 * Start a test; the caller holds the subject's locks and has checked that
 * no test of the subject is open.  Parameters in force are copied onto the
 * row.  The salt is random unless the caller gives one (fixed_salt, so
 * that a documented example assigns the same arms every time).  Returns
 * its id.
 */
int64
ab_start_test(const char *kind, text *subject, const char *candidate,
			  const char *incumbent, int64 candidate_version_id,
			  int32 sample_size, const int64 *fixed_salt)
{
	Datum		values[11];
	char		nulls[11];
	int64		salt;
	int64		test_id;
	bool		isnull;

	if (fixed_salt != NULL)
		salt = *fixed_salt;
	else if (!pg_strong_random(&salt, sizeof(salt)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random salt for the A/B test")));

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(kind);
	values[1] = PointerGetDatum(subject);
	values[2] = CStringGetTextDatum(candidate);
	if (incumbent != NULL)
		values[3] = CStringGetTextDatum(incumbent);
	else
		nulls[3] = 'n';
	values[4] = Int64GetDatum(candidate_version_id);
	if (candidate_version_id == 0)
		nulls[4] = 'n';
	values[5] = Int64GetDatum(salt);
	values[6] = Int32GetDatum(sample_size);
	values[7] = Float8GetDatum(ap_ab_alpha);
	values[8] = CStringGetTextDatum(ap_calling_role());
	/* The rules in force now decide this test for its life. */
	values[9] = CStringGetTextDatum(ab_rule_name((AbRule) ap_ab_decision_rule));
	values[10] = CStringGetTextDatum(ab_watch_rule_name(ap_watch_rule == WATCH_RULE_SEQUENTIAL ?
														AB_WATCH_RULE_LAN_DEMETS_POCOCK :
														AB_WATCH_RULE_FIXED_ALPHA));
	ap_execute(&start_plan, values, nulls, false, 0);
	test_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	ab_create_stripes(test_id);
	return test_id;
}

/*
 * End a watch before its end because a person changed the live version:
 * 'rolled_back' for a manual rollback, 'promoted' (the promotion stands,
 * the watch is over) when another version was made live.
 */
void
ab_end_watch_early(int64 test_id, bool rolled_back, const char *reason)
{
	Datum		values[4];
	char		nulls[4] = {' ', ' ', 'n', ' '};

	values[0] = Int64GetDatum(test_id);
	values[1] = CStringGetTextDatum(rolled_back ? "rolled_back" : "promoted");
	values[2] = (Datum) 0;
	values[3] = CStringGetTextDatum(reason);
	ap_execute(&end_watch_plan, values, nulls, false, 0);
}

/*
 * Append a row to version_history: every change of a live text or an
 * active version.  NULL versions stand for the built-in default prompt or
 * no enhancement.
 */
void
version_history_add(const char *kind, text *subject, const char *old_version,
					const char *new_version, const char *action,
					int64 test_id, const char *reason)
{
	Datum		values[8];
	char		nulls[8];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(kind);
	values[1] = PointerGetDatum(subject);
	if (old_version)
		values[2] = CStringGetTextDatum(old_version);
	else
		nulls[2] = 'n';
	if (new_version)
		values[3] = CStringGetTextDatum(new_version);
	else
		nulls[3] = 'n';
	values[4] = CStringGetTextDatum(action);
	values[5] = Int64GetDatum(test_id);
	if (test_id == 0)
		nulls[5] = 'n';
	values[6] = CStringGetTextDatum(ap_calling_role());
	values[7] = CStringGetTextDatum(reason);
	ap_execute(&history_plan, values, nulls, false, 0);
}

/*
 * What the test measures: the success rate for prompt versions (higher
 * is better), the share of work orders with the targeted code for
 * enhancements (lower is better).
 */
static void
ab_arms(const AbTestRow *row, AbArm *candidate, AbArm *incumbent, AbArm *watch)
{
	candidate->work_orders = row->candidate_work_orders;
	incumbent->work_orders = row->incumbent_work_orders;
	watch->work_orders = row->watch_work_orders;
	if (row->is_prompt)
	{
		candidate->events = row->candidate_successes;
		incumbent->events = row->incumbent_successes;
		watch->events = row->watch_successes;
	}
	else
	{
		candidate->events = row->candidate_occurrences;
		incumbent->events = row->incumbent_occurrences;
		watch->events = row->watch_occurrences;
	}
}

static char *
ab_measure(const AbTestRow *row)
{
	if (row->is_prompt)
		return pstrdup("success rate");
	return psprintf("share of work orders with %s", row->subject);
}

/*
 * "version 7" / "no enhancement" / "the built-in default prompt v1.0".
 */
static char *
ab_version_label(const AbTestRow *row, const char *version)
{
	if (row->is_prompt)
		return version ? psprintf("prompt version %s", version) :
			pstrdup("the built-in default prompt " AP_DEFAULT_PROMPT_VERSION);
	return version ? psprintf("version %s", version) : pstrdup("no enhancement");
}

/*
 * Take the decision of a running test at its checkpoint and act on it; the
 * row's counts (the sums of its stripes) are written with it.  The caller
 * holds the test's row lock.
 */
static void
ab_decide_test(const AbTestRow *row)
{
	AbArm		candidate;
	AbArm		incumbent;
	AbArm		watch;
	AbDecision	decision;
	char		sentence[2048];
	char	   *reason;
	text	   *subject = cstring_to_text(row->subject);
	const char *kind = row->is_prompt ? AB_KIND_PROMPT : AB_KIND_ENHANCEMENT;
	Datum		values[12];

	ab_arms(row, &candidate, &incumbent, &watch);
	decision = ab_decide(candidate, incumbent, !row->is_prompt, row->rule,
						 row->alpha, row->checkpoint);
	ab_format_reason(sentence, sizeof(sentence), &decision, candidate, incumbent,
					 ab_measure(row), !row->is_prompt, row->alpha,
					 row->checkpoint, row->sample_size);
	reason = psprintf("A/B test %lld of %s against %s: %s", (long long) row->id,
					  ab_version_label(row, row->candidate),
					  ab_version_label(row, row->incumbent), sentence);

	values[0] = Int64GetDatum(row->id);
	values[4] = Int64GetDatum(row->candidate_work_orders);
	values[5] = Int64GetDatum(row->candidate_successes);
	values[6] = Int64GetDatum(row->candidate_occurrences);
	values[7] = Float8GetDatum(row->candidate_improvement_sum);
	values[8] = Int64GetDatum(row->incumbent_work_orders);
	values[9] = Int64GetDatum(row->incumbent_successes);
	values[10] = Int64GetDatum(row->incumbent_occurrences);
	values[11] = Float8GetDatum(row->incumbent_improvement_sum);
	if (decision.verdict == AB_CONTINUE)
	{
		values[1] = Float8GetDatum(decision.p_value);
		values[2] = CStringGetTextDatum(reason);
		values[3] = Int32GetDatum(row->checkpoint);
		ap_execute(&extend_plan, values, NULL, false, 0);
		return;
	}

	subject_lock(kind, subject);
	if (row->is_prompt)
		prompt_version_record_test(row->candidate, row->candidate_work_orders,
								   row->candidate_successes,
								   row->candidate_improvement_sum);

	if (decision.verdict == AB_PROMOTE)
	{
		if (row->is_prompt)
			prompt_version_make_active(subject, row->candidate, true, "promoted",
									   row->id, reason);
		else
			enhancement_make_live(subject, pg_strtoint32(row->candidate),
								  "retired", true, "promoted", row->id, reason);
		values[1] = CStringGetTextDatum("watching");
	}
	else
	{
		if (!row->is_prompt)
			enhancement_set_status(row->candidate_version_id, "rejected", reason);
		values[1] = CStringGetTextDatum("rejected");
	}
	values[2] = Float8GetDatum(decision.p_value);
	values[3] = CStringGetTextDatum(reason);
	ap_execute(&decide_plan, values, NULL, false, 0);

	if (!row->is_prompt && decision.verdict != AB_PROMOTE)
		enhancement_start_next_test(subject);
}

/*
 * Look number look of the watch after a promotion (its end, or an
 * intermediate look of the sequential rule), on the row's counts, which are
 * written with it, with watch_looks = look; the caller holds the test's
 * row lock.  Restore the incumbent when the promoted version
 * did significantly worse than the incumbent's arm in the test, end the
 * watch at its last look, else record the look.
 */
static void
ab_decide_watch_look(const AbTestRow *row, int look)
{
	AbArm		candidate;
	AbArm		incumbent;
	AbArm		watch;
	AbDecision	decision;
	char		sentence[2048];
	char	   *reason;
	text	   *subject = cstring_to_text(row->subject);
	const char *kind = row->is_prompt ? AB_KIND_PROMPT : AB_KIND_ENHANCEMENT;
	Datum		values[8];

	ab_arms(row, &candidate, &incumbent, &watch);
	decision = ab_decide_watch(watch, incumbent, !row->is_prompt, row->watch_rule,
							   row->alpha, row->sample_size, look);
	ab_format_reason(sentence, sizeof(sentence), &decision, watch, incumbent,
					 ab_measure(row), !row->is_prompt, row->alpha,
					 row->checkpoint, row->sample_size);

	values[0] = Int64GetDatum(row->id);
	values[4] = Int64GetDatum(row->watch_work_orders);
	values[5] = Int64GetDatum(row->watch_successes);
	values[6] = Int64GetDatum(row->watch_occurrences);
	values[7] = Int32GetDatum(look);
	if (decision.verdict == AB_WATCH_CONTINUE)
	{
		values[1] = Float8GetDatum(decision.p_value);
		values[2] = CStringGetTextDatum(psprintf("A/B test %lld: %s",
												 (long long) row->id, sentence));
		values[3] = Int32GetDatum(row->watch_looks);
		ap_execute(&watch_look_plan, values, NULL, false, 0);
		return;
	}
	if (decision.verdict == AB_WATCH_ROLL_BACK || !row->is_prompt)
		subject_lock(kind, subject);
	if (decision.verdict == AB_WATCH_ROLL_BACK)
	{
		reason = psprintf("A/B test %lld, %s restored: %s", (long long) row->id,
						  ab_version_label(row, row->incumbent), sentence);
		if (row->is_prompt)
			prompt_version_make_active(subject, row->incumbent, false,
									   "rolled_back", row->id, reason);
		else
			enhancement_make_live(subject,
								  row->incumbent ? pg_strtoint32(row->incumbent) : 0,
								  "rolled_back", false, "rolled_back", row->id,
								  reason);
		values[1] = CStringGetTextDatum("rolled_back");
	}
	else
	{
		reason = psprintf("A/B test %lld: %s", (long long) row->id, sentence);
		values[1] = CStringGetTextDatum("promoted");
	}
	values[2] = Float8GetDatum(decision.p_value);
	values[3] = CStringGetTextDatum(reason);
	ap_execute(&end_watch_look_plan, values, NULL, false, 0);

	if (!row->is_prompt)
		enhancement_start_next_test(subject);
}

/*
 * Does error_codes contain code?
 */
static bool
codes_contain(ArrayType *error_codes, const char *code)
{
	Datum	   *elements;
	int			count;
	int			i;
	size_t		len = strlen(code);

	deconstruct_array(error_codes, TEXTOID, -1, false, TYPALIGN_INT,
					  &elements, NULL, &count);
	for (i = 0; i < count; i++)
	{
		text	   *element = DatumGetTextPP(elements[i]);

		if (VARSIZE_ANY_EXHDR(element) == len &&
			memcmp(VARDATA_ANY(element), code, len) == 0)
			return true;
	}
	return false;
}

/*
 * Where a work order counts in one open test, given what it used.
 */
static AbArmChoice
ab_arm_of_work_order(const AbTestRow *row, const WorkOrderFacts *facts)
{
	AbArmChoice used = ARM_NONE;
	AbArmChoice assigned;

	if (row->is_prompt)
	{
		char	   *version;
		const char *incumbent;

		if (facts->prompt_version == NULL)
			return ARM_NONE;
		version = text_to_cstring(facts->prompt_version);
		incumbent = row->incumbent ? row->incumbent : AP_DEFAULT_PROMPT_VERSION;
		if (strcmp(version, row->candidate) == 0)
			used = row->watching ? ARM_WATCH : ARM_CANDIDATE;
		else if (!row->watching && strcmp(version, incumbent) == 0)
			used = ARM_INCUMBENT;
	}
	else
	{
		int32		candidate = pg_strtoint32(row->candidate);
		int32		incumbent = row->incumbent ? pg_strtoint32(row->incumbent) : 0;
		int			i;

		for (i = 0; i < facts->enhancements_used_count; i++)
		{
			const UsedEnhancement *used_enhancement = &facts->enhancements_used[i];
			int32		version = used_enhancement->version;

			if (strcmp(used_enhancement->code, row->subject) != 0)
				continue;
			/* A bare code means the live version. */
			if (row->watching)
				used = (version == candidate || version == -1) ? ARM_WATCH : ARM_NONE;
			else if (version == candidate)
				used = ARM_CANDIDATE;
			else if (version == incumbent || (version == -1 && incumbent > 0))
				used = ARM_INCUMBENT;
			break;
		}
	}

	if (used == ARM_NONE || used == ARM_WATCH)
		return used;

	/* Only work orders that followed their id's assignment count. */
	if (facts->work_order_id == NULL)
		return ARM_NONE;
	assigned = ab_arm_is_candidate(row->salt, facts->work_order_id) ?
		ARM_CANDIDATE : ARM_INCUMBENT;
	return used == assigned ? used : ARM_NONE;
}

/*
 * The decision path of one test: lock its row, and take every decision or
 * look of the watch that is due on the sums of its stripes, read under a
 * snapshot taken after the lock (READ COMMITTED), so that each is taken
 * once, by whoever holds the lock first, on the counts it records.  Returns
 * how many were taken.  Looping takes the next look at once when the counts
 * are already past it too (work orders in flight).
 */
static int
ab_settle_test(int64 test_id)
{
	int			taken = 0;

	for (;;)
	{
		Datum		values[1];
		AbTestRow	row;

		values[0] = Int64GetDatum(test_id);
		ap_execute(&lock_test_plan, values, NULL, false, 0);
		if (SPI_processed != 1)
			break;
		ab_row_read(0, &row);
		if (!row.open)
			break;
		ab_row_sum_stripes(&row);
		if (row.watching)
		{
			int			looks;
			int			look = ab_watch_look_due(row.watch_rule, row.watch_looks,
												 row.watch_work_orders,
												 row.sample_size, &looks);

			if (look == 0)
				break;
			ab_decide_watch_look(&row, look);
		}
		else
		{
			if (Min(row.candidate_work_orders, row.incumbent_work_orders) <
				(int64) row.checkpoint * row.sample_size)
				break;
			ab_decide_test(&row);
		}
		taken++;
	}
	return taken;
}

/*
 * The three work-order counts of the first row of SPI_tuptable.
 */
static void
ab_work_orders_read(int64 *candidate_work_orders, int64 *incumbent_work_orders,
					int64 *watch_work_orders)
{
	HeapTuple	tuple = SPI_tuptable->vals[0];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;

	*candidate_work_orders = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
	*incumbent_work_orders = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
	*watch_work_orders = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
}

/*
 * Do these work orders reach the test's next checkpoint, or the watch's
 * next look?  divisor 1 asks it of the sums over all stripes; divisor
 * AP_COUNTER_STRIPES asks whether one stripe holds its share, the part of
 * the threshold that at least one stripe holds once the sums reach it
 * (if every stripe had less than ceil(threshold / 16), the sum would be
 * below the threshold).
 */
static bool
ab_threshold_reached(const AbTestRow *row, bool watch, int64 candidate_work_orders,
					 int64 incumbent_work_orders, int64 watch_work_orders,
					 int divisor)
{
	int64		threshold;

	if (watch)
	{
		threshold = ab_watch_next_look_size(row->watch_rule, row->watch_looks,
											row->sample_size);
		return threshold > 0 &&
			watch_work_orders >= (threshold + divisor - 1) / divisor;
	}
	threshold = (int64) row->checkpoint * row->sample_size;
	threshold = (threshold + divisor - 1) / divisor;
	if (divisor == 1)
		return Min(candidate_work_orders, incumbent_work_orders) >= threshold;
	/* The arms may reach their share in different stripes. */
	return Max(candidate_work_orders, incumbent_work_orders) >= threshold;
}

/*
 * Count a work order in the running A/B tests it takes part in: add it to
 * this backend's stripe of each, and take the decision path of a test whose
 * sums, as this work order sees them, reach its checkpoint or the watch's
 * next look.  Called by record_work_order inside its SPI connection, after
 * the window (lock order: the window's metrics row, then for each test in
 * id order its stripe row, then its ab_tests row).
 */
void
ab_count_work_order(const WorkOrderFacts *facts)
{
	int			code_count = facts->enhancements_used_count;
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Datum	   *codes;
	int			row_count;
	AbTestRow  *rows;
	int			i;

	if (facts->prompt_version == NULL && code_count == 0)
		return;
	if (!activity_ab_tests_open())
		return;

	/* The one lookup: open tests of this proposer's prompt or these codes. */
	if (code_count == 0)
	{
		values[0] = PointerGetDatum(facts->proposer);
		ap_execute(&open_prompt_test_plan, values, NULL, false, 0);
	}
	else
	{
		codes = palloc(sizeof(Datum) * code_count);
		for (i = 0; i < code_count; i++)
			codes[i] = CStringGetTextDatum(facts->enhancements_used[i].code);
		if (facts->prompt_version != NULL)
			values[0] = PointerGetDatum(facts->proposer);
		else
			nulls[0] = 'n';
		values[1] = PointerGetDatum(construct_array(codes, code_count, TEXTOID,
													-1, false, TYPALIGN_INT));
		ap_execute(&open_tests_plan, values, nulls, false, 0);
	}
	if (SPI_processed == 0)
		return;

	row_count = (int) SPI_processed;
	rows = palloc(sizeof(AbTestRow) * row_count);
	for (i = 0; i < row_count; i++)
		ab_lookup_row_read(i, &rows[i]);

	/* Tests are counted in id order, the same order in every backend. */
	if (row_count > 1)
		qsort(rows, row_count, sizeof(AbTestRow), ab_row_id_compare);
	for (i = 0; i < row_count; i++)
	{
		const AbTestRow *row = &rows[i];
		AbArmChoice arm = ab_arm_of_work_order(row, facts);
		bool		has_code;
		ApPlan	   *plan;
		int64		candidate_work_orders;
		int64		incumbent_work_orders;
		int64		watch_work_orders;
		bool		due;

		if (arm == ARM_NONE)
			continue;

		/* An enhancement test counts the work orders with its code. */
		has_code = !row->is_prompt &&
			codes_contain(facts->error_codes, row->subject);
		plan = arm == ARM_CANDIDATE ? &count_candidate_plan :
			arm == ARM_INCUMBENT ? &count_incumbent_plan : &count_watch_plan;

		values[0] = Int64GetDatum(row->id);
		values[1] = Int32GetDatum(ap_counter_stripe());
		values[2] = Int32GetDatum(facts->was_success ? 1 : 0);
		values[3] = Int32GetDatum(has_code ? 1 : 0);
		values[4] = Float8GetDatum(facts->improvement_rate);
		ap_execute(plan, values, NULL, false, 0);
		if (SPI_processed == 0)
		{
			/* A test made without its stripes (by hand): make them. */
			ab_create_stripes(row->id);
			ap_execute(plan, values, NULL, false, 0);
			if (SPI_processed != 1)
				elog(ERROR, "A/B test %lld has no row of counts for stripe %d",
					 (long long) row->id, ap_counter_stripe());
		}

		/*
		 * Only a stripe that holds its share of the next checkpoint (look)
		 * reads the sums: while none does, they cannot have reached it.
		 * Once they have, every call that adds to such a stripe checks, and
		 * takes the decision path.  Work orders that commit after a
		 * decision only add to the stripes: the row keeps the counts the
		 * decision used.
		 */
		ab_work_orders_read(&candidate_work_orders, &incumbent_work_orders,
							&watch_work_orders);
		due = ab_threshold_reached(row, arm == ARM_WATCH, candidate_work_orders,
								   incumbent_work_orders, watch_work_orders,
								   AP_COUNTER_STRIPES);
		if (due)
		{
			values[0] = Int64GetDatum(row->id);
			ap_execute(&stripe_work_orders_plan, values, NULL, false, 0);
			ab_work_orders_read(&candidate_work_orders, &incumbent_work_orders,
								&watch_work_orders);
			due = ab_threshold_reached(row, arm == ARM_WATCH, candidate_work_orders,
									   incumbent_work_orders, watch_work_orders, 1);
		}
		if (due)
			(void) ab_settle_test(row->id);
	}
}

/*
 * Take the decisions and looks that are due in every open test (see
 * ab_settle_test); returns how many were taken.  Inside an SPI connection;
 * the worker calls it every cycle.
 */
int
ab_settle_open_tests(void)
{
	int64	   *ids;
	int			count;
	int			taken = 0;
	int			i;
	bool		isnull;

	ap_execute(&open_test_ids_plan, NULL, NULL, false, 0);
	count = (int) SPI_processed;
	if (count == 0)
		return 0;
	ids = palloc(sizeof(int64) * count);
	for (i = 0; i < count; i++)
		ids[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
											 SPI_tuptable->tupdesc, 1, &isnull));
	/* In id order, as record_work_order takes them. */
	for (i = 0; i < count; i++)
		taken += ab_settle_test(ids[i]);
	return taken;
}

/*
 * settle_ab_tests() returns integer: take the decisions and looks of the
 * watch that are due on the open tests' counts but were not taken.
 */
Datum
ap_settle_ab_tests(PG_FUNCTION_ARGS)
{
	int			taken;

	AP_ENTER();
	ap_require_writable("settle_ab_tests()");
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	taken = ab_settle_open_tests();
	SPI_finish();
	PG_RETURN_INT32(taken);
}

/*
 * ab_test_arm(test_id bigint, work_order_id text) returns text: the arm a
 * work order gets in a test, 'candidate' or 'incumbent'.
 */
Datum
ap_ab_test_arm(PG_FUNCTION_ARGS)
{
	int64		test_id;
	text	   *work_order_id = NULL;
	Datum		values[1];
	int64		salt;
	bool		isnull;

	AP_ENTER();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("test_id must not be NULL")));
	test_id = PG_GETARG_INT64(0);
	work_order_id = ap_optional_name(fcinfo, 1, "work_order_id");

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(test_id);
	ap_execute(&test_by_id_plan, values, NULL, true, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("A/B test %lld does not exist", (long long) test_id)));
	salt = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 4, &isnull));
	SPI_finish();

	PG_RETURN_TEXT_P(cstring_to_text(ab_arm_is_candidate(salt, work_order_id) ?
									 "candidate" : "incumbent"));
}

/*
 * abort_ab_test(test_id bigint, reason text) returns void: stop a running
 * test without a decision.  An enhancement candidate becomes 'rejected'.
 */
Datum
ap_abort_ab_test(PG_FUNCTION_ARGS)
{
	int64		test_id;
	text	   *reason;
	Datum		values[2];
	char	   *kind;
	text	   *subject;
	char	   *status;
	AbOpenTest	open;
	char	   *sentence;

	AP_ENTER();
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("test_id must not be NULL")));
	test_id = PG_GETARG_INT64(0);
	reason = ap_require_text(fcinfo, 1, "reason", AP_MAX_REASON_BYTES);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	values[0] = Int64GetDatum(test_id);
	ap_execute(&test_by_id_plan, values, NULL, false, 1);
	if (SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_NO_DATA_FOUND),
				 errmsg("A/B test %lld does not exist", (long long) test_id)));
	kind = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	subject = cstring_to_text(SPI_getvalue(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2));
	status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);

	subject_lock_for_change(kind, subject, &open);
	if (!open.found || open.id != test_id || open.watching)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("A/B test %lld is not running", (long long) test_id),
				 errdetail("Its status is %s.",
						   open.found && open.id == test_id ? "watching" : status),
				 open.found && open.id == test_id ?
				 errhint("A watch ends by itself, or with rollback_prompt_version() or rollback_enhancement().") : 0));

	sentence = psprintf("aborted by %s: %s", ap_calling_role(),
						text_to_cstring(reason));
	values[1] = CStringGetTextDatum(sentence);
	ap_execute(&abort_plan, values, NULL, false, 0);
	if (strcmp(kind, AB_KIND_ENHANCEMENT) == 0)
	{
		enhancement_set_status(open.candidate_version_id, "rejected",
							   psprintf("A/B test %lld %s", (long long) test_id,
										sentence));
		enhancement_start_next_test(subject);
	}
	SPI_finish();
	PG_RETURN_VOID();
}
