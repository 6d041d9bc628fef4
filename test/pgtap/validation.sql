-- validation_report: the Phase 3 metrics and the loop's own, on an empty
-- database and on a seeded history whose numbers are worked out below.
BEGIN;
SET LOCAL client_min_messages = warning;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
SELECT plan(36);

CREATE FUNCTION pg_temp.report(since timestamptz DEFAULT NULL)
RETURNS TABLE (metric text, value float8, target float8, met boolean, detail text)
LANGUAGE sql AS $$ SELECT * FROM validation_report(since) $$;
CREATE FUNCTION pg_temp.value_of(name text, since timestamptz DEFAULT NULL) RETURNS numeric
LANGUAGE sql AS $$ SELECT round(value::numeric, 6) FROM pg_temp.report(since) WHERE metric = name $$;
CREATE FUNCTION pg_temp.met_of(name text, since timestamptz DEFAULT NULL) RETURNS boolean
LANGUAGE sql AS $$ SELECT met FROM pg_temp.report(since) WHERE metric = name $$;

-- ---------------------------------------------------------------------------
-- Before anything happened (and before the loop has run): every row is
-- there, counts are 0, ratios without data are NULL.
-- ---------------------------------------------------------------------------
SELECT results_eq($$SELECT metric FROM pg_temp.report()$$,
                  ARRAY['ts1443_reduction', 'ts1443_sanitizer_fixed_share', 'success_rate_band_0.3-0.4',
                        'threshold_promotions', 'threshold_experiments_decided',
                        'storage_bytes_per_1000_work_orders', 'window_stability',
                        'enhancements_created', 'enhancements_approved', 'enhancements_promoted',
                        'enhancements_rolled_back', 'enhancements_rejected'],
                  'an empty database reports every metric, in a fixed order');
SELECT is((SELECT count(*) FROM pg_temp.report() WHERE metric LIKE 'enhancements_%' AND value = 0), 5::bigint,
          'the loop''s counts are 0 before it has run');
SELECT is((SELECT count(*) FROM pg_temp.report()
            WHERE metric IN ('ts1443_reduction', 'ts1443_sanitizer_fixed_share', 'success_rate_band_0.3-0.4',
                             'storage_bytes_per_1000_work_orders', 'window_stability')
              AND value IS NULL AND met IS NULL), 5::bigint,
          'ratios without data are NULL, and so is whether they are met');
SELECT results_eq($$SELECT value, met FROM pg_temp.report() WHERE metric = 'threshold_promotions'$$,
                  $$VALUES (0::float8, false)$$,
                  'no threshold promotion yet: 0, not met');

-- ---------------------------------------------------------------------------
-- A seeded history over four days from t0 = 2026-01-01 (proposer val-model).
--
-- Log (weights 1/sample_rate):
--   t0 .. t0+12h   first quarter: 100 failures (40 TS1443, 60 TS2345),
--                  10 successes logged at 0.1 (100 work orders); band
--                  0.3-0.4: 10 failures (TS2304), 2 successes at 0.1 (20)
--   t0+1d12h       50 failures with TS2345 (while TS2345's test runs)
--   t0+3d12h..4d   last quarter: 80 failures (8 TS1443, 72 TS7006), 4
--                  partials at 0.2 (2 TS1443, 2 TS7006: 20 work orders),
--                  10 failures with TS7006 whose TS1443 the sanitizer fixed,
--                  20 successes at 0.1 (200); band 0.3-0.4: 30 failures,
--                  7 successes at 0.1 (70); 21 failures with TS2345
-- TS1443 per work order: first 40/230, last (8 + 2 * 5)/431.
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.log_rows(at timestamptz, n integer, outcome text, codes text[],
                                 rate float8 DEFAULT 1, band text DEFAULT '0.5-0.6',
                                 excluded text[] DEFAULT '{}') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        excluded_error_codes, is_sampled_success, sample_rate)
    SELECT at, 'val-model', 0.55, band, 2, CASE outcome WHEN 'success' THEN 0 ELSE 1 END, false, 0,
           outcome, codes, excluded, outcome <> 'failure', rate
      FROM generate_series(1, n)
