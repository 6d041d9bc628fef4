/*-------------------------------------------------------------------------
 *
 * common.c
 *	  Kept SPI plans qualified with the extension's schema, argument
 *	  validation shared by the SQL-callable functions, and the hash that
 *	  turns an id into a uniform number for sampling and A/B assignment.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "tcop/utility.h"

#include "adaptive_prompts.h"

/*
 * Schema the extension is installed in, as seen by the current call, and a
 * generation number that changes whenever its OID or its name does: kept
 * plans hold the schema's name in their text, so they are prepared again
 * after ALTER SCHEMA ... RENAME or a re-created extension.
 */
static Oid	current_schema_oid = InvalidOid;
static char *current_schema_name = NULL;
static uint32 schema_generation = 1;
static bool schema_name_stale = false;
static bool schema_callback_registered = false;

/*
 * Syscache callback for pg_namespace: any schema may have been renamed or
 * dropped, so the name is looked up again on next use.
 */
static void
schema_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	(void) arg;
	(void) cacheid;
	(void) hashvalue;
	schema_name_stale = true;
}

/*
 * Remember schema as the extension's, with its current name; a different
 * OID or name starts a new generation.
 */
static void
set_current_schema(Oid schema)
{
	char	   *name;

	if (!schema_callback_registered)
	{
		CacheRegisterSyscacheCallback(NAMESPACEOID, schema_invalidate, (Datum) 0);
		schema_callback_registered = true;
	}
	if (schema == current_schema_oid && !schema_name_stale)
		return;

	schema_name_stale = false;
	name = get_namespace_name(schema);
	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("the schema of extension \"adaptive_prompts\" does not exist")));
	if (schema != current_schema_oid || current_schema_name == NULL ||
		strcmp(name, current_schema_name) != 0)
	{
		if (current_schema_name)
			pfree(current_schema_name);
		current_schema_name = MemoryContextStrdup(TopMemoryContext, name);
		current_schema_oid = schema;
		schema_generation++;
	}
	pfree(name);
}

/* Who acts when no person calls: the background worker names itself. */
static const char *current_actor = NULL;

/*
 * The installed extension's OID and schema, from pg_extension; InvalidOid
 * when it is not installed in this database.  *version (when not NULL)
 * gets its version, palloc'd.
 */
Oid
ap_find_extension(Oid *schema, char **version)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			extension = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("adaptive_prompts"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tuple);

		extension = form->oid;
		*schema = form->extnamespace;
		if (version != NULL)
		{
			bool		isnull;
			Datum		datum = heap_getattr(tuple, Anum_pg_extension_extversion,
											 RelationGetDescr(rel), &isnull);

			*version = isnull ? pstrdup("") : TextDatumGetCString(datum);
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return extension;
}

/*
 * The schema of the installed extension; an error when it is not installed.
 */
static Oid
lookup_extension_schema(void)
{
	Oid			schema = InvalidOid;

	if (!OidIsValid(ap_find_extension(&schema, NULL)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"adaptive_prompts\" is not installed in this database")));
	return schema;
}

/*
 * Remember the schema the extension lives in.  SQL-callable functions call
 * this with their own OID: a function of the extension lives in its schema,
 * and the syscache answers without a catalog scan.
 */
void
ap_enter_function(Oid fn_oid)
{
	Oid			schema = get_func_namespace(fn_oid);

	if (!OidIsValid(schema))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	set_current_schema(schema);
}

/*
 * Use schema as the extension's schema from now on.  The background
 * worker looks the extension up in each transaction (it may have been
 * dropped, or created again in another schema) and tells the kept plans
 * here; plans prepared for another schema are prepared again.
 */
void
ap_use_extension_schema(Oid schema)
{
	set_current_schema(schema);
}

/*
 * OID of the extension's schema.
 */
Oid
ap_extension_schema(void)
{
	if (!OidIsValid(current_schema_oid))
		set_current_schema(lookup_extension_schema());
	else if (schema_name_stale)
		set_current_schema(current_schema_oid);
	return current_schema_oid;
}

/*
 * Name of the extension's schema, unquoted.
 */
const char *
ap_extension_schema_name(void)
{
	ap_extension_schema();
	return current_schema_name;
}

/*
 * Generation of the extension's schema (OID and name) the current call
 * sees; it changes when either does.
 */
