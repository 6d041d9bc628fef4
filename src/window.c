/*-------------------------------------------------------------------------
 *
 * window.c
 *	  Rolling windows of recent attempts per (proposer, band) and the
 *	  metrics that summarize them.
 *
 * A window is a ring of window_size rows in proposer_attempts, slot =
 * seq % window_size, updated in place (HOT: only the key is indexed).  The
 * metrics row of the key holds the per-key sequence and the running
 * counts; it is locked first, so callers of one key are serialized and
 * callers of other keys never wait.  Counts change incrementally; the sum
 * of improvement rates is recomputed exactly whenever the ring wraps, so
 * floating-point drift never outlives one lap.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "adaptive_prompts.h"

PG_FUNCTION_INFO_V1(ap_resize_windows);

typedef struct WindowRow
{
	int64		attempts;
	int64		successes;
	double		improvement_sum;
	int64		last_seq;
	int32		window_size;
} WindowRow;

static ApPlan lock_plan = AP_PLAN(
	"SELECT attempts, successes, improvement_sum, last_seq, window_size"
	" FROM @extschema@.proposer_success_metrics"
	" WHERE proposer_name = $1 AND complexity_band = $2 FOR UPDATE",
	TEXTOID, TEXTOID);

static ApPlan read_plan = AP_PLAN(
	"SELECT attempts, success_rate"
	" FROM @extschema@.proposer_success_metrics"
	" WHERE proposer_name = $1 AND complexity_band = $2",
	TEXTOID, TEXTOID);

static ApPlan create_plan = AP_PLAN(
	"INSERT INTO @extschema@.proposer_success_metrics"
	" (proposer_name, complexity_band, attempts, successes, window_size)"
	" VALUES ($1, $2, 0, 0, $3)"
	" ON CONFLICT (proposer_name, complexity_band) DO NOTHING",
	TEXTOID, TEXTOID, INT4OID);

static ApPlan slot_insert_plan = AP_PLAN(
	"INSERT INTO @extschema@.proposer_attempts"
	" (proposer_name, complexity_band, slot, seq, was_success, improvement_rate, recorded_at)"
	" VALUES ($1, $2, $3, $4, $5, $6, pg_catalog.now())",
	TEXTOID, TEXTOID, INT4OID, INT8OID, BOOLOID, FLOAT8OID);

/*
 * Overwrite a slot and fold the change into the (locked) metrics row in one
 * statement: the slot's old values come from a self-join, so the counts
 * change incrementally without a scan.  $10 and $11 are the successes and
 * the sum of improvement rates before this attempt (as read under the lock,
 * or recounted by a resize); $9, when not NULL, is the exact new sum
 * (recomputed once per lap).
 */
static ApPlan slot_replace_plan = AP_PLAN(
	"WITH old AS ("
	" UPDATE @extschema@.proposer_attempts a"
	" SET seq = $4, was_success = $5, improvement_rate = $6, recorded_at = pg_catalog.now()"
	" FROM (SELECT was_success, improvement_rate FROM @extschema@.proposer_attempts"
	"       WHERE proposer_name = $1 AND complexity_band = $2 AND slot = $3) o"
	" WHERE a.proposer_name = $1 AND a.complexity_band = $2 AND a.slot = $3"
	" RETURNING o.was_success::int4 AS success, o.improvement_rate AS improvement)"
	" UPDATE @extschema@.proposer_success_metrics m"
	" SET attempts = $7, successes = $10 + $5::int4 - old.success,"
	" success_rate = ($10 + $5::int4 - old.success)::float8 / $7,"
	" improvement_sum = coalesce($9, $11 + $6 - old.improvement),"
	" avg_improvement_rate = coalesce($9, $11 + $6 - old.improvement) / $7,"
	" last_seq = $4, window_size = $8, recorded_at = pg_catalog.now()"
	" FROM old WHERE m.proposer_name = $1 AND m.complexity_band = $2"
	" RETURNING m.successes",
	TEXTOID, TEXTOID, INT4OID, INT8OID, BOOLOID, FLOAT8OID, INT4OID, INT4OID, FLOAT8OID,
	INT4OID, FLOAT8OID);

/* Exact sum of the improvement rates a lap leaves in the window. */
static ApPlan lap_sum_plan = AP_PLAN(
	"SELECT coalesce(sum(improvement_rate), 0)::float8"
	" FROM @extschema@.proposer_attempts"
	" WHERE proposer_name = $1 AND complexity_band = $2 AND slot <> $3",
	TEXTOID, TEXTOID, INT4OID);

