-- validation_report reads hourly rollups (log_report_rollups) for the hours
-- no bound of its period cuts through and the log for the others and for
-- the rows not folded yet, and gives the answers of a full scan of the log
-- (test/validation_full_scan.sql, the 0.1.0 report); after purge_log() it
-- counts from the purge horizon and gives the same answers as before the
-- purge for the period it still covers.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION adaptive_prompts;
\ir ../validation_full_scan.sql
SELECT plan(23);

-- Four months of history, rows in every hour at odd minutes and seconds:
-- bands, outcomes, sample rates 1, 0.1 and 0.3, TS1443 learned and fixed by
-- the sanitizer, duplicate codes.
CREATE FUNCTION pg_temp.seed(first int, last int, days int, age interval DEFAULT '0') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        excluded_error_codes, is_sampled_success, sample_rate)
    SELECT now() - age - (g % days) * interval '1 day' - ((g / days) % 24) * interval '1 hour'
               - (g % 59) * interval '1 minute' - (g % 61) * interval '1 second',
           'p' || (g % 3), ((g / 3) % 10) / 10.0, complexity_band(((g / 3) % 10) / 10.0), 3,
           CASE g % 5 WHEN 0 THEN 0 WHEN 1 THEN 1 ELSE 3 END, false, 0,
           CASE g % 5 WHEN 0 THEN 'success' WHEN 1 THEN 'partial' ELSE 'failure' END,
           CASE WHEN g % 5 = 0 THEN '{}'::text[]
                ELSE (ARRAY['{TS1443}', '{TS2345}', '{TS7006,TS1443}', '{TS2345,TS2345}',
                            '{TS7006}', '{TS1443,TS1443,TS2532}'])[1 + (g / 7 + g / 977) % 6]::text[] END,
           CASE WHEN g % 11 = 0 THEN '{TS1443}'::text[] ELSE '{}' END,
           g % 5 = 0, CASE g % 5 WHEN 0 THEN 0.1 WHEN 1 THEN 0.3 ELSE 1 END
      FROM generate_series(first, last) g
$$;
SELECT pg_temp.seed(1, 6000, 120);

-- Eras whose bounds fall inside hours: TS2345 set 100 days ago, tested from
-- 45 days ago, promoted 40 days ago; TS7006 set 10 days ago.
WITH test AS (
    INSERT INTO ab_tests (kind, subject, candidate, incumbent, salt, sample_size, alpha, status, started_at, decided_at)
    VALUES ('enhancement', 'TS2345', '2', '1', 1, 30, 0.05, 'promoted',
            now() - interval '45 days 17 minutes', now() - interval '40 days 7 minutes')
    RETURNING id)
INSERT INTO version_history (kind, subject, old_version, new_version, action, ab_test_id, changed_at, changed_by, reason)
VALUES ('enhancement', 'TS2345', NULL, '1', 'set', NULL, now() - interval '100 days 13 minutes', 'tester', 'seeded'),
       ('enhancement', 'TS2345', '1', '2', 'promoted', (SELECT id FROM test), now() - interval '40 days 7 minutes', 'tester', 'seeded'),
       ('enhancement', 'TS7006', NULL, '1', 'set', NULL, now() - interval '10 days 5 hours 3 minutes', 'tester', 'seeded');

-- The rows of the report that count logged work orders, as text, from the
-- report and from the full scan; the sinces a test checks at once.
CREATE FUNCTION pg_temp.log_rows(since timestamptz, full_scan boolean) RETURNS text
LANGUAGE sql AS $$
    SELECT string_agg(concat_ws('|', metric, round(value::numeric, 12), met, detail), E'\n' ORDER BY metric)
      FROM (SELECT metric, value, met, detail FROM validation_report(since) WHERE NOT full_scan
            UNION ALL
            SELECT metric, value, met, detail FROM validation_report_full_scan(since) WHERE full_scan) r
     WHERE metric LIKE 'ts1443%' OR metric LIKE 'success_rate%' OR metric LIKE 'rate_reduction:%'
$$;
CREATE TEMP TABLE sinces (since timestamptz);
INSERT INTO sinces VALUES (NULL), ('-infinity'), ('infinity'), (now() - interval '30 days'),
    (now() - interval '100 days 7 minutes 13 seconds'), (date_trunc('hour', now() - interval '50 days')),
    (now() - interval '12 hours 30 minutes');
CREATE FUNCTION pg_temp.differing() RETURNS text
LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce(since::text, 'NULL'), ', '), 'none') FROM sinces
     WHERE pg_temp.log_rows(since, false) IS DISTINCT FROM pg_temp.log_rows(since, true)
