/*-------------------------------------------------------------------------
 *
 * sanitizer_sql.c
 *	  SQL wrapper of the TypeScript sanitizer:
 *
 *	  sanitize_typescript(code text, tsx boolean DEFAULT false,
 *						  OUT sanitized text, OUT changes_made text[])
 *
 *	  The work is done by the pure C core in ts_sanitizer.c, which reads the
 *	  text in place (it takes a length, no NUL-terminated copy).  Most code
 *	  needs no change: then the argument itself is returned, without a copy
 *	  of its text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "ts_sanitizer.h"

PG_FUNCTION_INFO_V1(ap_sanitize_typescript);

/*
 * What one call site keeps from call to call (in fn_extra): the blessed
 * result descriptor and the empty changes_made array.
 */
typedef struct sanitizer_call_cache
{
	TupleDesc	tupdesc;
	Datum		no_changes;
} sanitizer_call_cache;

/*
 * The names of the changes in mask as a text[], in the core's fixed order
 * (mask is not 0).
 */
static ArrayType *
changes_to_array(unsigned int mask)
{
	Datum		names[TS_CHANGE_COUNT];
	int			count = 0;
	int			bit;

	for (bit = 0; bit < TS_CHANGE_COUNT; bit++)
		if (mask & (1u << bit))
			names[count++] = CStringGetTextDatum(ts_change_name(bit));
	/* text: varlena, not by value, int alignment */
	return construct_array(names, count, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * The call site's cache, set up on its first call.
 */
static sanitizer_call_cache *
call_cache(FunctionCallInfo fcinfo)
{
	sanitizer_call_cache *cache = fcinfo->flinfo->fn_extra;
	MemoryContext old;
	TupleDesc	tupdesc;

	if (cache != NULL)
		return cache;
	old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	cache = palloc(sizeof(sanitizer_call_cache));
	cache->tupdesc = BlessTupleDesc(tupdesc);
	cache->no_changes = PointerGetDatum(construct_empty_array(TEXTOID));
	MemoryContextSwitchTo(old);
	fcinfo->flinfo->fn_extra = cache;
	return cache;
}

/*
 * The core's malloc'd output as text in the server encoding.  The output is
 * copied with an allocation that cannot throw and freed before any error
 * is reported.
 */
static text *
output_to_text(ts_sanitize_result *result, bool utf8_database)
{
	text	   *sanitized = NULL;
	size_t		output_len = result->output_len;
	bool		too_large = output_len > MaxAllocSize - VARHDRSZ;
	char	   *server;

	if (!too_large)
		sanitized = palloc_extended(VARHDRSZ + output_len, MCXT_ALLOC_NO_OOM);
	if (sanitized != NULL)
	{
		SET_VARSIZE(sanitized, VARHDRSZ + output_len);
		memcpy(VARDATA(sanitized), result->output, output_len);
	}
	ts_sanitize_result_free(result);
	if (too_large)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("argument \"code\" is too large to sanitize"),
				 errdetail("The sanitized text would be %zu bytes long.", output_len)));
	if (sanitized == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed on request of size %zu while sanitizing TypeScript.",
						   VARHDRSZ + output_len)));
	if (utf8_database)
		return sanitized;
	/* the fixes only write ASCII, so the way back cannot fail */
	server = pg_any_to_server(VARDATA(sanitized), output_len, PG_UTF8);
	if (server != VARDATA(sanitized))
		sanitized = cstring_to_text(server);
	return sanitized;
}

/*
 * sanitize_typescript(code text, tsx boolean) -> (sanitized, changes_made)
 *
 * The core works on UTF-8: in a UTF-8 (or SQL_ASCII) database it reads the
 * argument's bytes where they are; in another encoding the code is
 * converted to UTF-8 and the result back.
 */
Datum
ap_sanitize_typescript(PG_FUNCTION_ARGS)
{
	Datum		code_datum = PG_GETARG_DATUM(0);
	text	   *code = PG_DETOAST_DATUM_PACKED(code_datum);
	ts_source_kind kind = PG_GETARG_BOOL(1) ? TS_SOURCE_TSX : TS_SOURCE_TS;
	sanitizer_call_cache *cache = call_cache(fcinfo);
	const char *input = VARDATA_ANY(code);
	size_t		input_len = VARSIZE_ANY_EXHDR(code);
	int			encoding = GetDatabaseEncoding();
	bool		utf8_database = (encoding == PG_UTF8 || encoding == PG_SQL_ASCII);
	ts_sanitize_result result;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (!utf8_database && input_len > 0)
	{
		char	   *utf8 = pg_server_to_any(input, (int) input_len, PG_UTF8);

		if (utf8 != input)
		{
			input = utf8;
			input_len = strlen(utf8);
		}
	}

	if (ts_sanitize_kind(input, input_len, kind, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while sanitizing %zu bytes of TypeScript.", input_len)));

	if (result.output == NULL)
	{
		/*
		 * Nothing fixed: the argument is the result.  An inline (possibly
		 * compressed) argument goes into the result row as it came, with no
		 * copy of its text; one stored out of line is passed on detoasted,
		 * as forming the row would otherwise fetch it a second time.
		 */
		values[0] = VARATT_IS_EXTERNAL(DatumGetPointer(code_datum))
			? PointerGetDatum(code) : code_datum;
		values[1] = cache->no_changes;
	}
	else
	{
		unsigned int changes = result.changes;

		values[0] = PointerGetDatum(output_to_text(&result, utf8_database));
		values[1] = PointerGetDatum(changes_to_array(changes));
	}

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(cache->tupdesc, values, nulls)));
}