static ApPlan update_plan = AP_PLAN(
	"UPDATE @extschema@.proposer_success_metrics"
	" SET attempts = $3, successes = $4,"
	" success_rate = $4::float8 / NULLIF($3, 0), avg_improvement_rate = $5 / NULLIF($3, 0),"
	" improvement_sum = $5, last_seq = $6, window_size = $7, recorded_at = pg_catalog.now()"
	" WHERE proposer_name = $1 AND complexity_band = $2",
	TEXTOID, TEXTOID, INT4OID, INT4OID, FLOAT8OID, INT8OID, INT4OID);

static ApPlan sum_plan = AP_PLAN(
	"SELECT count(*), count(*) FILTER (WHERE was_success),"
	" coalesce(sum(improvement_rate), 0)::float8"
	" FROM @extschema@.proposer_attempts"
	" WHERE proposer_name = $1 AND complexity_band = $2",
	TEXTOID, TEXTOID);

static ApPlan prune_plan = AP_PLAN(
	"DELETE FROM @extschema@.proposer_attempts"
	" WHERE proposer_name = $1 AND complexity_band = $2 AND seq <= $3",
	TEXTOID, TEXTOID, INT8OID);

/* Renumber slots for a new ring size in two steps, so that no two rows
 * ever share a slot in between: first to negative numbers, then back. */
static ApPlan renumber_plan = AP_PLAN(
	"UPDATE @extschema@.proposer_attempts SET slot = -1 - (seq % $3)::int4"
	" WHERE proposer_name = $1 AND complexity_band = $2",
	TEXTOID, TEXTOID, INT4OID);

static ApPlan renumber_back_plan = AP_PLAN(
	"UPDATE @extschema@.proposer_attempts SET slot = -1 - slot"
	" WHERE proposer_name = $1 AND complexity_band = $2",
	TEXTOID, TEXTOID);

static ApPlan stale_keys_plan = AP_PLAN(
	"SELECT proposer_name, complexity_band FROM @extschema@.proposer_success_metrics"
	" WHERE window_size <> $1 ORDER BY proposer_name, complexity_band",
	INT4OID);

static int64
get_int64(int column)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  column, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * Lock the metrics row of a key and read it.  Returns false when the key
 * has no row yet.
 */
static bool
window_lock(Datum *key, WindowRow *row)
{
	bool		isnull;

	ap_execute(&lock_plan, key, NULL, false, 1);
	if (SPI_processed == 0)
		return false;
	row->attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 1, &isnull));
	row->successes = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 2, &isnull));
	row->improvement_sum = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 3, &isnull));
	row->last_seq = get_int64(4);
	row->window_size = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 5, &isnull));
	return true;
}

/*
 * Recount a key's ring exactly.
 */
static void
window_recount(Datum *key, WindowRow *row)
{
	bool		isnull;

	ap_execute(&sum_plan, key, NULL, false, 1);
	row->attempts = get_int64(1);
	row->successes = get_int64(2);
	row->improvement_sum = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
														SPI_tuptable->tupdesc, 3, &isnull));
}

/*
 * Bring a locked key's ring to a new size: drop the attempts that fall out
 * of the window, renumber the slots, recount.
 */
static void
window_resize(Datum *key, WindowRow *row, int32 new_size)
{
	Datum		values[3];

	values[0] = key[0];
	values[1] = key[1];
	values[2] = Int64GetDatum(row->last_seq - new_size);
	ap_execute(&prune_plan, values, NULL, false, 0);

	values[2] = Int32GetDatum(new_size);
	ap_execute(&renumber_plan, values, NULL, false, 0);
	ap_execute(&renumber_back_plan, values, NULL, false, 0);

	window_recount(key, row);
	row->window_size = new_size;
}

/*
 * Write a locked key's metrics row from its counts.
 */
static void
window_store(Datum *key, const WindowRow *row)
{
	Datum		values[7];

	values[0] = key[0];
	values[1] = key[1];
	values[2] = Int32GetDatum((int32) row->attempts);
	values[3] = Int32GetDatum((int32) row->successes);
	values[4] = Float8GetDatum(row->improvement_sum);
	values[5] = Int64GetDatum(row->last_seq);
	values[6] = Int32GetDatum(row->window_size);
	ap_execute(&update_plan, values, NULL, false, 0);
}

/*
 * Add one attempt to the window of (proposer, band) and bring its metrics
 * up to date.  The first attempt of a key registers an unknown proposer.
 */