$$;
SELECT pg_temp.log_rows('2026-01-01 00:00+00', 1, 'failure', '{TS1443}');
SELECT pg_temp.log_rows('2026-01-01 12:00+00', 39, 'failure', '{TS1443}');
SELECT pg_temp.log_rows('2026-01-01 12:00+00', 60, 'failure', '{TS2345}');
SELECT pg_temp.log_rows('2026-01-01 12:00+00', 10, 'success', '{}', 0.1);
SELECT pg_temp.log_rows('2026-01-01 12:00+00', 10, 'failure', '{TS2304}', 1, '0.3-0.4');
SELECT pg_temp.log_rows('2026-01-01 12:00+00', 2, 'success', '{}', 0.1, '0.3-0.4');
SELECT pg_temp.log_rows('2026-01-02 12:00+00', 50, 'failure', '{TS2345}');
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 20, 'success', '{}', 0.1);
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 30, 'failure', '{TS2322}', 1, '0.3-0.4');
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 7, 'success', '{}', 0.1, '0.3-0.4');
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 8, 'failure', '{TS1443}');
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 72, 'failure', '{TS7006}');
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 2, 'partial', '{TS1443}', 0.2);
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 2, 'partial', '{TS7006}', 0.2);
SELECT pg_temp.log_rows('2026-01-04 12:00+00', 10, 'failure', '{TS7006}', 1, '0.5-0.6', '{TS1443}');
SELECT pg_temp.log_rows('2026-01-05 00:00+00', 21, 'failure', '{TS2345}');

-- Threshold experiments: two promoted (one before t0), one rolled back
-- after its watch, one rejected, one running, one manual change.
INSERT INTO threshold_experiments (proposer_name, old_threshold, new_threshold, status, decision_rule, decided_at)
VALUES ('p1', 0.3, 0.4, 'promoted', 'threshold', '2026-01-02 00:00+00'),
       ('p2', 0.3, 0.5, 'promoted', 'wilson', '2025-12-20 00:00+00'),
       ('p3', 0.3, 0.4, 'rolled_back', 'threshold', '2026-01-03 00:00+00'),
       ('p4', 0.3, 0.4, 'rejected', 'sprt', '2026-01-04 00:00+00'),
       ('p5', 0.3, 0.4, 'running', 'threshold', NULL),
       ('p6', 0.3, 0.9, 'manual', 'manual', '2026-01-02 00:00+00');
UPDATE threshold_experiments SET sprt_delta = 0.1, sprt_alpha = 0.05, sprt_beta = 0.2 WHERE decision_rule = 'sprt';

-- Windows and the ledger.  val-model/0.5-0.6 (window 50): 170 work orders
-- whose ids run against time, so only the time order gives the blocks
-- 30/50, 40/50, 35/50 (changes 0.2, 0.1; the last 20 form no full block).
-- val-model/0.3-0.4 (window 10, before t0): 37 work orders, blocks 5/10,
-- 5/10, 10/10 (changes 0, 0.5).  Mean of all four changes: 0.2.
INSERT INTO proposer_success_metrics (proposer_name, complexity_band, attempts, successes, window_size, last_seq)
VALUES ('val-model', '0.5-0.6', 50, 20, 50, 170), ('val-model', '0.3-0.4', 10, 5, 10, 37);
INSERT INTO work_orders (work_order_id, recorded_at, proposer_name, outcome, complexity_band, logged)
SELECT format('wo-%s', lpad((171 - i)::text, 4, '0')), '2026-01-01 00:00+00'::timestamptz + i * interval '1 minute',
       'val-model',
       CASE WHEN (i <= 50 AND i <= 30) OR (i > 50 AND i <= 100 AND i <= 90)
                 OR (i > 100 AND i <= 150 AND i <= 135) THEN 'success' ELSE 'failure' END,
       '0.5-0.6', true
  FROM generate_series(1, 170) i;
INSERT INTO work_orders (work_order_id, recorded_at, proposer_name, outcome, complexity_band, logged)
SELECT format('old-%s', lpad(i::text, 4, '0')), '2025-12-31 00:00+00'::timestamptz + i * interval '1 minute',
       'val-model', CASE WHEN i % 2 = 0 OR i BETWEEN 21 AND 30 THEN 'success' ELSE 'failure' END,
       '0.3-0.4', false
  FROM generate_series(1, 37) i;

-- The loop.  TS1443: a person's text (t0-5d), an automatic one promoted
-- (t0-3d) and rolled back (t0-2d).  TS2345: an automatic text approved
-- and tested from t0+1d, promoted at t0+2d; a second one rejected.  TS7006:
-- a text pending approval.  TS2304: a person's text at t0+1d, after which
-- the code never occurs again.
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status,
                                  created_at, approved_at, decided_at)
VALUES ('TS1443', 1, 'Quote module names.', 'manual', 'active', '2025-12-27 00:00+00', NULL, NULL),
       ('TS1443', 2, 'Always quote module names.', 'auto', 'rolled_back', '2025-12-28 00:00+00', '2025-12-28 00:00+00', '2025-12-30 00:00+00'),
       ('TS2345', 1, 'Check argument types.', 'auto', 'active', '2026-01-01 12:00+00', '2026-01-02 00:00+00', '2026-01-03 00:00+00'),
       ('TS2345', 2, 'Check every argument.', 'auto', 'rejected', '2026-01-03 00:00+00', '2026-01-03 00:00+00', '2026-01-04 00:00+00'),
       ('TS7006', 1, 'Annotate parameters.', 'auto', 'pending_approval', '2026-01-04 00:00+00', NULL, NULL);
