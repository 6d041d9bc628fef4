-- record_work_order: sampling, windows and metrics, idempotency, bad input.
BEGIN;
CREATE EXTENSION IF NOT EXISTS pgtap;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT plan(51);

SELECT register_proposer('alpha', 0.3, 1);
SELECT register_proposer('beta', 0.6, 2);

-- ---------------------------------------------------------------------------
-- Sampling: 10,000 work orders of each outcome, with ids.
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE sampled AS
SELECT kind, i, (r).logged
  FROM (SELECT 'success' AS kind, i,
               record_work_order('alpha', 0.15, 3, 0, work_order_id => 's-' || i) AS r
          FROM generate_series(1, 10000) i
        UNION ALL
        SELECT 'partial', i, record_work_order('alpha', 0.15, 10, 2, work_order_id => 'p-' || i)
          FROM generate_series(1, 10000) i
        UNION ALL
        SELECT 'failure', i, record_work_order('alpha', 0.15, 3, 3, work_order_id => 'f-' || i)
          FROM generate_series(1, 10000) i) s;

SELECT cmp_ok(abs(avg(logged::int) - 0.10), '<=', 0.015::numeric,
              'logged share of successes is 0.10 +- 0.015 (got ' || round(avg(logged::int), 4) || ')')
  FROM sampled WHERE kind = 'success';
SELECT cmp_ok(abs(avg(logged::int) - 0.20), '<=', 0.02::numeric,
              'logged share of partials is 0.20 +- 0.02 (got ' || round(avg(logged::int), 4) || ')')
  FROM sampled WHERE kind = 'partial';
SELECT is(avg(logged::int), 1::numeric, 'every failure is logged') FROM sampled WHERE kind = 'failure';
SELECT is((SELECT count(*) FROM proposer_failures),
          (SELECT count(*) FROM sampled WHERE logged),
          'proposer_failures holds exactly the logged work orders');
SELECT is((SELECT count(DISTINCT sample_rate) FILTER (WHERE outcome = 'success') FROM proposer_failures), 1::bigint,
          'logged successes carry one sample rate');
SELECT is((SELECT min(sample_rate) FROM proposer_failures WHERE outcome = 'success'), 0.1::float8,
          'logged successes carry sample_rate 0.1');
SELECT is((SELECT min(sample_rate) FROM proposer_failures WHERE outcome = 'partial'), 0.2::float8,
          'logged partials carry sample_rate 0.2');
SELECT is((SELECT bool_and(sample_rate = 1 AND NOT is_sampled_success) FROM proposer_failures WHERE outcome = 'failure'), true,
          'failures carry sample_rate 1 and are not sampled successes');
SELECT is((SELECT bool_and(is_sampled_success) FROM proposer_failures WHERE outcome <> 'failure'), true,
          'logged successes and partials are marked as sampled');

-- Same id, same decision, on a fresh install.
CREATE TEMP TABLE first_decisions AS SELECT kind, i, logged FROM sampled WHERE kind <> 'failure' AND i <= 3000;
DROP EXTENSION adaptive_prompts;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT register_proposer('alpha', 0.3, 1);
SELECT register_proposer('beta', 0.6, 2);
SELECT is((SELECT count(*) FROM first_decisions d
            WHERE d.logged IS DISTINCT FROM (record_work_order('alpha', 0.15,
                      CASE d.kind WHEN 'success' THEN 3 ELSE 10 END,
                      CASE d.kind WHEN 'success' THEN 0 ELSE 2 END,
                      work_order_id => left(d.kind, 1) || '-' || d.i)).logged),
          0::bigint, 'the same ids get the same logging decisions on a fresh install');
SELECT cmp_ok((SELECT count(*) FROM first_decisions WHERE logged), '>', 0::bigint,
              'some of those decisions were to log');

-- Without an id the decision is random but keeps the rate.
SELECT cmp_ok(abs(avg((record_work_order('beta', 0.95, 2, 0)).logged::int) - 0.10), '<=', 0.02::numeric,
              'without ids, about 10% of successes are logged')
  FROM generate_series(1, 5000);

-- ---------------------------------------------------------------------------
-- Windows and metrics
-- ---------------------------------------------------------------------------
-- A mixed stream over 2 proposers x 10 bands, 4,000 work orders.
SELECT count(record_work_order(CASE WHEN i % 3 = 0 THEN 'beta' ELSE 'alpha' END,
                               ((i * 7919) % 1000) / 1000.0,
                               (i % 5) + 1, (i * 31) % 4, (i % 11) = 0))
  FROM generate_series(1, 4000) i;