void
window_record_attempt(text *proposer, const char *band, bool was_success,
					  double improvement_rate, WindowState *state)
{
	int32		size = ap_window_size;
	Datum		key[2];
	WindowRow	row;
	Datum		values[6];
	int32		slot;

	key[0] = PointerGetDatum(proposer);
	key[1] = CStringGetTextDatum(band);

	if (!window_lock(key, &row))
	{
		Datum		create_values[3];

		proposer_ensure_registered(proposer);
		create_values[0] = key[0];
		create_values[1] = key[1];
		create_values[2] = Int32GetDatum(size);
		ap_execute(&create_plan, create_values, NULL, false, 0);
		if (!window_lock(key, &row))
			elog(ERROR, "metrics row of a new window vanished");
	}

	if (row.window_size != size)
		window_resize(key, &row, size);

	row.last_seq++;
	slot = (int32) (row.last_seq % size);
	values[0] = key[0];
	values[1] = key[1];
	values[2] = Int32GetDatum(slot);
	values[3] = Int64GetDatum(row.last_seq);
	values[4] = BoolGetDatum(was_success);
	values[5] = Float8GetDatum(improvement_rate);

	if (row.attempts < size)
	{
		/* The window holds the last `attempts` seqs, so this slot is free. */
		ap_execute(&slot_insert_plan, values, NULL, false, 0);
		row.attempts++;
		row.successes += was_success ? 1 : 0;
		row.improvement_sum += improvement_rate;
		window_store(key, &row);
	}
	else
	{
		Datum		replace_values[11];
		char		replace_nulls[11];
		bool		isnull;

		memcpy(replace_values, values, sizeof(values));
		memset(replace_nulls, ' ', sizeof(replace_nulls));
		replace_nulls[8] = 'n';
		replace_values[6] = Int32GetDatum((int32) row.attempts);
		replace_values[7] = Int32GetDatum(size);
		replace_values[8] = (Datum) 0;
		replace_values[9] = Int32GetDatum((int32) row.successes);
		replace_values[10] = Float8GetDatum(row.improvement_sum);

		/* Once per lap, replace the running sum by the exact one. */
		if (slot == 0)
		{
			ap_execute(&lap_sum_plan, values, NULL, false, 1);
			replace_values[8] = Float8GetDatum(improvement_rate +
											   DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
																			SPI_tuptable->tupdesc, 1, &isnull)));
			replace_nulls[8] = ' ';
		}

		ap_execute(&slot_replace_plan, replace_values, replace_nulls, false, 0);
		if (SPI_processed != 1)
			elog(ERROR, "slot %d of the window of proposer \"%s\" band %s is missing",
				 slot, text_to_cstring(proposer), band);
		row.successes = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
	}

	state->attempts = (int) row.attempts;
	state->success_rate = row.attempts > 0 ?
		(double) row.successes / (double) row.attempts : 0.0;
}

/*
 * Read a key's current window without changing it.  Returns false when
 * the key has no window yet.
 */
bool
window_current(text *proposer, const char *band, WindowState *state)
{
	Datum		key[2];
	bool		isnull;

	key[0] = PointerGetDatum(proposer);
	key[1] = CStringGetTextDatum(band);
	ap_execute(&read_plan, key, NULL, false, 1);
	if (SPI_processed == 0)
	{
		state->attempts = 0;
		state->success_rate = 0.0;
		return false;
	}
	state->attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	state->success_rate = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 2, &isnull));
	if (isnull)
		state->success_rate = 0.0;
	return true;
}

/*
 * resize_windows() returns integer: apply the current window_size to every
 * window at once (record_work_order applies it to a key on its next call).
 */
Datum
ap_resize_windows(PG_FUNCTION_ARGS)
{
	int32		size = ap_window_size;
	Datum		arg = Int32GetDatum(size);
	SPITupleTable *keys;
	uint64		count;
	uint64		i;

	AP_ENTER();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	ap_execute(&stale_keys_plan, &arg, NULL, false, 0);
	keys = SPI_tuptable;
	count = SPI_processed;
	for (i = 0; i < count; i++)
	{
		Datum		key[2];
		bool		isnull;
		WindowRow	row;

		key[0] = SPI_getbinval(keys->vals[i], keys->tupdesc, 1, &isnull);
		key[1] = SPI_getbinval(keys->vals[i], keys->tupdesc, 2, &isnull);
		if (!window_lock(key, &row) || row.window_size == size)
			continue;
		window_resize(key, &row, size);
		window_store(key, &row);
	}

	SPI_finish();
	PG_RETURN_INT32((int32) count);
}
