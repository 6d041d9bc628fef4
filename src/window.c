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

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/indexing.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

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

/* Exact sum of the improvement rates a lap leaves in the window. */
static ApPlan lap_sum_plan = AP_PLAN(
	"SELECT coalesce(sum(improvement_rate), 0)::float8"
	" FROM @extschema@.proposer_attempts"
	" WHERE proposer_name = $1 AND complexity_band = $2 AND slot <> $3",
	TEXTOID, TEXTOID, INT4OID);

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
 * Direct writes.  In the steady state an attempt changes one ring row and
 * the metrics row, both of its own key, and it holds the metrics row's lock
 * while it does, so nobody else writes them.  Each row is found by its
 * primary key, its changed columns are replaced, and it is updated in place
 * (a HOT update when the page has room; otherwise CatalogTupleUpdate adds
 * its index entry).  This saves two executor start-ups per call, the
 * largest cost of the hot path after the commit itself.  The tables carry
 * no triggers; the extension alone writes them.
 */
typedef struct DirectTable
{
	const char *table;
	const char *index;
	int			ncolumns;
	const char *columns[8];
	Oid			relid;
	Oid			index_oid;
	int			attnums[8];
} DirectTable;

enum
{
	RING_SEQ,
	RING_WAS_SUCCESS,
	RING_IMPROVEMENT_RATE,
	RING_RECORDED_AT
};

static DirectTable ring_table = {
	.table = "proposer_attempts",
	.index = "proposer_attempts_pkey",
	.ncolumns = 4,
	.columns = {"seq", "was_success", "improvement_rate", "recorded_at"}
};

enum
{
	METRICS_ATTEMPTS,
	METRICS_SUCCESSES,
	METRICS_SUCCESS_RATE,
	METRICS_AVG_IMPROVEMENT_RATE,
	METRICS_IMPROVEMENT_SUM,
	METRICS_LAST_SEQ,
	METRICS_WINDOW_SIZE,
	METRICS_RECORDED_AT
};

static DirectTable metrics_table = {
	.table = "proposer_success_metrics",
	.index = "proposer_success_metrics_pkey",
	.ncolumns = 8,
	.columns = {"attempts", "successes", "success_rate", "avg_improvement_rate",
	"improvement_sum", "last_seq", "window_size", "recorded_at"}
};

/*
 * Resolve (or re-resolve, after the extension was re-created) a table's
 * OIDs and column numbers.
 */
static void
direct_table_resolve(DirectTable *t)
{
	Oid			schema = ap_extension_schema();
	Oid			relid = get_relname_relid(t->table, schema);
	int			i;

	if (!OidIsValid(relid))
		elog(ERROR, "table %s.%s not found", ap_extension_schema_name(), t->table);
	if (relid == t->relid)
		return;
	t->index_oid = get_relname_relid(t->index, schema);
	if (!OidIsValid(t->index_oid))
		elog(ERROR, "index %s.%s not found", ap_extension_schema_name(), t->index);
	for (i = 0; i < t->ncolumns; i++)
	{
		t->attnums[i] = get_attnum(relid, t->columns[i]);
		if (t->attnums[i] == InvalidAttrNumber)
			elog(ERROR, "column %s of %s not found", t->columns[i], t->table);
	}
	t->relid = relid;
}

/*
 * Open an index scan of a table's primary key for one (proposer, band) key,
 * and a slot of it for the ring (slot -1: no slot column).  systable_beginscan
 * maps these heap column numbers to the index's.
 */
static SysScanDesc
key_scan_begin(DirectTable *t, Relation rel, Snapshot snapshot,
			   Datum proposer, Datum band, int32 slot)
{
	ScanKeyData keys[3];

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, proposer);
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_TEXTEQ, band);
	if (slot >= 0)
		ScanKeyInit(&keys[2], 3, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(slot));
	return systable_beginscan(rel, t->index_oid, true, snapshot,
							  slot >= 0 ? 3 : 2, keys);
}

/*
 * Find a row of a key (and slot, for the ring; -1 for metrics) by primary
 * key and replace its columns with values; old_values, when not NULL,
 * receives what they held (all are pass-by-value types).  The caller holds
 * the key's metrics row lock, and makes the change visible to later
 * statements with CommandCounterIncrement().
 */
static void
direct_update(DirectTable *t, Datum proposer, Datum band, int32 slot,
			  Datum *values, bool *nulls, Datum *old_values)
{
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	old_tuple;
	HeapTuple	new_tuple;

	direct_table_resolve(t);
	rel = table_open(t->relid, RowExclusiveLock);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = key_scan_begin(t, rel, snapshot, proposer, band, slot);
	old_tuple = systable_getnext(scan);
	if (!HeapTupleIsValid(old_tuple))
		elog(ERROR, "row of %s for proposer \"%s\" band %s%s not found", t->table,
			 TextDatumGetCString(proposer), TextDatumGetCString(band),
			 slot >= 0 ? " slot" : "");
	if (old_values != NULL)
	{
		int			i;
		bool		isnull;

		for (i = 0; i < t->ncolumns; i++)
			old_values[i] = heap_getattr(old_tuple, t->attnums[i],
										 RelationGetDescr(rel), &isnull);
	}
	new_tuple = heap_modify_tuple_by_cols(old_tuple, RelationGetDescr(rel),
										  t->ncolumns, t->attnums, values, nulls);
	CatalogTupleUpdate(rel, &old_tuple->t_self, new_tuple);
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, RowExclusiveLock);
}

