
-- ---------------------------------------------------------------------------
-- TypeScript sanitizer
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.sanitize_typescript(code text, OUT sanitized text, OUT changes_made text[])
RETURNS record
AS 'MODULE_PATHNAME', 'ap_sanitize_typescript'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sanitize_typescript(text) IS
    'Fix mechanical TypeScript breakage before compiling: smart quotes used as string delimiters, unicode dashes used as minus, unquoted or backtick-quoted declare module names, a template literal left open at the end. Understands strings, templates, comments and regex literals and never changes text inside them; valid TypeScript comes back byte-identical with changes_made = ''{}''.';

CREATE FUNCTION @extschema@.sanitizer_excluded_codes(changes text[])
RETURNS text[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT m.error_code ORDER BY m.error_code), '{}')
      FROM @extschema@.sanitizer_error_map m
     WHERE m.change = ANY (changes)
$$;
COMMENT ON FUNCTION @extschema@.sanitizer_excluded_codes(text[]) IS
    'Compiler error codes that the given sanitizer changes account for (from sanitizer_error_map); record_work_order moves these codes to excluded_error_codes.';
