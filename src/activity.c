/*-------------------------------------------------------------------------
 *
 * activity.c
 *	  Does anything need counting?  A backend-local answer to "is any
 *	  threshold experiment open?" (and the same for A/B tests), so that
 *	  record_work_order skips those lookups while nothing runs, which is
 *	  most of the time.
 *
 * The answer is kept until the table changes: a statement trigger on the
 * table queues a relcache invalidation of it, which every backend receives
 * when the writing transaction commits (at its next transaction start at
 * the latest), and the callback registered here forgets the answer.  A
 * backend whose transaction began before the commit may miss that the
 * experiment started, exactly as its snapshot would -- but only that
 * transaction: an answer read under a transaction snapshot (REPEATABLE READ,
 * SERIALIZABLE) may predate a commit whose invalidation already arrived, so
 * "nothing is open" read that way is kept for the rest of that transaction
 * only; and an answer during whose reading an invalidation arrived is not
 * kept at all.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"

#include "adaptive_prompts.h"

PG_FUNCTION_INFO_V1(ap_invalidate_activity);

typedef enum ActivityState
{
	ACTIVITY_UNKNOWN,
	ACTIVITY_NONE,
	ACTIVITY_SOME
} ActivityState;

typedef struct ActivityCache
{
	const char *table;
	ApPlan		probe;
	Oid			relid;			/* OID of the table when the state was read */
	ActivityState state;
	LocalTransactionId only_in;	/* the transaction the state holds for, or
								 * InvalidLocalTransactionId: until invalidated */
} ActivityCache;

static ActivityCache experiments_cache = {
	"threshold_experiments",
	AP_PLAN_NO_ARGS("SELECT 1 FROM @extschema@.threshold_experiments"
					" WHERE status = 'running' OR watching LIMIT 1"),
	InvalidOid, ACTIVITY_UNKNOWN, InvalidLocalTransactionId
};

static ActivityCache ab_tests_cache = {
	"ab_tests",
	AP_PLAN_NO_ARGS("SELECT 1 FROM @extschema@.ab_tests"
					" WHERE status IN ('running', 'watching') LIMIT 1"),
	InvalidOid, ACTIVITY_UNKNOWN, InvalidLocalTransactionId
};

static bool callback_registered = false;

/* Relcache invalidations received so far, to notice one during a probe. */
static uint64 invalidations_received = 0;

#if PG_VERSION_NUM >= 170000
#define CURRENT_LOCAL_XID() (MyProc->vxid.lxid)
#else
#define CURRENT_LOCAL_XID() (MyProc->lxid)
#endif

/*
 * Relcache invalidation callback: forget what we knew about a table that
 * changed (InvalidOid: everything may have changed).
 */
static void
activity_invalidate(Datum arg, Oid relid)
{
	(void) arg;
	invalidations_received++;
	if (relid == InvalidOid || relid == experiments_cache.relid)
		experiments_cache.state = ACTIVITY_UNKNOWN;
	if (relid == InvalidOid || relid == ab_tests_cache.relid)
		ab_tests_cache.state = ACTIVITY_UNKNOWN;
}

/*
 * Whether the cached table has an open row; asks the table only when the
 * answer is unknown.  Must be called inside SPI.
 */
static bool
activity_open(ActivityCache *cache)
{
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(activity_invalidate, (Datum) 0);
		callback_registered = true;
	}

	if (cache->state != ACTIVITY_UNKNOWN &&
		cache->only_in != InvalidLocalTransactionId &&
		cache->only_in != CURRENT_LOCAL_XID())
		cache->state = ACTIVITY_UNKNOWN;

	if (cache->state == ACTIVITY_UNKNOWN)
	{
		uint64		received_before = invalidations_received;
		ActivityState answer;

		ap_execute(&cache->probe, NULL, NULL, false, 1);
		answer = SPI_processed > 0 ? ACTIVITY_SOME : ACTIVITY_NONE;
		cache->relid = get_relname_relid(cache->table, ap_extension_schema());
		if (invalidations_received != received_before)
			return answer == ACTIVITY_SOME;
		cache->state = answer;
		cache->only_in = (answer == ACTIVITY_NONE && IsolationUsesXactSnapshot()) ?
			CURRENT_LOCAL_XID() : InvalidLocalTransactionId;
	}
	return cache->state == ACTIVITY_SOME;
}

bool
activity_experiments_open(void)
{
	return activity_open(&experiments_cache);
}

bool
activity_ab_tests_open(void)
{
	return activity_open(&ab_tests_cache);
}

/*
 * Statement trigger on threshold_experiments and ab_tests: every backend
 * forgets its cached answer for the table when this transaction commits.
 */
Datum
ap_invalidate_activity(PG_FUNCTION_ARGS)
{
	TriggerData *trigger = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("ap_invalidate_activity() must be called as a trigger")));
	CacheInvalidateRelcacheByRelid(RelationGetRelid(trigger->tg_relation));
	return PointerGetDatum(NULL);
}