WITH tests AS (
    INSERT INTO ab_tests (kind, subject, candidate, incumbent, salt, sample_size, alpha, status, started_at, decided_at)
    VALUES ('enhancement', 'TS1443', '2', '1', 1, 30, 0.05, 'rolled_back', '2025-12-28 00:00+00', '2025-12-29 00:00+00'),
           ('enhancement', 'TS2345', '1', NULL, 2, 30, 0.05, 'promoted', '2026-01-02 00:00+00', '2026-01-03 00:00+00')
    RETURNING id, subject)
INSERT INTO version_history (kind, subject, old_version, new_version, action, ab_test_id, changed_at, changed_by, reason)
SELECT 'enhancement', h.subject, h.old_version, h.new_version, h.action,
       CASE WHEN h.action <> 'set' THEN (SELECT id FROM tests WHERE tests.subject = h.subject) END,
       h.changed_at, 'tester', 'seeded'
  FROM (VALUES ('TS1443', NULL, '1', 'set', '2025-12-27 00:00+00'::timestamptz),
               ('TS1443', '1', '2', 'promoted', '2025-12-29 00:00+00'),
               ('TS1443', '2', '1', 'rolled_back', '2025-12-30 00:00+00'),
               ('TS2345', NULL, '1', 'promoted', '2026-01-03 00:00+00'),
               ('TS2304', NULL, '1', 'set', '2026-01-02 00:00+00'))
       AS h (subject, old_version, new_version, action, changed_at)
 ORDER BY h.changed_at;

-- ---------------------------------------------------------------------------
-- The whole history
-- ---------------------------------------------------------------------------
SELECT is(pg_temp.value_of('ts1443_reduction'), round(1 - (18.0 / 431) / (40.0 / 230), 6),
          'TS1443 reduction compares its weighted rate per work order, first vs last quarter, without the sanitizer-fixed ones');
SELECT matches((SELECT detail FROM pg_temp.report() WHERE metric = 'ts1443_reduction'), 'in 36\.4% and 11\.2% of the work orders with errors',
               'the detail also gives its share of the work orders with errors (40 of 110, 18 of 161)');
SELECT is(pg_temp.met_of('ts1443_reduction'), true, 'a drop of more than 50% is met');
SELECT is(pg_temp.value_of('ts1443_sanitizer_fixed_share'), round(10.0 / 68, 6),
          'sanitizer-fixed TS1443 are counted apart: 10 of 68 weighted work orders with TS1443');
SELECT results_eq($$SELECT round(value::numeric, 9), target, met FROM pg_temp.report() WHERE metric = 'success_rate_band_0.3-0.4'$$,
                  $$VALUES (0.7, 0.7::float8, true)$$,
                  'the band''s success rate in the last quarter weighs sampled successes: 70 of 100 work orders');
SELECT matches((SELECT detail FROM pg_temp.report() WHERE metric = 'success_rate_band_0.3-0.4'), 'first quarter: 66\.7%',
               'and the detail gives the first quarter''s: 20 of 30');
SELECT results_eq($$SELECT value, met FROM pg_temp.report() WHERE metric = 'threshold_promotions'$$,
                  $$VALUES (2::float8, true)$$,
                  'promoted experiments count, rolled back ones and manual changes do not');
SELECT matches((SELECT detail FROM pg_temp.report() WHERE metric = 'threshold_promotions'), 'threshold: 0\.5',
               'the detail names the highest promoted threshold');
SELECT is(pg_temp.value_of('threshold_experiments_decided'), 4::numeric,
          'decided experiments: promoted, rolled back and rejected, not running or manual');
SELECT is(pg_temp.value_of('storage_bytes_per_1000_work_orders'),
          round((pg_total_relation_size('proposer_failures') + pg_total_relation_size('work_orders')
                 + pg_total_relation_size('proposer_attempts') + pg_total_relation_size('proposer_success_metrics'))
                * 1000.0 / (170 + 37), 6),
          'storage: log, ledger and windows per 1,000 work orders ever recorded (the windows'' per-key sequences)');
SELECT results_eq($$SELECT round(value::numeric, 9), met FROM pg_temp.report() WHERE metric = 'window_stability'$$,
                  $$VALUES (0.2, false)$$,
                  'window stability: mean change between consecutive full windows in time order; 0.2 is not met');
SELECT matches((SELECT detail FROM pg_temp.report() WHERE metric = 'window_stability'), '4 pairs.*largest change 0\.500',
               'the detail counts the pairs of windows and names the largest change');
SELECT results_eq($$SELECT metric, value FROM pg_temp.report() WHERE metric LIKE 'enhancements_%'$$,
                  $$VALUES ('enhancements_created', 4::float8), ('enhancements_approved', 3),
                           ('enhancements_promoted', 2), ('enhancements_rolled_back', 1),
                           ('enhancements_rejected', 1)$$,
                  'the loop''s counts');
