-- Daily rollups: the analyses read rollups of whole days plus the log's tail
-- and give the answers of a full scan of the log, weights included; a fold
-- that is rolled back loses and doubles nothing; purge_log keeps what is
-- not folded or still needed by an open test.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION adaptive_prompts;
SELECT plan(30);

SELECT set_enhancement('TS2345', 'Compare each argument with the declared parameter type.', 7);
SELECT set_enhancement('TS7006', 'Annotate every parameter.', 3);

-- A varied history: three proposers, every band, sample rates 1, 0.1 and
-- 0.3 (1/0.3 is not a short decimal), duplicate codes, bare and CODE@N
-- tokens and held-out CODE@0, spread over 'days' days and every hour.
CREATE FUNCTION pg_temp.seed(first int, last int, days int, age interval DEFAULT '0') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        error_samples, prompt_enhancements_used, is_sampled_success, sample_rate)
    SELECT now() - age - (g % days) * interval '1 day' - (g % 24) * interval '1 hour' - (g % 60) * interval '1 minute',
           'p' || (g % 3), (g % 10) / 10.0, complexity_band((g % 10) / 10.0), 3,
           CASE g % 5 WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 3 END, false, 0,
           CASE g % 5 WHEN 0 THEN 'success' WHEN 1 THEN 'partial' ELSE 'failure' END,
           CASE WHEN g % 5 = 0 THEN '{}'::text[]
                ELSE (ARRAY['{TS2345}', '{TS7006}', '{TS2345,TS7006}', '{TS2532}',
                            '{TS9999}', '{TS2345,TS2345}', '{TS1005,TS2532}'])[1 + g % 7]::text[] END,
           jsonb_build_array(jsonb_build_object('code', CASE WHEN g % 2 = 0 THEN 'TS2345' ELSE 'TS7006' END,
                                                'message', 'message #' || g)),
           (ARRAY['{}', '{TS2345@1}', '{TS2345@0}', '{TS2345,TS7006@2}', '{TS7006@1,TS7006@1}'])[1 + g % 5]::text[],
           g % 5 = 0, CASE g % 5 WHEN 0 THEN 0.1 WHEN 1 THEN 0.3 ELSE 1 END
      FROM generate_series(first, last) g
$$;

-- Every answer of the analyses, as one text.
CREATE FUNCTION pg_temp.answers() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    result text;
BEGIN
    PERFORM refresh_enhancement_stats();
    SELECT concat_ws(E'\n',
        (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM analyze_enhancement_effectiveness('30 days') a),
        (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM analyze_enhancement_effectiveness('7 days 5 hours') a),
        (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM analyze_enhancement_effectiveness('60 days') a),
        (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM get_common_unaddressed_errors(1, '30 days') a),
        (SELECT string_agg(a::text, ';' ORDER BY a.error_code) FROM get_common_unaddressed_errors(1, '36 hours') a),
        (SELECT string_agg(e.error_code || '=' || e.times_used, ';' ORDER BY e.error_code) FROM prompt_enhancements e),
        (SELECT string_agg(concat_ws(',', proposer_name, error_code, occurrence_count), ';'
                           ORDER BY proposer_name, error_code) FROM proposer_frequent_codes))
      INTO result;
    RETURN result;
END
$$;

SELECT pg_temp.seed(1, 3000, 45);
SELECT pg_temp.answers() AS full_scan \gset

SELECT ok(:'full_scan' LIKE '%(TS2345,%' AND :'full_scan' ~ 'TS2345,"[^"]*",\d+,-?\d+\.\d+',
          'the full scan reports a reduction for TS2345 (the comparison below can fail)');
SELECT is(fold_rollups(), 0::bigint, 'the first fold only records a final bound');
SELECT is(fold_rollups(), 3000::bigint, 'the second fold folds every committed row');
SELECT is((SELECT folded_through FROM log_rollup_state), (SELECT max(id) FROM proposer_failures),
          'the watermark is the highest id');
SELECT is(pg_temp.answers(), :'full_scan', 'rollups alone give the answers of the full scan, weights included');
SELECT is(fold_rollups(), 0::bigint, 'a fold with nothing new folds nothing');

-- Each (day, proposer, band) of the rollups counts exactly its rows.
CREATE FUNCTION pg_temp.rollups_match_log() RETURNS boolean
LANGUAGE sql AS $$
    SELECT NOT EXISTS (
        (SELECT day, proposer_name, complexity_band, work_orders, weight
           FROM log_rollups WHERE kind = 'total'
         EXCEPT
         SELECT date_trunc('day', created_at, 'UTC'), proposer_name, complexity_band, count(*),
                sum(1::numeric / sample_rate::numeric)
           FROM proposer_failures WHERE id <= (SELECT folded_through FROM log_rollup_state)
          GROUP BY 1, 2, 3)
        UNION ALL
        (SELECT date_trunc('day', created_at, 'UTC'), proposer_name, complexity_band, count(*),
                sum(1::numeric / sample_rate::numeric)
           FROM proposer_failures WHERE id <= (SELECT folded_through FROM log_rollup_state)
          GROUP BY 1, 2, 3
         EXCEPT
         SELECT day, proposer_name, complexity_band, work_orders, weight
           FROM log_rollups WHERE kind = 'total'))
