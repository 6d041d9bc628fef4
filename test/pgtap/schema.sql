-- Installed into a non-default schema, the extension works from a session
-- whose search_path is empty; nothing is granted to PUBLIC but the helpers.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap SCHEMA public;
CREATE SCHEMA ap;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts SCHEMA ap;
RESET client_min_messages;
SELECT plan(11);

CREATE TEMP TABLE observed (name text PRIMARY KEY, value text);

-- Every call below runs with an empty search_path (pgTAP itself needs one,
-- so the assertions come after).
SET LOCAL search_path = '';
SELECT ap.register_proposer('m', 0.3, 1);
INSERT INTO pg_temp.observed
SELECT 'first', (ap.record_work_order('m', 0.35, 3, 3, error_codes => '{TS1443}',
                                      sanitizer_changes => '{unquoted_module_declarations}',
                                      work_order_id => 'wo-1')).outcome;
INSERT INTO pg_temp.observed
SELECT 'repeat', (ap.record_work_order('m', 0.35, 3, 3, work_order_id => 'wo-1')).duplicate::text;
INSERT INTO pg_temp.observed
SELECT 'excluded', f.excluded_error_codes::text FROM ap.proposer_failures f;
INSERT INTO pg_temp.observed
SELECT 'unknown', (ap.record_work_order('unknown', 0.5, 1, 0)).window_attempts::text;
INSERT INTO pg_temp.observed SELECT 'band', ap.complexity_band(0.3);
INSERT INTO pg_temp.observed SELECT 'resized', ap.resize_windows()::text;
INSERT INTO pg_temp.observed SELECT 'purged', ap.purge_work_orders(10)::text;
RESET search_path;

SELECT is((SELECT extrelocatable FROM pg_extension WHERE extname = 'adaptive_prompts'),
          false, 'the extension is not relocatable');
SELECT is((SELECT value FROM observed WHERE name = 'first'), 'failure',
          'record_work_order works with an empty search_path');
SELECT is((SELECT value FROM observed WHERE name = 'repeat'), 'true',
          'idempotency works with an empty search_path');
SELECT is((SELECT value FROM observed WHERE name = 'excluded'), '{TS1443}',
          'the sanitizer map is found with an empty search_path');
SELECT is((SELECT value FROM observed WHERE name = 'unknown'), '1',
          'auto-registration works with an empty search_path');
SELECT is((SELECT value FROM observed WHERE name = 'band'), '0.3-0.4',
          'complexity_band works with an empty search_path');
SELECT is((SELECT value FROM observed WHERE name = 'purged'), '0',
          'purge_work_orders works with an empty search_path');
SELECT is((SELECT count(*) FROM ap.proposer_attempts), 2::bigint, 'windows are written in schema ap');
SELECT is((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relname LIKE 'proposer%'), 0::bigint,
          'nothing was created in public');

-- Privileges: PUBLIC may execute only the pure helpers.
SELECT is(
    (SELECT array_agg(p.proname::text ORDER BY p.proname::text)
       FROM pg_proc p
       JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
       JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'adaptive_prompts'
      WHERE has_function_privilege('public', p.oid, 'EXECUTE')),
    (SELECT array_agg(p.proname::text ORDER BY p.proname::text)
       FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
      WHERE s.nspname = 'ap'
        AND p.proname IN ('complexity_band', 'sanitize_typescript', 'sanitizer_excluded_codes')),
    'PUBLIC may execute only the pure helpers');
SELECT is(
    (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'ap' AND c.relkind = 'r'
        AND has_table_privilege('public', c.oid, 'SELECT')),
    0::bigint, 'PUBLIC can read no table');

SELECT * FROM finish();
ROLLBACK;