uint32
ap_schema_generation(void)
{
	ap_extension_schema();
	return schema_generation;
}

/*
 * Raise 25006 in a read-only transaction or during recovery, before a
 * function that writes does anything.  (Statements run through SPI would
 * raise it too, but the direct writes of the window would not.)
 */
void
ap_require_writable(const char *function_name)
{
	PreventCommandIfReadOnly(function_name);
	PreventCommandDuringRecovery(function_name);
}

/*
 * Refuse to run the library's statements against the tables of another
 * version of the extension (a new build installed, ALTER EXTENSION ...
 * UPDATE not run yet): they would fail on a missing table or column, or
 * worse, not fail.  Checked when plans are prepared, so once per backend
 * and schema generation; a refusal is checked again at the next call.
 */
static uint32 version_checked_generation = 0;

void
ap_require_extension_version(void)
{
	uint32		generation = ap_schema_generation();
	Oid			schema;
	char	   *version = NULL;

	if (version_checked_generation == generation)
		return;
	if (OidIsValid(ap_find_extension(&schema, &version)) &&
		strcmp(version, AP_EXTVERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"adaptive_prompts\" is version %s in this database, but its library is version %s",
						version, AP_EXTVERSION),
				 errhint("Run ALTER EXTENSION adaptive_prompts UPDATE in this database.")));
	version_checked_generation = generation;
}

/*
 * The stripe of a striped counter this backend adds to.  Backend slots are
 * small integers reused by later sessions, so at most AP_COUNTER_STRIPES
 * concurrent sessions each have their own row.
 */
int
ap_counter_stripe(void)
{
	int			slot = MyBackendId != InvalidBackendId ? MyBackendId : MyProcPid;

	return slot % AP_COUNTER_STRIPES;
}

/*
 * Prepare (once per backend and schema) and return a kept plan.
 */
SPIPlanPtr
ap_plan(ApPlan *plan)
{
	uint32		generation = ap_schema_generation();

	if (plan->plan == NULL || plan->schema_generation != generation)
	{
		const char *quoted;
		StringInfoData sql;
		const char *p = plan->sql;
		const char *marker = "@extschema@";
		size_t		marker_len = strlen(marker);
		SPIPlanPtr	prepared;

		ap_require_extension_version();
		quoted = quote_identifier(current_schema_name);

		initStringInfo(&sql);
		while (*p)
		{
			if (strncmp(p, marker, marker_len) == 0)
			{
				appendStringInfoString(&sql, quoted);
				p += marker_len;
			}
			else
				appendStringInfoChar(&sql, *p++);
		}

		prepared = SPI_prepare_cursor(sql.data, plan->nargs, plan->argtypes,
									  plan->custom_plan ? CURSOR_OPT_CUSTOM_PLAN : 0);
		if (prepared == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql.data, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(prepared) != 0)
			elog(ERROR, "SPI_keepplan failed");
		if (plan->plan != NULL)
			SPI_freeplan(plan->plan);
		plan->plan = prepared;
		plan->schema_generation = generation;
		pfree(sql.data);
	}
	return plan->plan;
}

/*
 * Run a kept plan.  count limits the rows of a SELECT; pass 0 for a
 * data-modifying statement, whose statement triggers fire only when it runs
 * to completion.  read_only is for functions that write nothing: it reuses
 * the caller's snapshot, which does not see this function's own writes.
 */
int
ap_execute(ApPlan *plan, Datum *values, const char *nulls, bool read_only,
		   long count)
{
	int			rc = SPI_execute_plan(ap_plan(plan), values, nulls, read_only,
									  count);

	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	return rc;
}

/*
 * A required, non-empty text of at most max_bytes.
 */
text *
ap_require_text(FunctionCallInfo fcinfo, int argno, const char *argname,
				int max_bytes)
{
	text	   *value;
	int			len;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	value = PG_GETARG_TEXT_PP(argno);
	len = VARSIZE_ANY_EXHDR(value);
	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", argname)));
	if (len > max_bytes)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", argname),
				 errdetail("It has %d bytes; the limit is %d.", len, max_bytes)));
	return value;
}

/*
 * Whether a byte is white space as the C locale sees it (what trim and
 * psql's input leave behind): space, tab, newline, vertical tab, form
 * feed, carriage return.
 */
static inline bool
is_ascii_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/*
 * A required, non-empty name of bounded length that is not blank and has
 * no leading or trailing white space ("gpt-4o " would otherwise be a
 * second proposer next to "gpt-4o").
 */