SELECT is((SELECT max(n) FROM (SELECT count(*) AS n FROM proposer_attempts
                                GROUP BY proposer_name, complexity_band) w),
          50::bigint, 'no window holds more than window_size (50) attempts');
SELECT is((SELECT count(*) FROM proposer_success_metrics), 20::bigint, 'one metrics row per (proposer, band)');

CREATE TEMP VIEW window_check AS
SELECT m.proposer_name, m.complexity_band,
       m.attempts = a.n AS attempts_ok,
       m.successes = a.s AS successes_ok,
       abs(m.success_rate - a.s::float8 / a.n) < 1e-12 AS rate_ok,
       abs(m.avg_improvement_rate - a.avg_improvement) < 1e-9 AS improvement_ok,
       m.last_seq = a.max_seq AS seq_ok,
       a.max_seq - a.min_seq + 1 = a.n AS contiguous
  FROM proposer_success_metrics m
  JOIN (SELECT proposer_name, complexity_band, count(*) AS n,
               count(*) FILTER (WHERE was_success) AS s,
               avg(improvement_rate) AS avg_improvement,
               max(seq) AS max_seq, min(seq) AS min_seq
          FROM proposer_attempts GROUP BY 1, 2) a USING (proposer_name, complexity_band);

SELECT is((SELECT count(*) FROM window_check WHERE attempts_ok AND successes_ok AND rate_ok
                                                 AND improvement_ok AND seq_ok AND contiguous),
          20::bigint, 'every metrics row equals the aggregate of exactly its window');

-- The window keeps the most recent attempts, in order, also inside one transaction.
SELECT register_proposer('gamma', 0.5, 3);
SELECT record_work_order('gamma', 0.55, 1, 1) FROM generate_series(1, 60);
SELECT record_work_order('gamma', 0.55, 1, 0);
SELECT record_work_order('gamma', 0.55, 1, 1);
SELECT is((SELECT array_agg(was_success ORDER BY seq DESC) FROM (
             SELECT was_success, seq FROM proposer_attempts
              WHERE proposer_name = 'gamma' ORDER BY seq DESC LIMIT 2) t),
          ARRAY[false, true], 'two attempts in one transaction keep their order');
SELECT is((SELECT successes FROM proposer_success_metrics WHERE proposer_name = 'gamma'), 1,
          'the window counts the success among the last 50');
SELECT is((SELECT min(seq) FROM proposer_attempts WHERE proposer_name = 'gamma'), 13::bigint,
          'the 12 oldest of 62 attempts left the window');
SELECT is((SELECT count(DISTINCT recorded_at) FROM proposer_attempts WHERE proposer_name = 'gamma'), 1::bigint,
          'all those attempts share one timestamp: order comes from seq, not time');

-- ---------------------------------------------------------------------------
-- Improvement rate and outcome
-- ---------------------------------------------------------------------------
SELECT is((record_work_order('gamma', 0.5, 0, 0)).improvement_rate, 1::float8, 'initial 0, final 0: rate 1');
SELECT is((record_work_order('gamma', 0.5, 0, 3)).improvement_rate, 0::float8, 'initial 0, final > 0: rate 0');
SELECT is((record_work_order('gamma', 0.5, 0, 3)).outcome, 'failure', 'initial 0, final > 0: failure');
SELECT is((record_work_order('gamma', 0.5, 2, 5)).improvement_rate, -1.5::float8, 'final > initial: negative rate');
SELECT is((record_work_order('gamma', 0.5, 2, 5)).outcome, 'failure', 'final > initial: failure');
SELECT is((record_work_order('gamma', 0.5, 5, 0, stalled => true)).outcome, 'failure', 'stalled is a failure even with no errors left');
SELECT is((record_work_order('gamma', 0.5, 10, 4, stalled => true)).outcome, 'failure', 'stalled partial is a failure');
SELECT is((record_work_order('gamma', 0.5, 10, 4)).outcome, 'partial', 'more than half fixed: partial');
SELECT is((record_work_order('gamma', 0.5, 10, 5)).outcome, 'failure', 'exactly half fixed: failure');

-- ---------------------------------------------------------------------------
-- Idempotency
-- ---------------------------------------------------------------------------
SELECT is((record_work_order('gamma', 0.5, 4, 4, work_order_id => 'dup-1')).duplicate, false, 'first call is not a duplicate');
CREATE TEMP TABLE before_dup AS
SELECT (SELECT count(*) FROM proposer_failures) AS f, (SELECT count(*) FROM work_orders) AS w,
       (SELECT sum(last_seq) FROM proposer_success_metrics) AS s;
