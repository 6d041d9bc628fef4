-- Describe every object of the extension adaptive_prompts in this database,
-- one sorted line each, with what defines it: columns in their order,
-- defaults, constraints, indexes, triggers, policies, function bodies,
-- views, sequences, comments, privileges, the tables pg_dump keeps, and a
-- digest of every table's rows.  test/integration/upgrade.sh compares the
-- output of an updated install with a fresh one.
WITH ext AS (
    SELECT oid, extnamespace FROM pg_extension WHERE extname = 'adaptive_prompts'
), members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d, ext
     WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
       AND d.deptype = 'e'
), lines AS (
    SELECT pg_describe_object(classid, objid, 0) AS object, 'member' AS what, '' AS detail
      FROM members
    UNION ALL
    SELECT pg_describe_object(classid, objid, 0), 'comment',
           coalesce(obj_description(objid, classid::regclass::text), '')
      FROM members
    -- relations
    UNION ALL
    SELECT c.oid::regclass::text, 'relation',
           concat_ws(' ', c.relkind, c.relpersistence, c.reloptions::text, c.relacl::text,
                     c.relrowsecurity, c.relforcerowsecurity, c.relreplident)
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
    UNION ALL
    SELECT c.oid::regclass::text || '.' || to_char(rank() OVER (PARTITION BY c.oid ORDER BY a.attnum), 'FM000'),
           'column',
           concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                     a.attidentity, a.attgenerated, pg_get_expr(ad.adbin, ad.adrelid),
                     (SELECT collname FROM pg_collation WHERE oid = a.attcollation),
                     a.attacl::text, col_description(c.oid, a.attnum))
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
    UNION ALL
    SELECT con.conrelid::regclass::text, 'constraint',
           con.conname || ' ' || pg_get_constraintdef(con.oid)
      FROM members m JOIN pg_constraint con ON m.classid = 'pg_class'::regclass
       AND con.conrelid = m.objid
    UNION ALL
    SELECT i.indrelid::regclass::text, 'index', pg_get_indexdef(i.indexrelid)
      FROM members m JOIN pg_index i ON m.classid = 'pg_class'::regclass
       AND i.indrelid = m.objid
    UNION ALL
    SELECT t.tgrelid::regclass::text, 'trigger', pg_get_triggerdef(t.oid)
      FROM members m JOIN pg_trigger t ON m.classid = 'pg_class'::regclass
       AND t.tgrelid = m.objid AND NOT t.tgisinternal
    UNION ALL
    SELECT p.polrelid::regclass::text, 'policy',
           concat_ws(' ', p.polname, p.polcmd, p.polpermissive, p.polroles::text,
                     pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
      FROM members m JOIN pg_policy p ON m.classid = 'pg_class'::regclass
       AND p.polrelid = m.objid
    UNION ALL
    SELECT c.oid::regclass::text, 'view', pg_get_viewdef(c.oid)
      FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass
       AND c.oid = m.objid AND c.relkind IN ('v', 'm')
    UNION ALL
    SELECT s.seqrelid::regclass::text, 'sequence',
           concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                     s.seqmax, s.seqmin, s.seqcache, s.seqcycle)
      FROM members m JOIN pg_sequence s ON m.classid = 'pg_class'::regclass
       AND s.seqrelid = m.objid
    -- functions
    UNION ALL
    SELECT p.oid::regprocedure::text, 'function',
           concat_ws(' ', pg_get_functiondef(p.oid), p.proacl::text)
      FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
       AND p.prokind <> 'a'
    -- types
    UNION ALL
    SELECT t.oid::regtype::text, 'type',
           concat_ws(' ', t.typtype, t.typacl::text,
                     (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', '
                                        ORDER BY a.attnum)
                        FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0
                         AND NOT a.attisdropped),
                     (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                        FROM pg_enum e WHERE e.enumtypid = t.oid))
      FROM members m JOIN pg_type t ON m.classid = 'pg_type'::regclass AND t.oid = m.objid
    -- what pg_dump keeps
    UNION ALL
    SELECT cfg.relid::regclass::text, 'dumped', coalesce(cfg.condition, '')
      FROM pg_extension e,
           unnest(e.extconfig, e.extcondition) AS cfg(relid, condition)
     WHERE e.extname = 'adaptive_prompts'
    -- the schema's own privileges
    UNION ALL
    SELECT 'schema', 'schema', coalesce(n.nspacl::text, '')
      FROM ext JOIN pg_namespace n ON n.oid = ext.extnamespace
)
SELECT line FROM (SELECT object || ' | ' || what || ' | ' || detail AS line FROM lines) l
 ORDER BY line COLLATE "C";

-- Every table's rows (seeded rows included), as a digest per table.
SELECT format('SELECT %L || '' | rows | '' || count(*) || '' '' || coalesce(md5(string_agg(t::text, E''\n'' ORDER BY t::text COLLATE "C")), '''') FROM %s t',
              c.oid::regclass::text, c.oid::regclass)
  FROM pg_depend d
  JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
  JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid AND c.relkind = 'r'
 WHERE e.extname = 'adaptive_prompts' AND d.deptype = 'e'
 ORDER BY c.oid::regclass::text COLLATE "C"
\gexec
