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
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"
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
	ItemPointerData tid;		/* the metrics row version this call locked */
} WindowRow;

static ApPlan lock_plan = AP_PLAN(
	"SELECT attempts, successes, improvement_sum, last_seq, window_size, ctid"
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
 * Writing a window row.  In the steady state an attempt changes one ring
 * row and the metrics row, both of its own key, while it holds the metrics
 * row's lock, so nobody else writes them.  An UPDATE through SPI costs two
 * executor start-ups per call, the largest cost of the hot path after the
 * commit itself, so the rows are updated directly -- but only while the
 * table is exactly as the extension created it, where a direct update is
 * provably what the UPDATE would do: a heap table whose only index is the
 * plain btree primary key (deterministic collations), with no triggers,
 * no CHECK constraints, no stored generated columns, no row-level
 * security, the expected column types, and no NOT NULL constraint on a
 * column written as NULL.  The decision is taken from the relation itself
 * with the table locked, and forgotten on every relcache invalidation of
 * the table (an index, trigger or constraint a DBA adds, REINDEX, VACUUM
 * FULL) and on a change of the extension's schema.  Otherwise the general
 * path runs an ordinary UPDATE through SPI, so a DBA's expression or
 * partial index, trigger or constraint is maintained and enforced.
 */
typedef struct WindowTable
{
	const char *table;
	int			nkeys;			/* leading primary key columns */
	const char *keys[3];
	Oid			key_types[3];
	int			ncolumns;		/* columns an update writes */
	const char *columns[8];
	Oid			column_types[8];
	bool		column_nullable[8]; /* may be written as NULL */
	ApPlan		update_plan;	/* the general path */
	int			nreturning;		/* old values update_plan returns */
	int			returning[2];	/* ... into these positions of columns */

	/* Resolved from the relation; valid until an invalidation. */
	Oid			relid;
	uint32		schema_generation;
	bool		resolved;
	bool		direct;
	Oid			index_oid;
	AttrNumber	key_attnums[3];
	Oid			key_procs[3];	/* equality functions of the index's opfamilies */
	Oid			key_collations[3];
	int			attnums[8];
} WindowTable;

enum
{
	RING_SEQ,
	RING_WAS_SUCCESS,
	RING_IMPROVEMENT_RATE,
	RING_RECORDED_AT
};

static WindowTable ring_table = {
	.table = "proposer_attempts",
	.nkeys = 3,
	.keys = {"proposer_name", "complexity_band", "slot"},
	.key_types = {TEXTOID, TEXTOID, INT4OID},
	.ncolumns = 4,
	.columns = {"seq", "was_success", "improvement_rate", "recorded_at"},
	.column_types = {INT8OID, BOOLOID, FLOAT8OID, TIMESTAMPTZOID},
	.column_nullable = {false, false, false, false},
	/* The subquery reads the slot as it was before the update. */
	.update_plan = AP_PLAN(
		"UPDATE @extschema@.proposer_attempts a"
		" SET seq = $4, was_success = $5, improvement_rate = $6, recorded_at = $7"
		" FROM (SELECT was_success, improvement_rate FROM @extschema@.proposer_attempts"
		"       WHERE proposer_name = $1 AND complexity_band = $2 AND slot = $3) o"
		" WHERE a.proposer_name = $1 AND a.complexity_band = $2 AND a.slot = $3"
		" RETURNING o.was_success, o.improvement_rate",
		TEXTOID, TEXTOID, INT4OID, INT8OID, BOOLOID, FLOAT8OID, TIMESTAMPTZOID),
	.nreturning = 2,
	.returning = {RING_WAS_SUCCESS, RING_IMPROVEMENT_RATE}
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

static WindowTable metrics_table = {
	.table = "proposer_success_metrics",
	.nkeys = 2,
	.keys = {"proposer_name", "complexity_band"},
	.key_types = {TEXTOID, TEXTOID},
	.ncolumns = 8,
	.columns = {"attempts", "successes", "success_rate", "avg_improvement_rate",
	"improvement_sum", "last_seq", "window_size", "recorded_at"},
	.column_types = {INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID, INT8OID,
	INT4OID, TIMESTAMPTZOID},
	.column_nullable = {false, false, true, true, false, false, false, false},
	.update_plan = AP_PLAN(
		"UPDATE @extschema@.proposer_success_metrics"
		" SET attempts = $3, successes = $4, success_rate = $5,"
		" avg_improvement_rate = $6, improvement_sum = $7, last_seq = $8,"
		" window_size = $9, recorded_at = $10"
		" WHERE proposer_name = $1 AND complexity_band = $2",
		TEXTOID, TEXTOID, INT4OID, INT4OID, FLOAT8OID, FLOAT8OID, FLOAT8OID,
		INT8OID, INT4OID, TIMESTAMPTZOID)
};

static bool window_callback_registered = false;

/*
 * Relcache invalidation callback: forget what was decided about a window
 * table that changed (InvalidOid: any may have).
 */
static void
window_table_invalidate(Datum arg, Oid relid)
{
	(void) arg;
	if (relid == InvalidOid || relid == ring_table.relid)
		ring_table.resolved = false;
	if (relid == InvalidOid || relid == metrics_table.relid)
		metrics_table.resolved = false;
}

/*
 * Whether a direct update of the open, locked relation is what an UPDATE
 * of it would do (see above); fills in the column numbers and scan keys
 * the direct path needs.
 */
static bool
window_table_allows_direct(WindowTable *t, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *indexes;
	Relation	index;
	bool		plain = true;
	int			i;

	if (rel->rd_rel->relkind != RELKIND_RELATION ||
		rel->rd_rel->relam != HEAP_TABLE_AM_OID ||
		rel->trigdesc != NULL ||
		rel->rd_rel->relrowsecurity ||
		(desc->constr != NULL &&
		 (desc->constr->num_check > 0 || desc->constr->has_generated_stored)))
		return false;

	for (i = 0; i < t->ncolumns; i++)
	{
		AttrNumber	attnum = get_attnum(RelationGetRelid(rel), t->columns[i]);
		Form_pg_attribute attr;

		if (attnum <= 0)
			return false;
		attr = TupleDescAttr(desc, attnum - 1);
		if (attr->atttypid != t->column_types[i] ||
			(t->column_nullable[i] && attr->attnotnull))
			return false;
		t->attnums[i] = attnum;
	}

	indexes = RelationGetIndexList(rel);
	if (list_length(indexes) != 1 ||
		linitial_oid(indexes) != RelationGetPrimaryKeyIndex(rel))
	{
		list_free(indexes);
		return false;
	}
	t->index_oid = linitial_oid(indexes);
	list_free(indexes);

	index = index_open(t->index_oid, AccessShareLock);
	if (index->rd_rel->relam != BTREE_AM_OID ||
		!index->rd_index->indimmediate ||
		IndexRelationGetNumberOfKeyAttributes(index) != t->nkeys ||
		IndexRelationGetNumberOfAttributes(index) != t->nkeys ||
		RelationGetIndexExpressions(index) != NIL ||
		RelationGetIndexPredicate(index) != NIL)
		plain = false;
	for (i = 0; plain && i < t->nkeys; i++)
	{
		AttrNumber	attnum = index->rd_index->indkey.values[i];
		Oid			collation = index->rd_indcollation[i];
		Oid			operator;

		if (attnum <= 0 ||
			strcmp(NameStr(TupleDescAttr(desc, attnum - 1)->attname), t->keys[i]) != 0 ||
			TupleDescAttr(desc, attnum - 1)->atttypid != t->key_types[i] ||
			index->rd_opcintype[i] != t->key_types[i] ||
			(OidIsValid(collation) && !get_collation_isdeterministic(collation)))
		{
			plain = false;
			break;
		}
		operator = get_opfamily_member(index->rd_opfamily[i], t->key_types[i],
									   t->key_types[i], BTEqualStrategyNumber);
		if (!OidIsValid(operator))
		{
			plain = false;
			break;
		}
		t->key_attnums[i] = attnum;
		t->key_procs[i] = get_opcode(operator);
		t->key_collations[i] = collation;
	}
	index_close(index, AccessShareLock);
	return plain;
}

/*
 * Open a window table, locked for writing, and decide (again, after an
 * invalidation) whether it may be updated directly.
 */
static Relation
window_table_open(WindowTable *t)
{
	uint32		generation = ap_schema_generation();
	Relation	rel = NULL;

	if (!window_callback_registered)
	{
		CacheRegisterRelcacheCallback(window_table_invalidate, (Datum) 0);
		window_callback_registered = true;
	}

	if (OidIsValid(t->relid) && t->schema_generation == generation)
		rel = try_table_open(t->relid, RowExclusiveLock);
	if (rel == NULL)
	{
		t->relid = get_relname_relid(t->table, ap_extension_schema());
		t->schema_generation = generation;
		t->resolved = false;
		if (!OidIsValid(t->relid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"%s.%s\" of extension \"adaptive_prompts\" does not exist",
							ap_extension_schema_name(), t->table),
					 errhint("Reinstall the extension.")));
		rel = table_open(t->relid, RowExclusiveLock);
	}

	/*
	 * Invalidations were processed when the lock was taken; one arriving
	 * while deciding marks the decision stale for the next call.
	 */
	if (!t->resolved)
	{
		t->resolved = true;
		t->direct = window_table_allows_direct(t, rel);
	}
	return rel;
}

/*
 * Find the row of a key by the primary key, under the caller's lock of the
 * key.  Returns NULL when there is none.
 */
static HeapTuple
direct_fetch(WindowTable *t, Relation rel, Snapshot snapshot, Datum *key,
			 SysScanDesc *scan)
{
	ScanKeyData keys[3];
	int			i;

	for (i = 0; i < t->nkeys; i++)
		ScanKeyEntryInitialize(&keys[i], 0, t->key_attnums[i],
							   BTEqualStrategyNumber, InvalidOid,
							   t->key_collations[i], t->key_procs[i], key[i]);
	*scan = systable_beginscan(rel, t->index_oid, true, snapshot, t->nkeys, keys);
	return systable_getnext(*scan);
}

/*
 * Replace a row's columns in place, as UPDATE would for the table as it is
 * (window_table_allows_direct): a HOT update when the page has room,
 * otherwise a new entry in the primary key, the only index.
 */
static void
direct_replace(WindowTable *t, Relation rel, HeapTuple old_tuple,
			   Datum *values, bool *nulls)
{
	HeapTuple	new_tuple;

	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	new_tuple = heap_modify_tuple_by_cols(old_tuple, RelationGetDescr(rel),
										  t->ncolumns, t->attnums, values, nulls);
	simple_heap_update(rel, &old_tuple->t_self, new_tuple);
	if (!HeapTupleIsHeapOnly(new_tuple))
	{
		Relation	index = index_open(t->index_oid, RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);
		Datum		index_values[INDEX_MAX_KEYS];
		bool		index_nulls[INDEX_MAX_KEYS];
		int			i;

		for (i = 0; i < t->nkeys; i++)
			index_values[i] = heap_getattr(new_tuple, t->key_attnums[i],
										   RelationGetDescr(rel), &index_nulls[i]);
		index_insert(index, index_values, index_nulls, &new_tuple->t_self, rel,
					 UNIQUE_CHECK_YES, true, info);
		index_close(index, RowExclusiveLock);
	}
	heap_freetuple(new_tuple);
}

/*
 * Update the row of a key (and slot, for the ring) with values, directly
 * or through SPI.  old_values, when not NULL, receives what the columns
 * held (all are pass-by-value types).  Returns false when the row does not
 * exist.  The caller holds the key's metrics row lock; locked_tid, when not
 * NULL, is the row version that lock took (the metrics row), so the direct
 * path reads it by TID instead of searching the primary key again.
 */
static bool
window_update(WindowTable *t, Datum *key, Datum *values, bool *nulls,
			  Datum *old_values, ItemPointer locked_tid)
{
	Relation	rel = window_table_open(t);
	bool		found;

	if (t->direct)
	{
		Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
		SysScanDesc scan = NULL;
		HeapTupleData locked;
		Buffer		buffer = InvalidBuffer;
		HeapTuple	old_tuple = NULL;

		if (locked_tid != NULL)
		{
			locked.t_self = *locked_tid;
			if (heap_fetch(rel, snapshot, &locked, &buffer, false))
				old_tuple = &locked;
		}
		if (old_tuple == NULL)
			old_tuple = direct_fetch(t, rel, snapshot, key, &scan);

		found = HeapTupleIsValid(old_tuple);
		if (found)
		{
			if (old_values != NULL)
			{
				bool		isnull;
				int			i;

				for (i = 0; i < t->ncolumns; i++)
					old_values[i] = heap_getattr(old_tuple, t->attnums[i],
												 RelationGetDescr(rel), &isnull);
			}
			direct_replace(t, rel, old_tuple, values, nulls);
		}
		if (BufferIsValid(buffer))
			ReleaseBuffer(buffer);
		if (scan != NULL)
			systable_endscan(scan);
		UnregisterSnapshot(snapshot);
		CommandCounterIncrement();
	}
	else
	{
		Datum		args[12];
		char		arg_nulls[12];
		int			i;

		for (i = 0; i < t->nkeys; i++)
		{
			args[i] = key[i];
			arg_nulls[i] = ' ';
		}
		for (i = 0; i < t->ncolumns; i++)
		{
			args[t->nkeys + i] = values[i];
			arg_nulls[t->nkeys + i] = nulls[i] ? 'n' : ' ';
		}
		ap_execute(&t->update_plan, args, arg_nulls, false, 0);
		found = SPI_processed > 0;
		if (found && old_values != NULL)
		{
			bool		isnull;

			for (i = 0; i < t->nreturning; i++)
				old_values[t->returning[i]] = SPI_getbinval(SPI_tuptable->vals[0],
															SPI_tuptable->tupdesc,
															i + 1, &isnull);
		}
	}
	table_close(rel, NoLock);
	return found;
}

/*
 * Overwrite a ring slot, key = (proposer, band, slot); returns false when
 * the slot has no row (someone deleted it), else true and what it held.
 */
static bool
ring_replace(Datum *key, int64 seq, bool was_success, double improvement_rate,
			 bool *old_success, double *old_improvement)
{
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};
	Datum		old_values[4];

	values[RING_SEQ] = Int64GetDatum(seq);
	values[RING_WAS_SUCCESS] = BoolGetDatum(was_success);
	values[RING_IMPROVEMENT_RATE] = Float8GetDatum(improvement_rate);
	values[RING_RECORDED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (!window_update(&ring_table, key, values, nulls, old_values, NULL))
		return false;
	*old_success = DatumGetBool(old_values[RING_WAS_SUCCESS]);
	*old_improvement = DatumGetFloat8(old_values[RING_IMPROVEMENT_RATE]);
	return true;
}

/*
 * Lock the metrics row of a key and read it (SELECT ... FOR UPDATE: in READ
 * COMMITTED the latest version, waiting for a concurrent writer of the key;
 * under REPEATABLE READ or SERIALIZABLE a newer version is a serialization
 * failure).  Returns false when the key has no row yet.
 */
static bool
window_lock(Datum *key, WindowRow *row)
{
	HeapTuple	tuple;
	TupleDesc	desc;
	bool		isnull;

	ap_execute(&lock_plan, key, NULL, false, 1);
	if (SPI_processed == 0)
		return false;
	tuple = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	row->attempts = DatumGetInt32(SPI_getbinval(tuple, desc, 1, &isnull));
	row->successes = DatumGetInt32(SPI_getbinval(tuple, desc, 2, &isnull));
	row->improvement_sum = DatumGetFloat8(SPI_getbinval(tuple, desc, 3, &isnull));
	row->last_seq = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));
	row->window_size = DatumGetInt32(SPI_getbinval(tuple, desc, 5, &isnull));
	ItemPointerCopy((ItemPointer) DatumGetPointer(SPI_getbinval(tuple, desc, 6, &isnull)),
					&row->tid);
	return true;
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

	/* The row is locked by this transaction: it cannot have gone away. */
	if (!window_update(&metrics_table, key, values, nulls, NULL,
					   (ItemPointer) &row->tid))
		elog(ERROR, "locked metrics row not found");
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

		state->auto_registered = proposer_ensure_registered(proposer);
		create_values[0] = key[0];
		create_values[1] = key[1];
		create_values[2] = Int32GetDatum(size);
		ap_execute(&create_plan, create_values, NULL, false, 0);
		if (!window_lock(key, &row))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("the window of proposer \"%s\" in band %s was removed by a concurrent transaction",
							text_to_cstring(proposer), band),
					 errhint("Retry the call.")));
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
		if (ring_replace(values, row.last_seq, was_success, improvement_rate,
						 &old_success, &old_improvement))
		{
			if (slot != 0)
				rest_sum = row.improvement_sum - old_improvement;
			row.improvement_sum = rest_sum + improvement_rate;
			row.successes += (was_success ? 1 : 0) - (old_success ? 1 : 0);
		}
		else
		{
			/* Someone deleted the slot's row: write it and count anew. */
			ap_execute(&slot_insert_plan, values, NULL, false, 0);
			window_recount(key, &row);
		}
	}
	window_store(key, &row);

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
	ap_require_writable("resize_windows()");
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
