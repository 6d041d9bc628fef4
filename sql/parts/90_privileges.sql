
-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC but the pure helpers.  A DBA grants USAGE
-- on the schema and EXECUTE on the functions a role needs (see README).
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d
            ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.objid = p.oid AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE e.extname = 'adaptive_prompts'
           AND p.proname NOT IN ('complexity_band', 'sanitize_typescript',
                                 'sanitizer_excluded_codes')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