SELECT is((record_work_order('beta', 0.9, 0, 0, work_order_id => 'dup-1')).duplicate, true, 'repeated id: duplicate = true');
SELECT is((record_work_order('beta', 0.9, 0, 0, work_order_id => 'dup-1')).outcome, 'failure', 'repeated id returns the first outcome');
SELECT is((record_work_order('beta', 0.9, 0, 0, work_order_id => 'dup-1')).complexity_band, '0.5-0.6', 'repeated id returns the first band');
SELECT is((record_work_order('beta', 0.9, 0, 0, work_order_id => 'dup-1')).logged, true, 'repeated id returns the first logging decision');
SELECT is((SELECT (count(*), (SELECT count(*) FROM work_orders), (SELECT sum(last_seq) FROM proposer_success_metrics))::text
             FROM proposer_failures),
          (SELECT (f, w, s)::text FROM before_dup), 'repeated ids changed no row');

-- ---------------------------------------------------------------------------
-- Bad input: SQLSTATE class 22, nothing written
-- ---------------------------------------------------------------------------
CREATE TEMP TABLE before_bad AS
SELECT (SELECT count(*) FROM proposer_failures) AS f, (SELECT count(*) FROM work_orders) AS w,
       (SELECT sum(last_seq) FROM proposer_success_metrics) AS s, (SELECT count(*) FROM proposers) AS p;
SELECT throws_ok($$SELECT record_work_order(NULL, 0.5, 1, 0, work_order_id => 'bad')$$, '22004', NULL, 'NULL proposer');
SELECT throws_ok($$SELECT record_work_order('', 0.5, 1, 0, work_order_id => 'bad')$$, '22023', NULL, 'empty proposer');
SELECT throws_ok($$SELECT record_work_order('x', NULL, 1, 0, work_order_id => 'bad')$$, '22004', NULL, 'NULL complexity');
SELECT throws_ok($$SELECT record_work_order('x', 'NaN', 1, 0, work_order_id => 'bad')$$, '22003', NULL, 'NaN complexity');
SELECT throws_ok($$SELECT record_work_order('x', 'Infinity', 1, 0, work_order_id => 'bad')$$, '22003', NULL, 'Infinity complexity');
SELECT throws_ok($$SELECT record_work_order('x', -0.5, 1, 0, work_order_id => 'bad')$$, '22003', NULL, 'negative complexity');
SELECT throws_ok($$SELECT record_work_order('x', 1.5, 1, 0, work_order_id => 'bad')$$, '22003', NULL, 'complexity above 1');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, NULL, 0, work_order_id => 'bad')$$, '22004', NULL, 'NULL initial_errors');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, -1, work_order_id => 'bad')$$, '22003', NULL, 'negative final_errors');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, 0, error_codes => '{TS1,NULL}', work_order_id => 'bad')$$, '22004', NULL, 'NULL in error_codes');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, 0, enhancements_used => '{NULL}', work_order_id => 'bad')$$, '22004', NULL, 'NULL in enhancements_used');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, 0, sanitizer_changes => '{NULL}', work_order_id => 'bad')$$, '22004', NULL, 'NULL in sanitizer_changes');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, 0, error_samples => '{"a": 1}', work_order_id => 'bad')$$, '22023', NULL, 'error_samples as an object');
SELECT throws_ok($$SELECT record_work_order('x', 0.5, 1, 0, error_samples => '["TS1"]', work_order_id => 'bad')$$, '22023', NULL, 'error_samples of strings');
SELECT is((SELECT (f, w, s, p)::text FROM before_bad),
          (SELECT ((SELECT count(*) FROM proposer_failures), (SELECT count(*) FROM work_orders),
                   (SELECT sum(last_seq) FROM proposer_success_metrics), (SELECT count(*) FROM proposers))::text),
          'no bad call changed a row');

-- Auto-registration: inactive, NOTICE; an error when turned off is tested
-- in test/integration (the setting is reload-level).
SELECT is((record_work_order('typo-model', 0.2, 1, 1)).outcome, 'failure', 'unknown proposer is recorded');
SELECT is((SELECT active FROM proposers WHERE name = 'typo-model'), false, 'and registered inactive');

SELECT * FROM finish();
ROLLBACK;