$$;

SELECT ok(pg_temp.log_rows(NULL, true) ~ 'ts1443_reduction\|-?0\.\d+' AND pg_temp.log_rows(NULL, true) ~ 'rate_reduction:TS2345\|-?0\.\d+'
          AND pg_temp.log_rows(NULL, true) ~ 'rate_reduction:TS7006\|-?0\.\d+',
          'the full scan has values for TS1443 and both eras (the comparisons below can fail)');
SELECT is(pg_temp.differing(), 'none', 'nothing folded: the report gives the full scan''s answers');
SELECT is(fold_rollups(), 0::bigint, 'the first fold records a bound');
SELECT is(fold_rollups(), 6000::bigint, 'the second folds every row');
SELECT ok((SELECT count(DISTINCT hour) FROM log_report_rollups) > 1000, 'the report''s rollups hold the hours');
SELECT is(pg_temp.differing(), 'none', 'every row folded: the report gives the full scan''s answers');

-- The report reads the rollups: rows deleted from the log behind their back
-- (a whole hour no bound cuts) change the full scan, not the report.
SAVEPOINT behind;
DELETE FROM proposer_failures
 WHERE created_at >= date_trunc('hour', now() - interval '70 days')
   AND created_at < date_trunc('hour', now() - interval '70 days') + interval '1 hour';
SELECT pg_temp.log_rows(NULL, false) AS report_after, pg_temp.log_rows(NULL, true) AS scan_after \gset
ROLLBACK TO SAVEPOINT behind;
SELECT is(:'report_after'::text, pg_temp.log_rows(NULL, false), 'the report of whole hours comes from the rollups');
SELECT isnt(:'scan_after'::text, pg_temp.log_rows(NULL, true), 'while the full scan changes (the hour had rows)');

-- A tail not folded yet: new rows, rows back-dated into folded hours and
-- into the hours the bounds cut.
SELECT pg_temp.seed(6001, 6300, 3);
SELECT pg_temp.seed(6301, 6400, 40, '10 days 5 hours');
SELECT pg_temp.seed(6401, 6500, 110);
SELECT is(pg_temp.differing(), 'none', 'rollups plus the tail give the full scan''s answers');
SELECT is(fold_rollups(), 0::bigint, 'rows committed after the last bound wait for the next fold');
SAVEPOINT rolled_back;
SELECT fold_rollups() AS folded, pg_temp.differing() AS differing_folded \gset
ROLLBACK TO SAVEPOINT rolled_back;
SELECT is(:folded::bigint, 500::bigint, 'a fold (rolled back) folds the 500 new rows');
SELECT is(:'differing_folded'::text, 'none', 'and the report still gives the full scan''s answers');
SELECT is((SELECT sum(work_orders) FROM log_report_rollups WHERE kind = 'total'), 6000::numeric,
          'a rolled-back fold leaves the report''s rollups as they were');
SELECT is(fold_rollups(), 500::bigint, 'the next fold folds the same rows');
SELECT is((SELECT sum(work_orders) FROM log_report_rollups WHERE kind = 'total'), 6500::numeric, 'once each');
SELECT is(pg_temp.differing(), 'none', 'and the report gives the full scan''s answers');

-- Retention (90 days): the report counts from the purge's cutoff, and gives
-- for that period the answers it gave before the purge.
SELECT pg_temp.log_rows(now() - interval '90 days', false) AS before_purge,
       pg_temp.log_rows(now() - interval '60 days', false) AS before_purge_60 \gset
SELECT ok(purge_log(100000) > 0, 'purge_log deletes the rows older than 90 days');
SELECT is((SELECT purged_before FROM log_rollup_state), now() - interval '90 days',
          'and records its cutoff as the horizon');
SELECT is((SELECT count(*) FROM log_report_rollups WHERE hour < date_trunc('hour', now() - interval '90 days', 'UTC')),
          0::bigint, 'the report''s hours before the horizon go too');
SELECT is(pg_temp.log_rows(now() - interval '120 days', false), :'before_purge'::text,
          'a since before the horizon counts from the horizon: the answers from there before the purge');
SELECT is(pg_temp.log_rows(NULL, false), :'before_purge'::text, 'and so does the whole history');
SELECT is(pg_temp.log_rows(now() - interval '60 days', false), :'before_purge_60'::text,
          'a since after the horizon: the answers before the purge');
SELECT is(pg_temp.log_rows(now() - interval '60 days', false), pg_temp.log_rows(now() - interval '60 days', true),
          'which are still the full scan''s');

SELECT * FROM finish();
ROLLBACK;
