/*-------------------------------------------------------------------------
 *
 * known_versions.c
 *	  Is the prompt version or CODE@N token a work order reports one that
 *	  exists?  record_work_order refuses unknown ones (42704): a typo would
 *	  otherwise be logged and silently never counted in any A/B test.
 *
 * The answer is kept per backend for versions that were found, so a caller
 * that reports the same few versions all day asks the tables once.
 * Versions are only ever added in normal use; a statement trigger on
 * DELETE, UPDATE and TRUNCATE of prompt_versions and enhancement_versions
 * queues a relcache invalidation, whose callback empties the set.  A
 * version found under a transaction snapshot (REPEATABLE READ,
 * SERIALIZABLE), or while an invalidation arrived, is not kept, as in
 * activity.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "adaptive_prompts.h"
#include "prompts.h"

/* A key: "p" proposer NUL version, or "e" code NUL version number. */
#define KNOWN_KEY_LEN (2 * AP_MAX_NAME_BYTES + 16)

/* At most this many versions are kept; past it, the set starts anew. */
#define KNOWN_MAX_ENTRIES 10000

typedef struct KnownVersion
{
	char		key[KNOWN_KEY_LEN];
} KnownVersion;

static HTAB *known = NULL;
static bool callback_registered = false;
static uint64 invalidations_received = 0;

/* The tables the set was filled from. */
static Oid	prompt_versions_relid = InvalidOid;
static Oid	enhancement_versions_relid = InvalidOid;

static ApPlan prompt_version_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.prompt_versions"
	" WHERE version = $1 AND proposer_name = $2",
	TEXTOID, TEXTOID);

static ApPlan enhancement_version_plan = AP_PLAN(
	"SELECT 1 FROM @extschema@.enhancement_versions"
	" WHERE error_code = $1 AND version = $2",
	TEXTOID, INT4OID);

/*
 * Relcache invalidation callback: a version may have been deleted or
 * renamed.
 */
static void
known_invalidate(Datum arg, Oid relid)
{
	(void) arg;
	if (relid != InvalidOid && relid != prompt_versions_relid &&
		relid != enhancement_versions_relid)
		return;
	invalidations_received++;
	if (known != NULL)
	{
		hash_destroy(known);
		known = NULL;
	}
}

static void
known_key(char *key, char kind, const char *first, int first_len,
		  const char *second, int second_len)
{
	memset(key, 0, KNOWN_KEY_LEN);
	key[0] = kind;
	memcpy(key + 1, first, Min(first_len, AP_MAX_NAME_BYTES));
	memcpy(key + 2 + AP_MAX_NAME_BYTES, second, Min(second_len, AP_MAX_NAME_BYTES));
}

/*
 * Whether key is known; otherwise run plan with values and remember the
 * key when a row came back.
 */
static bool
known_lookup(const char *key, ApPlan *plan, Datum *values)
{
	uint64		received_before;
	bool		found;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(known_invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (known != NULL && hash_search(known, key, HASH_FIND, NULL) != NULL)
		return true;

	received_before = invalidations_received;
	ap_execute(plan, values, NULL, false, 1);
	found = SPI_processed > 0;
	if (found && !IsolationUsesXactSnapshot() &&
		invalidations_received == received_before)
	{
		if (known == NULL || hash_get_num_entries(known) >= KNOWN_MAX_ENTRIES)
		{
			HASHCTL		ctl;

			if (known != NULL)
				hash_destroy(known);
			ctl.keysize = KNOWN_KEY_LEN;
			ctl.entrysize = sizeof(KnownVersion);
			ctl.hcxt = TopMemoryContext;
			known = hash_create("adaptive_prompts known versions", 256, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
			prompt_versions_relid = get_relname_relid("prompt_versions",
													  ap_extension_schema());
			enhancement_versions_relid = get_relname_relid("enhancement_versions",
														   ap_extension_schema());
		}
		hash_search(known, key, HASH_ENTER, NULL);
	}
	return found;
}

/*
 * Raise 42704 unless version is the built-in default or a registered
 * version of proposer.  Must be called inside SPI.
 */
void
known_require_prompt_version(text *proposer, text *version)
{
	char		key[KNOWN_KEY_LEN];
	Datum		values[2];
	int			len = VARSIZE_ANY_EXHDR(version);

	if (len == (int) strlen(AP_DEFAULT_PROMPT_VERSION) &&
		memcmp(VARDATA_ANY(version), AP_DEFAULT_PROMPT_VERSION, len) == 0)
		return;

	known_key(key, 'p', VARDATA_ANY(proposer), VARSIZE_ANY_EXHDR(proposer),
			  VARDATA_ANY(version), len);
	values[0] = PointerGetDatum(version);
	values[1] = PointerGetDatum(proposer);
	if (!known_lookup(key, &prompt_version_plan, values))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("prompt_version \"%s\" is not a version of proposer \"%s\"",
						text_to_cstring(version), text_to_cstring(proposer)),
				 errhint("Pass the version that build_enhanced_prompt() or get_active_prompt_version() returned for the work order.")));
}

/*
 * Raise 42704 unless every CODE@N token with N > 0 names an existing
 * version of the code's text.  Bare codes mean the live version, CODE@0
 * the held-out arm; both are always accepted.  Must be called inside SPI.
 */
void
known_require_enhancement_versions(const UsedEnhancement *used, int count)
{
	int			i;

	for (i = 0; i < count; i++)
	{
		char		key[KNOWN_KEY_LEN];
		char		number[16];
		Datum		values[2];

		if (used[i].version <= 0)
			continue;
		snprintf(number, sizeof(number), "%d", used[i].version);
		known_key(key, 'e', used[i].code, strlen(used[i].code), number, strlen(number));
		values[0] = CStringGetTextDatum(used[i].code);
		values[1] = Int32GetDatum(used[i].version);
		if (!known_lookup(key, &enhancement_version_plan, values))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("enhancements_used names version %d of error code \"%s\", which does not exist",
							used[i].version, used[i].code),
					 errhint("Pass the tokens that build_enhanced_prompt() returned in used, or bare error codes.")));
	}
}