$$;
SELECT ok(pg_temp.rollups_match_log(), 'the rollups count each folded row once, per day, proposer and band');

-- New rows not folded yet: recent ones, and back-dated ones into folded
-- days and into the partial first day of the windows.
SELECT pg_temp.seed(3001, 3400, 2);
SELECT pg_temp.seed(3401, 3500, 3, '29 days 12 hours');
SELECT pg_temp.seed(3501, 3600, 40);
SAVEPOINT reference;
DELETE FROM log_rollups;
DELETE FROM log_rollup_state;
SELECT pg_temp.answers() AS full_scan \gset
ROLLBACK TO SAVEPOINT reference;
SELECT isnt(pg_temp.answers(), NULL, 'answers with a tail');
SELECT is(pg_temp.answers(), :'full_scan', 'rollups plus the log''s tail give the answers of the full scan');

-- A fold rolled back changes nothing: the next folds fold the same rows.
SELECT is(fold_rollups(), 0::bigint, 'rows committed after the last bound wait for the next fold');
-- (pgTAP's own results would be rolled back too: the savepoint only
-- captures values, the tests come after.)
SAVEPOINT crash;
SELECT fold_rollups() AS crash_folded, pg_temp.rollups_match_log() AS crash_matched \gset
ROLLBACK TO SAVEPOINT crash;
SELECT is(:crash_folded::bigint, 600::bigint, 'a fold folds the 600 new rows');
SELECT ok(:'crash_matched'::boolean, 'and the rollups matched the log');
SELECT is((SELECT folded_through FROM log_rollup_state), 3000::bigint,
          'a rolled-back fold leaves the watermark where it was');
SELECT ok(pg_temp.rollups_match_log(), 'and the rollups as they were');
SELECT is(pg_temp.answers(), :'full_scan', 'the answers are unchanged');
SELECT is(fold_rollups(), 600::bigint, 'the next fold folds the same 600 rows');
SELECT ok(pg_temp.rollups_match_log(), 'once each');
SELECT is(pg_temp.answers(), :'full_scan', 'and the answers are those of the full scan');

-- Retention (default 90 days): rows older than that go once folded, not
-- before, and not while a test started before them is open.
SELECT pg_temp.seed(3601, 3700, 5, '120 days');
SELECT is(purge_log(), 0::bigint, 'rows not folded yet are not purged, however old');
SELECT is(fold_rollups() + fold_rollups(), 100::bigint, 'expired rows are folded like any other');
INSERT INTO ab_tests (kind, subject, candidate, incumbent, salt, sample_size, alpha, started_at)
VALUES ('prompt_version', 'p0', 'v2', 'v1', 1, 30, 0.05, now() - interval '122 days');
SELECT count(*) FILTER (WHERE created_at < now() - interval '122 days') AS before_test,
       count(*) FILTER (WHERE created_at >= now() - interval '122 days') AS since_test
  FROM proposer_failures WHERE created_at < now() - interval '90 days' \gset
SELECT ok(:before_test > 0 AND :since_test > 5, 'some expired rows were logged before the test, some since');
SELECT is(purge_log(), :before_test::bigint, 'an open test keeps the rows logged since it started');
UPDATE ab_tests SET status = 'aborted', decided_at = now();
SELECT is(purge_log(5), 5::bigint, 'purge_log deletes at most batch_size rows');
SELECT is(purge_log(), :since_test::bigint - 5, 'and the rest of the expired rows once the test is over');
SELECT is((SELECT count(*) FROM proposer_failures WHERE created_at < now() - interval '90 days'), 0::bigint,
          'no row older than the retention is left');
SELECT is((SELECT count(*) FROM log_rollups WHERE day < now() - interval '91 days'), 0::bigint,
          'and no rollup day that ended before it');
SELECT throws_ok($$SELECT purge_log(0)$$, '22003', NULL, 'batch_size must be at least 1');
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'none';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SAVEPOINT read_only;
SET LOCAL transaction_read_only = on;
SELECT pg_temp.sqlstate_of('SELECT fold_rollups()') AS ro_fold,
       pg_temp.sqlstate_of('SELECT purge_log()') AS ro_purge,
       pg_temp.sqlstate_of('SELECT count(*) FROM analyze_enhancement_effectiveness()') AS ro_analyze \gset
ROLLBACK TO SAVEPOINT read_only;
SELECT is(:'ro_fold'::text, '25006', 'fold_rollups refuses a read-only transaction');
SELECT is(:'ro_purge'::text, '25006', 'and so does purge_log');
SELECT is(:'ro_analyze'::text, 'none', 'the analyses read the rollups in a read-only transaction');

SELECT * FROM finish();
ROLLBACK;
