/*-------------------------------------------------------------------------
 *
 * sanitizer_sql.c
 *	  SQL wrapper of the TypeScript sanitizer:
 *
 *	  sanitize_typescript(code text, OUT sanitized text, OUT changes_made text[])
 *
 *	  The work is done by the pure C core in ts_sanitizer.c; this file only
 *	  converts between text and the core's UTF-8 buffers.
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
 * The names of the changes in mask as a text[] ('{}' when none), in the
 * core's fixed order.
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
	if (count == 0)
		return construct_empty_array(TEXTOID);
	/* text: varlena, not by value, int alignment */
	return construct_array(names, count, TEXTOID, -1, false, 'i');
}

/*
 * sanitize_typescript(code text) -> (sanitized text, changes_made text[])
 *
 * The core works on UTF-8; in a database with another encoding the code is
 * converted to UTF-8 and back (the fixes only write ASCII, so the way back
 * cannot fail).
 */
Datum
ap_sanitize_typescript(PG_FUNCTION_ARGS)
{
	text	   *code = PG_GETARG_TEXT_PP(0);
	const char *input = VARDATA_ANY(code);
	int			input_len = VARSIZE_ANY_EXHDR(code);
	char	   *utf8;
	TupleDesc	tupdesc;
	ts_sanitize_result result;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record")));
	tupdesc = BlessTupleDesc(tupdesc);

	utf8 = pg_server_to_any(input, input_len, PG_UTF8);
	if (utf8 != input)
		input_len = strlen(utf8);

	if (ts_sanitize(utf8, (size_t) input_len, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory"),
				 errdetail("Failed while sanitizing %d bytes of TypeScript.", input_len)));

	if (result.output == NULL)
		values[0] = PointerGetDatum(code);
	else
	{
		text	   *sanitized = NULL;
		char	   *server;
		size_t		output_len = result.output_len;
		bool		too_large = output_len > MaxAllocSize - VARHDRSZ;

		/*
		 * The core's output is malloc'd: copy it with an allocation that
		 * cannot throw, free it, and only then report any error.
		 */
		if (!too_large)
			sanitized = palloc_extended(VARHDRSZ + output_len, MCXT_ALLOC_NO_OOM);
		if (sanitized != NULL)
		{
			SET_VARSIZE(sanitized, VARHDRSZ + output_len);
			memcpy(VARDATA(sanitized), result.output, output_len);
		}
		ts_sanitize_result_free(&result);
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

		server = pg_any_to_server(VARDATA(sanitized), VARSIZE(sanitized) - VARHDRSZ, PG_UTF8);
		if (server != VARDATA(sanitized))
			sanitized = cstring_to_text(server);
		values[0] = PointerGetDatum(sanitized);
	}
	values[1] = PointerGetDatum(changes_to_array(result.changes));

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