text *
ap_require_name(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	text	   *value = ap_require_text(fcinfo, argno, argname, AP_MAX_NAME_BYTES);

	ap_check_name(VARDATA_ANY(value), VARSIZE_ANY_EXHDR(value), argname);
	return value;
}

/*
 * Raise 22023 for a blank name or one with leading or trailing white
 * space.
 */
void
ap_check_name(const char *name, int len, const char *argname)
{
	int			i;

	for (i = 0; i < len && is_ascii_space(name[i]); i++)
		;
	if (i == len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be blank", argname)));
	if (i > 0 || is_ascii_space(name[len - 1]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not begin or end with white space", argname),
				 errhint("Trim the value before passing it.")));
}

/*
 * An optional name: NULL stays NULL, otherwise the rules of
 * ap_require_name (non-empty, bounded).
 */
text *
ap_optional_name(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return ap_require_name(fcinfo, argno, argname);
}

/*
 * Check a text[] value (the caller decides what NULL means): one
 * dimension, at most AP_MAX_CODES elements, no NULL or empty elements,
 * each at most max_element_bytes long.  Returns the number of elements.
 */
int
ap_check_text_array(ArrayType *array, const char *argname,
					int max_element_bytes)
{
	Datum	   *elements;
	bool	   *nulls;
	int			count;
	int			i;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", argname)));
	if (ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array)) > AP_MAX_CODES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("%s has too many elements", argname),
				 errdetail("The limit is %d.", AP_MAX_CODES)));

	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elements, &nulls, &count);
	for (i = 0; i < count; i++)
	{
		int			len;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL elements", argname),
					 errdetail("Element %d is NULL.", i + 1)));
		len = VARSIZE_ANY_EXHDR(DatumGetPointer(elements[i]));
		if (len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain empty strings", argname),
					 errdetail("Element %d is empty.", i + 1)));
		if (len > max_element_bytes)
			ereport(ERROR,
					(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
					 errmsg("element %d of %s is too long", i + 1, argname),
					 errdetail("It has %d bytes; the limit is %d.",
							   len, max_element_bytes)));
	}
	return count;
}

/*
 * A required float8 in [0, 1].
 */
double
ap_require_fraction(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	double		value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	value = PG_GETARG_FLOAT8(argno);
	ap_check_fraction(value, argname);
	return value;
}

/*
 * Raise 22003 unless value is a finite number in [0, 1].
 */
void
ap_check_fraction(double value, const char *argname)
{
	if (isnan(value) || value < 0.0 || value > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be between 0 and 1", argname),
				 errdetail("The value given was %s.",
						   isnan(value) ? "NaN" : float8out_internal(value))));
}

/*
 * A required, non-negative integer.
 */
int32
ap_require_count(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	int32		value;

	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	value = PG_GETARG_INT32(argno);
	if (value < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must not be negative", argname),
				 errdetail("The value given was %d.", value)));
	return value;
}

/*
 * A required batch size of at least 1.
 */
int32
ap_require_batch_size(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	int32		value = ap_require_count(fcinfo, argno, argname);

	if (value < 1)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s must be at least 1", argname)));
	return value;
}

/*
 * A required boolean.
 */
bool
ap_require_bool(FunctionCallInfo fcinfo, int argno, const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be NULL", argname)));
	return PG_GETARG_BOOL(argno);
}

/*
 * Uniform number in [0, 1) from a salted 64-bit hash of key.  Sampling and
 * each A/B test use different salts, so their decisions are independent.
 */
double
ap_hash_unit(uint64 salt, const char *key, int keylen)
{
	uint64		h = hash_bytes_extended((const unsigned char *) key, keylen, salt);

	return (double) (h >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * Name of the role that called the API, not the owner of the SECURITY
 * DEFINER function running now: the session's current role (SET ROLE).
 */
char *
ap_calling_role(void)
{
	if (current_actor != NULL)
		return pstrdup(current_actor);
	return GetUserNameFromId(GetOuterUserId(), false);
}

/*
 * Name recorded as the actor from now on instead of the calling role; the
 * background worker sets AP_WORKER_ACTOR, so that decided_by never names
 * the bootstrap superuser it connects as.
 */
void
ap_set_actor(const char *actor)
{
	current_actor = actor;
}