-- TS2345 before its test (t0 .. t0+1d): 60 of 230 weighted work orders;
-- after its promotion: 21 of 431; the test's own days are left out.
SELECT is(pg_temp.value_of('rate_reduction:TS2345'), round(1 - (21.0 / 431) / (60.0 / 230), 6),
          'a code''s weighted rate before its test against after its promotion');
SELECT is(pg_temp.met_of('rate_reduction:TS2345'), true, 'a reduction of 81% is met');
SELECT results_eq($$SELECT value, met FROM pg_temp.report() WHERE metric = 'rate_reduction:TS1443'$$,
                  $$VALUES (NULL::float8, NULL::boolean)$$,
                  'a code whose live text changed where nothing was logged has no reduction');
SELECT is((SELECT count(*) FROM pg_temp.report() WHERE metric = 'rate_reduction:TS7006'), 0::bigint,
          'a code whose text never went live has no row');
SELECT results_eq($$SELECT value, met FROM pg_temp.report() WHERE metric = 'rate_reduction:TS2304'$$,
                  $$VALUES (1::float8, true)$$,
                  'a code that never occurs after its text went live: a reduction of 1');

-- ---------------------------------------------------------------------------
-- Since t0 and later
-- ---------------------------------------------------------------------------
SELECT results_eq($$SELECT value, met FROM pg_temp.report('2026-01-01') WHERE metric = 'threshold_promotions'$$,
                  $$VALUES (1::float8, true)$$,
                  'since t0: the promotion before it does not count');
SELECT results_eq($$SELECT round(value::numeric, 9), met FROM pg_temp.report('2026-01-01') WHERE metric = 'window_stability'$$,
                  $$VALUES (0.15, true)$$,
                  'since t0: only the windows of the period; 0.15 is met');
SELECT results_eq($$SELECT value FROM pg_temp.report('2026-01-01') WHERE metric LIKE 'enhancements_%'$$,
                  $$VALUES (3::float8), (2), (1), (0), (1)$$,
                  'since t0: the loop''s counts of the period');
SELECT results_eq($$SELECT metric FROM pg_temp.report('2026-01-01') WHERE metric LIKE 'rate_reduction:%'$$,
                  ARRAY['rate_reduction:TS2304', 'rate_reduction:TS2345'],
                  'since t0: only the codes whose text went live in the period');
SELECT results_eq($$SELECT value, met FROM pg_temp.report('2026-01-02') WHERE metric = 'ts1443_reduction'$$,
                  $$VALUES (NULL::float8, false)$$,
                  'since t0+1d: TS1443 absent from the first quarter and present in the last is not met');
SELECT is((SELECT count(*) FROM pg_temp.report('2027-01-01') WHERE value IS NULL
            AND metric IN ('ts1443_reduction', 'success_rate_band_0.3-0.4', 'window_stability')), 3::bigint,
          'a period with no data has NULL ratios');
SELECT isnt(pg_temp.value_of('storage_bytes_per_1000_work_orders', '2027-01-01'), NULL,
            'storage is over the whole history whatever since is');

-- Every TS1443 fixed by the sanitizer: moved to its category, met.
UPDATE proposer_failures SET error_codes = array_remove(error_codes, 'TS1443'),
                             excluded_error_codes = excluded_error_codes || '{TS1443}'
 WHERE 'TS1443' = ANY (error_codes);
SELECT results_eq($$SELECT value, met FROM pg_temp.report() WHERE metric = 'ts1443_reduction'$$,
                  $$VALUES (NULL::float8, true)$$,
                  'every TS1443 fixed by the sanitizer is met');
SELECT is(pg_temp.value_of('ts1443_sanitizer_fixed_share'), 1::numeric, 'and its share is 1');

-- Errors and privileges.
SELECT is((SELECT count(*) FROM validation_report(NULL)), (SELECT count(*) FROM validation_report()),
          'NULL since means the whole history');
SELECT results_eq($$SELECT metric, value FROM validation_report('-infinity')$$,
                  $$SELECT metric, value FROM validation_report()$$,
                  'since -infinity is the whole history');
SELECT is((SELECT count(*) FROM validation_report('infinity') WHERE value IS NULL AND metric = 'ts1443_reduction'), 1::bigint,
          'since infinity is an empty period, not an error');
CREATE ROLE val_app;
SELECT ok(NOT has_function_privilege('val_app', 'validation_report(timestamptz)', 'EXECUTE'),
          'PUBLIC cannot run the report');
SELECT isnt(obj_description('validation_report(timestamptz)'::regprocedure, 'pg_proc'), NULL,
            'the report has a COMMENT');

SELECT * FROM finish();
ROLLBACK;