/*
 * Overwrite a ring slot; returns what it held.
 */
static void
ring_replace(Datum *key, int32 slot, int64 seq, bool was_success,
			 double improvement_rate, bool *old_success, double *old_improvement)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Datum		old_values[4];

	values[RING_SEQ] = Int64GetDatum(seq);
	values[RING_WAS_SUCCESS] = BoolGetDatum(was_success);
	values[RING_IMPROVEMENT_RATE] = Float8GetDatum(improvement_rate);
	values[RING_RECORDED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	direct_update(&ring_table, key[0], key[1], slot, values, nulls, old_values);
	*old_success = DatumGetBool(old_values[RING_WAS_SUCCESS]);
	*old_improvement = DatumGetFloat8(old_values[RING_IMPROVEMENT_RATE]);
}

/*
 * Lock the metrics row of a key and read it, as SELECT ... FOR UPDATE
 * would: in READ COMMITTED the latest version is locked (waiting for a
 * concurrent writer of the key to end); under REPEATABLE READ or
 * SERIALIZABLE a version newer than the transaction's snapshot is a
 * serialization failure.  Returns false when the key has no row yet.
 */
static bool
window_lock(Datum *key, WindowRow *row)
{
	DirectTable *t = &metrics_table;
	Relation	rel;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	ItemPointerData tid;
	TupleTableSlot *slot;
	TM_FailureData failure;
	TM_Result	result;
	bool		found = false;
	bool		isnull;

	direct_table_resolve(t);
	rel = table_open(t->relid, RowExclusiveLock);
	snapshot = RegisterSnapshot(IsolationUsesXactSnapshot() ?
								GetTransactionSnapshot() : GetLatestSnapshot());
	scan = key_scan_begin(t, rel, snapshot, key[0], key[1], -1);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		tid = tuple->t_self;
		found = true;
	}
	systable_endscan(scan);

	if (found)
	{
		slot = table_slot_create(rel, NULL);
		result = table_tuple_lock(rel, &tid, snapshot, slot,
								  GetCurrentCommandId(false), LockTupleExclusive,
								  LockWaitBlock,
								  IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
								  &failure);
		switch (result)
		{
			case TM_Ok:
				row->attempts = DatumGetInt32(slot_getattr(slot, t->attnums[METRICS_ATTEMPTS], &isnull));
				row->successes = DatumGetInt32(slot_getattr(slot, t->attnums[METRICS_SUCCESSES], &isnull));
				row->improvement_sum = DatumGetFloat8(slot_getattr(slot, t->attnums[METRICS_IMPROVEMENT_SUM], &isnull));
				row->last_seq = DatumGetInt64(slot_getattr(slot, t->attnums[METRICS_LAST_SEQ], &isnull));
				row->window_size = DatumGetInt32(slot_getattr(slot, t->attnums[METRICS_WINDOW_SIZE], &isnull));
				break;
			case TM_Updated:
			case TM_Deleted:
				if (IsolationUsesXactSnapshot())
					ereport(ERROR,
							(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
							 errmsg("could not serialize access due to concurrent update")));
				/* The row went away (only a DBA deletes them): create it anew. */
				found = false;
				break;
			default:
				elog(ERROR, "unexpected result %d locking the metrics row", (int) result);
		}
		ExecDropSingleTupleTableSlot(slot);
	}
	UnregisterSnapshot(snapshot);
	table_close(rel, RowExclusiveLock);
	return found;
}

/*
 * Write a locked key's metrics row from its counts.
 */
static void
window_store(Datum *key, const WindowRow *row)
{
	Datum		values[8];
	bool		nulls[8] = {false, false, false, false, false, false, false, false};

	values[METRICS_ATTEMPTS] = Int32GetDatum((int32) row->attempts);
	values[METRICS_SUCCESSES] = Int32GetDatum((int32) row->successes);
	values[METRICS_SUCCESS_RATE] = Float8GetDatum(row->attempts > 0 ?
												  (double) row->successes / row->attempts : 0.0);
	values[METRICS_AVG_IMPROVEMENT_RATE] = Float8GetDatum(row->attempts > 0 ?
														  row->improvement_sum / row->attempts : 0.0);
	nulls[METRICS_SUCCESS_RATE] = nulls[METRICS_AVG_IMPROVEMENT_RATE] = (row->attempts == 0);
	values[METRICS_IMPROVEMENT_SUM] = Float8GetDatum(row->improvement_sum);
	values[METRICS_LAST_SEQ] = Int64GetDatum(row->last_seq);
	values[METRICS_WINDOW_SIZE] = Int32GetDatum(row->window_size);
	values[METRICS_RECORDED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	direct_update(&metrics_table, key[0], key[1], -1, values, nulls, NULL);
	CommandCounterIncrement();
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
		bool		old_success;
		double		old_improvement;
		double		rest_sum = 0.0;

		/* Once per lap, take the exact sum of what stays in the window. */
		if (slot == 0)
		{
			bool		isnull;

			ap_execute(&lap_sum_plan, values, NULL, false, 1);
			rest_sum = DatumGetFloat8(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, 1, &isnull));
		}
		ring_replace(key, slot, row.last_seq, was_success, improvement_rate,
					 &old_success, &old_improvement);
		if (slot != 0)
			rest_sum = row.improvement_sum - old_improvement;
		row.improvement_sum = rest_sum + improvement_rate;
		row.successes += (was_success ? 1 : 0) - (old_success ? 1 : 0);
		window_store(key, &row);
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
