-- pgTAP: threshold experiments and routing (SPEC 4.3).
--
-- The rules 'wilson' and 'sprt' are chosen by adaptive_prompts.decision_rule,
-- a reload-level setting that no session can SET.  An experiment reads its
-- rule from its own row (copied from the setting when it starts), so these
-- tests, running as the table owner, insert rows that carry those rules:
-- the admin-only way documented in docs/experiments.md.  That the setting
-- is copied at start is tested with ALTER SYSTEM in
-- test/integration/experiment_rules.sh.
BEGIN;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SET LOCAL client_min_messages = warning;
SELECT plan(133);

SELECT register_proposer('mini', 0.3, 1);
SELECT register_proposer('strong', 0.9, 10);

-- Results in order from a pattern such as 'SSF' (S = success, F = failure);
-- returns the status record_experiment_result answered after each one.
CREATE FUNCTION feed(pattern text, score float8 DEFAULT 0.35, proposer text DEFAULT 'mini')
RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    statuses text[] := '{}';
    i integer;
BEGIN
    FOR i IN 1 .. length(pattern) LOOP
        statuses := statuses || record_experiment_result(proposer, score,
                                                         substr(pattern, i, 1) = 'S');
    END LOOP;
    RETURN statuses;
END
$$;

-- 'SQLSTATE: message' of the error a statement raises, NULL if none.
CREATE FUNCTION error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;

-- An experiment row with a given rule, as an administrator would write it.
CREATE FUNCTION start_with_rule(rule text, size integer DEFAULT 30,
                                proposer text DEFAULT 'mini')
RETURNS uuid LANGUAGE sql AS $$
    INSERT INTO threshold_experiments
        (proposer_name, old_threshold, new_threshold, test_sample_size,
         confidence_threshold, decision_rule, sprt_delta, sprt_alpha, sprt_beta)
    SELECT proposer, p.complexity_threshold, 0.4, size, 0.7, rule,
           CASE WHEN rule = 'sprt' THEN 0.1 END,
           CASE WHEN rule = 'sprt' THEN 0.05 END,
           CASE WHEN rule = 'sprt' THEN 0.2 END
      FROM proposers p WHERE p.name = proposer
    RETURNING id
$$;

CREATE FUNCTION threshold_of(proposer text) RETURNS float8 LANGUAGE sql AS $$
    SELECT complexity_threshold FROM proposers WHERE name = proposer
$$;

-- ---------------------------------------------------------------------------
-- The rule in force is copied onto the row
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('mini', 0.4, 10, 0.7) AS exp \gset
SELECT results_eq(
    format('SELECT decision_rule, sprt_delta, test_sample_size, confidence_threshold, old_threshold, new_threshold, status, started_by = current_user
              FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('threshold'::text, NULL::float8, 10, 0.7::float8, 0.3::float8, 0.4::float8, 'running'::text, true)$$,
    'a proposal copies the rule (threshold by default) and its parameters onto the row');
SELECT results_eq(
    format('SELECT watch_rule, round(watch_p_good::numeric, 9), round(watch_p_bad::numeric, 9), watch_alpha, watch_beta
              FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('sprt'::text, 0.75, 0.55, 0.05::float8, 0.2::float8)$$,
    'and the watch rule (sprt by default): confidence + 0.05 against confidence - 0.15, alpha 0.05, beta 0.2');
-- This experiment keeps the watch rule of before 0.1.0 (below_bar), as a
-- row started under adaptive_prompts.watch_rule = end_of_watch does: the
-- row's rule decides, whatever the setting is now.
UPDATE threshold_experiments
   SET watch_rule = 'below_bar', watch_p_good = NULL, watch_p_bad = NULL,
       watch_alpha = NULL, watch_beta = NULL
 WHERE id = :'exp';

-- record_work_order reports the experiment that counted the work order.
SELECT results_eq(
    $$SELECT experiment_id::text, experiment_status FROM record_work_order('mini', 0.35, 1, 0)$$,
    format($$VALUES (%L, 'running')$$, :'exp'),
    'record_work_order returns the id and status of the experiment that counted it');
SELECT is((record_work_order('mini', 0.5, 1, 0)).experiment_id, NULL,
          'a work order outside the band is not counted');
SELECT is(sample_count, 1::bigint, 'exactly one of the two work orders counted')
  FROM threshold_experiment_progress WHERE experiment_id = :'exp';

-- ---------------------------------------------------------------------------
-- Rollback after promotion
-- ---------------------------------------------------------------------------
-- 1 success so far; 6 more successes and 3 failures make 7/10 = 0.7.
SELECT is(feed('SSSSSSFFF'), '{running,running,running,running,running,running,running,running,promoted}',
          'the tenth result (7/10) promotes, not earlier');
SELECT is(threshold_of('mini'), 0.4::float8, 'promotion raises the threshold');
SELECT ok(watching AND watch_sample_count = 0, 'the promotion is watched')
  FROM threshold_experiments WHERE id = :'exp';
SELECT is(propose_threshold_increase('mini', 0.5), NULL, 'no new proposal during the watch');
SELECT is(run_threshold_experiment('mini', 0.4, 0.5), NULL, 'nor through run_threshold_experiment');
SELECT matches(error_of($$SELECT set_threshold('mini', 0.35)$$), '^55000',
               'set_threshold is refused during the watch');
-- The watch: 6 of 10 in the band succeed, below 0.7.
SELECT is(feed('SSSSSSFFF', 0.4), '{promoted,promoted,promoted,promoted,promoted,promoted,promoted,promoted,promoted}',
          'watched results report the promotion while the watch runs');
SELECT is(feed('F', 0.3), '{rolled_back}', 'the last watched result (6/10) rolls back');
SELECT is(threshold_of('mini'), 0.3::float8, 'the old threshold is restored');
SELECT results_eq(
    format('SELECT status, watching, watch_sample_count, watch_successes, watch_ended_at IS NOT NULL FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('rolled_back'::text, false, 10, 6, true)$$,
    'the experiment is rolled_back with its watch counts');
SELECT matches(watch_reason, '^rolled back after watch: 6/10 successes, rate 0\.600, Wilson 95% interval \[0\.313, 0\.832\]; rate < confidence 0\.7; threshold restored to 0\.3$',
               'the rollback reason records the numbers')
  FROM threshold_experiments WHERE id = :'exp';
SELECT matches(decision_reason, '^promoted: 7/10', 'the promotion reason is kept')
  FROM threshold_experiments WHERE id = :'exp';
SELECT is(record_experiment_result('mini', 0.35, true), NULL, 'results after the watch are ignored');
SELECT is(evaluate_experiment(:'exp'), 'rolled_back', 'evaluate_experiment reports rolled_back');
SELECT is(route_work_order(0.35), 'strong', 'after a rollback 0.35 goes to the stronger proposer');

-- A watch that fails after the administrator changed the threshold leaves
-- the administrator's value alone.
SELECT propose_threshold_increase('mini', 0.4, 5) AS exp \gset
SELECT isnt(NULLIF(:'exp', '')::uuid, NULL, 'a new proposal is possible after the watch');
SELECT is((feed('SSSSS'))[5], 'promoted', '5/5 promotes');
SELECT throws_ok($$SELECT register_proposer('mini', 0.45, 1)$$, '55000', NULL,
                 'register_proposer refuses a new threshold during the watch');
UPDATE proposers SET complexity_threshold = 0.45 WHERE name = 'mini';  -- a DBA's override
SELECT is((feed('FFFFF'))[5], 'rolled_back', '0/5 in the watch rolls back');
SELECT is(threshold_of('mini'), 0.45::float8, 'a threshold changed during the watch is not overwritten');
SELECT matches(watch_reason, 'threshold left at 0\.45', 'and the reason says so')
  FROM threshold_experiments WHERE id = :'exp';
SELECT set_threshold('mini', 0.3);

-- ---------------------------------------------------------------------------
-- The sequential watch (sprt, the default): bar 0.7, 30 work orders.  It
-- rolls back early at 5 straight failures (log-likelihood ratio of 0.55
-- over 0.75: 5 x log(0.45/0.25) = 2.939 >= log(0.8/0.05) = 2.773), and at
-- the end with at most 17 successes (exact false-rollback rate 3.7% at 0.75).
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('mini', 0.4, 30) AS exp \gset
SELECT is((feed(repeat('S', 30)))[30], 'promoted', '30/30 promotes');
SELECT is(feed('FFFFF', 0.4), '{promoted,promoted,promoted,promoted,rolled_back}',
          'five straight watched failures roll back at once');
SELECT is(threshold_of('mini'), 0.3::float8, 'the early rollback restores the old threshold');
SELECT results_eq(
    format('SELECT status, watching, watch_sample_count, watch_successes FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('rolled_back'::text, false, 5, 0)$$,
    'the watch ended after 5 of its 30 work orders');
SELECT matches(watch_reason, '^rolled back early after watch: 0/5 successes, rate 0\.000, Wilson 95% interval \[0\.000, 0\.434\]; watch rule sprt: log-likelihood ratio 2\.939 >= boundary 2\.773 after 5 of 30 work orders \(rate 0\.55 against 0\.75, alpha 0\.05, beta 0\.2; false-rollback rate 0\.037 at 0\.75\); threshold restored to 0\.3$',
               'the early rollback reason records the ratio, its boundary and the error rate')
  FROM threshold_experiments WHERE id = :'exp';

-- 17 successes then 13 failures: never past the early boundary (2.368 at
-- the end), but 17 <= 17 at the end rolls back.
SELECT propose_threshold_increase('mini', 0.4, 30) AS exp \gset
SELECT is((feed(repeat('S', 30)))[30], 'promoted', '30/30 promotes again');
SELECT is((feed(repeat('S', 17) || repeat('F', 12), 0.4))[29], 'promoted',
          '17/29 watched: the watch goes on');
SELECT is(feed('F', 0.4), '{rolled_back}', '17/30 at the end of the watch rolls back');
SELECT is(threshold_of('mini'), 0.3::float8, 'the old threshold is restored');
SELECT matches(watch_reason, '^rolled back after watch: 17/30 successes, .*; watch rule sprt: 17 successes <= 17, the largest count that rolls back at the end; no early boundary crossed',
               'the final rollback reason records the count against the calibrated one')
  FROM threshold_experiments WHERE id = :'exp';

-- 18 successes then 12 failures: kept (at the bar 0.7, below_bar would
-- have rolled back 18/30 = 0.6).
SELECT propose_threshold_increase('mini', 0.4, 30) AS exp \gset
SELECT is((feed(repeat('S', 30)))[30], 'promoted', '30/30 promotes a third time');
SELECT is((feed(repeat('S', 18) || repeat('F', 12), 0.4))[30], 'promoted',
          '18/30 at the end of the watch keeps the promotion');
SELECT results_eq(
    format('SELECT status, watching, watch_sample_count, watch_successes FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('promoted'::text, false, 30, 18)$$,
    'the watch is over and the promotion stands');
SELECT is(threshold_of('mini'), 0.4::float8, 'the new threshold stays');
SELECT matches(watch_reason, '^kept after watch: 18/30 successes, .*; watch rule sprt: 18 successes > 17, the largest count that rolls back at the end',
               'the reason says why it was kept')
  FROM threshold_experiments WHERE id = :'exp';
SELECT set_threshold('mini', 0.3);

-- ---------------------------------------------------------------------------
-- Abort
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('mini', 0.4) AS exp \gset
SELECT feed('SSF');
SELECT is(route_work_order(0.35), 'mini', 'the band goes to the experimenting proposer');
SELECT lives_ok(format($$SELECT abort_experiment(%L, 'model outage')$$, :'exp'),
                'a running experiment can be aborted');
SELECT results_eq(
    format('SELECT status, watching, decided_by = current_user, decided_at IS NOT NULL, current_sample_count FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('aborted'::text, false, true, true, 3)$$,
    'aborted by the calling role, counts kept');
SELECT matches(decision_reason, ': model outage; after 2/3 successes', 'the reason is recorded')
  FROM threshold_experiments WHERE id = :'exp';
SELECT is(threshold_of('mini'), 0.3::float8, 'aborting a running experiment leaves the threshold');
SELECT is(record_experiment_result('mini', 0.35, true), NULL, 'an aborted experiment counts nothing');
SELECT is(route_work_order(0.35), 'strong', 'nor gets the band');
SELECT matches(error_of(format($$SELECT abort_experiment(%L, 'again')$$, :'exp')),
               '^55000: threshold experiment of proposer "mini" is already aborted',
               'an aborted experiment cannot be aborted again');
SELECT is(evaluate_experiment(:'exp'), 'aborted', 'evaluate_experiment reports aborted');

-- Aborting during the watch restores the old threshold.
SELECT propose_threshold_increase('mini', 0.4, 3) AS exp \gset
SELECT is((feed('SSS'))[3], 'promoted', '3/3 promotes');
SELECT lives_ok(format($$SELECT abort_experiment(%L, 'not convinced')$$, :'exp'),
                'a watched promotion can be aborted');
SELECT is(threshold_of('mini'), 0.3::float8, 'aborting the watch restores the old threshold');
SELECT results_eq(
    format('SELECT status, watching FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('aborted'::text, false)$$, 'the watched experiment is aborted');
SELECT matches(watch_reason, ': not convinced; watch after 0/0 successes.*threshold restored to 0\.3$',
               'the abort of the watch is recorded')
  FROM threshold_experiments WHERE id = :'exp';

-- A rejected experiment cannot be aborted.
SELECT propose_threshold_increase('mini', 0.4, 3) AS exp \gset
SELECT is((feed('F'))[1], 'rejected', 'the first failure of 3 at 0.7 rejects early');
SELECT matches(error_of(format($$SELECT abort_experiment(%L, 'late')$$, :'exp')), '^55000',
               'a decided experiment cannot be aborted');

-- ---------------------------------------------------------------------------
-- Rules: threshold against Wilson on the same 21/30
-- ---------------------------------------------------------------------------
SELECT start_with_rule('threshold') AS exp \gset
SELECT is((feed(repeat('S', 21) || repeat('F', 9)))[30], 'promoted', '21/30 passes the default rule');
SELECT abort_experiment(:'exp', 'next test');
SELECT start_with_rule('wilson') AS exp \gset
SELECT is(feed(repeat('S', 21) || repeat('F', 5))::text,
          '{' || repeat('running,', 25) || 'rejected}',
          '21/30 fails the Wilson rule: rejected at the fifth failure, when 26 of 30 is out of reach');
SELECT matches(decision_reason,
               '^rejected early: 21/26 successes, rate 0\.808, Wilson 95% interval \[0\.621, 0\.915\]; rule wilson: 26 of 30 successes needed \(Wilson lower bound >= 0\.7\), at most 25 reachable$',
               'the Wilson decision records the numbers and the rule')
  FROM threshold_experiments WHERE id = :'exp';
SELECT start_with_rule('wilson') AS exp \gset
SELECT is((feed(repeat('S', 26) || repeat('F', 4)))[30], 'promoted', '26/30 passes the Wilson rule');
SELECT matches(decision_reason, 'rule wilson: Wilson lower bound 0\.703 >= confidence 0\.7$',
               'with its lower bound in the reason')
  FROM threshold_experiments WHERE id = :'exp';
SELECT abort_experiment(:'exp', 'next test');

-- ---------------------------------------------------------------------------
-- Rules: the sequential test (p0 0.6 against p1 0.8, alpha 0.05, beta 0.2)
-- ---------------------------------------------------------------------------
SELECT start_with_rule('sprt') AS exp \gset
SELECT is(feed(repeat('S', 10))::text, '{' || repeat('running,', 9) || 'promoted}',
          'SPRT promotes at the tenth straight success (10 log(4/3) >= log 16)');
SELECT matches(decision_reason, 'rule sprt: log-likelihood ratio 2\.877 >= upper boundary 2\.773 \(p0 0\.6 against p1 0\.8, alpha 0\.05, beta 0\.2\)$',
               'the SPRT reason gives the ratio, the boundary and the hypotheses')
  FROM threshold_experiments WHERE id = :'exp';
SELECT abort_experiment(:'exp', 'next test');
SELECT start_with_rule('sprt') AS exp \gset
SELECT is(feed('FFF')::text, '{running,running,rejected}', 'SPRT rejects at the third straight failure');
SELECT start_with_rule('sprt') AS exp \gset
-- 43 successes of 60 spread evenly never cross a boundary.
SELECT is(feed(string_agg(CASE WHEN (k * 43) / 60 > ((k - 1) * 43) / 60 THEN 'S' ELSE 'F' END, '' ORDER BY k))::text,
          '{' || repeat('running,', 59) || 'promoted}',
          'SPRT runs past the sample size and is truncated at twice it')
  FROM generate_series(1, 60) AS k;
SELECT results_eq(
    format('SELECT current_sample_count, current_successes FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES (60, 43)$$, 'truncated at 60 samples with 43 successes');
SELECT matches(decision_reason, 'no boundary crossed by 60 samples \(2 x sample size\), log-likelihood ratio 0\.587 > 0',
               'truncation decides by the sign of the log-likelihood ratio')
  FROM threshold_experiments WHERE id = :'exp';
SELECT abort_experiment(:'exp', 'next test');
SELECT start_with_rule('sprt') AS exp \gset
SELECT is((feed(string_agg(CASE WHEN (k * 42) / 60 > ((k - 1) * 42) / 60 THEN 'S' ELSE 'F' END, '' ORDER BY k)))[60],
          'rejected', '42/60 is rejected at truncation')
  FROM generate_series(1, 60) AS k;

-- ---------------------------------------------------------------------------
-- Input errors: clear SQLSTATEs naming the argument; nothing written
-- ---------------------------------------------------------------------------
SELECT is(error_of($$SELECT propose_threshold_increase('mini', 0.4, 30, 1.0)$$), NULL,
          'confidence 1 is allowed (every result must succeed)');
SELECT abort_experiment(id, 'next test') FROM threshold_experiments
 WHERE proposer_name = 'mini' AND status = 'running';

CREATE TEMP TABLE before AS
SELECT (SELECT count(*) FROM threshold_experiments) AS experiments,
       (SELECT string_agg(name || '=' || complexity_threshold, ',' ORDER BY name) FROM proposers) AS thresholds;

SELECT matches(error_of($$SELECT propose_threshold_increase('nobody', 0.4)$$),
               '^42704: proposer "nobody" does not exist', 'unknown proposer: 42704');
SELECT matches(error_of($$SELECT propose_threshold_increase(NULL, 0.4)$$),
               '^22004: proposer_name must not be NULL', 'NULL proposer: 22004');
SELECT matches(error_of($$SELECT propose_threshold_increase('', 0.4)$$),
               '^22023: proposer_name must not be empty', 'empty proposer: 22023');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 1.5)$$),
               '^22003: new_threshold must be between 0 and 1', 'threshold above 1: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', -0.1)$$),
               '^22003: new_threshold', 'negative threshold: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 'NaN')$$),
               '^22003: new_threshold', 'NaN threshold: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 'Infinity')$$),
               '^22003: new_threshold', 'infinite threshold: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', NULL)$$),
               '^22004: new_threshold must not be NULL', 'NULL threshold: 22004');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.3)$$),
               '^22023: new_threshold \(0\.3\) must be above the current complexity threshold of proposer "mini" \(0\.3\)',
               'a threshold equal to the current one: 22023');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.2)$$),
               '^22023: new_threshold', 'a threshold below the current one: 22023');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, 0)$$),
               '^22003: sample_size must be between 1 and', 'sample size 0: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, -5)$$),
               '^22003: sample_size', 'negative sample size: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, NULL)$$),
               '^22004: sample_size must not be NULL', 'NULL sample size: 22004');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, 30, 0)$$),
               '^22003: confidence must be greater than 0 and at most 1', 'confidence 0: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, 30, 1.01)$$),
               '^22003: confidence', 'confidence above 1: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, 30, 'NaN')$$),
               '^22003: confidence', 'NaN confidence: 22003');
SELECT matches(error_of($$SELECT propose_threshold_increase('mini', 0.4, 30, NULL)$$),
               '^22004: confidence must not be NULL', 'NULL confidence: 22004');
SELECT matches(error_of($$SELECT run_threshold_experiment('mini', 0.35, 0.4)$$),
               '^22023: current \(0\.35\) is not the complexity threshold of proposer "mini" \(0\.3\)',
               'run_threshold_experiment with a stale current: 22023');
SELECT matches(error_of($$SELECT run_threshold_experiment('mini', 0.3, 0.3)$$),
               '^22023: proposed \(0\.3\) must be above current \(0\.3\)', 'proposed not above current: 22023');
SELECT matches(error_of($$SELECT run_threshold_experiment('mini', 2, 0.4)$$),
               '^22003: current must be between 0 and 1', 'current out of range: 22003');
SELECT matches(error_of($$SELECT run_threshold_experiment('nobody', 0.3, 0.4)$$),
               '^42704', 'run_threshold_experiment for an unknown proposer: 42704');
SELECT matches(error_of($$SELECT record_experiment_result('nobody', 0.35, true)$$),
               '^42704', 'record_experiment_result for an unknown proposer: 42704');
SELECT matches(error_of($$SELECT record_experiment_result('mini', 1.2, true)$$),
               '^22003: complexity_score', 'record_experiment_result with a score out of range: 22003');
SELECT matches(error_of($$SELECT record_experiment_result('mini', 0.35, NULL)$$),
               '^22004: was_success must not be NULL', 'record_experiment_result without an outcome: 22004');
SELECT matches(error_of($$SELECT evaluate_experiment('00000000-0000-0000-0000-000000000000')$$),
               '^P0002: threshold experiment 00000000-0000-0000-0000-000000000000 does not exist',
               'evaluate_experiment of an unknown id: P0002');
SELECT matches(error_of($$SELECT evaluate_experiment(NULL)$$),
               '^22004: experiment_id must not be NULL', 'evaluate_experiment(NULL): 22004');
SELECT matches(error_of($$SELECT abort_experiment('00000000-0000-0000-0000-000000000000', 'x')$$),
               '^P0002', 'abort_experiment of an unknown id: P0002');
SELECT matches(error_of(format($$SELECT abort_experiment(%L, NULL)$$, :'exp')),
               '^22004: reason must not be NULL', 'abort without a reason: 22004');
SELECT matches(error_of(format($$SELECT abort_experiment(%L, '')$$, :'exp')),
               '^22023: reason must not be empty', 'abort with an empty reason: 22023');
SELECT matches(error_of($$SELECT route_work_order(NULL)$$),
               '^22004: complexity_score must not be NULL', 'route_work_order(NULL): 22004');
SELECT matches(error_of($$SELECT route_work_order('NaN')$$),
               '^22003: complexity_score', 'route_work_order(NaN): 22003');
SELECT matches(error_of($$SELECT route_work_order(0.5, '')$$),
               '^22023: work_order_id must not be empty', 'route_work_order with an empty id: 22023');

-- Refused proposals (NULL + NOTICE) write nothing either.
SELECT propose_threshold_increase('mini', 0.4) AS exp \gset
SELECT is(propose_threshold_increase('mini', 0.5), NULL, 'a second proposal returns NULL');
SELECT is((SELECT count(*) FROM threshold_experiments), (SELECT experiments + 1 FROM before),
          'errors and refusals wrote no experiment (only the one proposal that started)');
SELECT is((SELECT string_agg(name || '=' || complexity_threshold, ',' ORDER BY name) FROM proposers),
          (SELECT thresholds FROM before), 'errors and refusals changed no threshold');
SELECT is((SELECT count(*) FROM threshold_experiments WHERE proposer_name = 'mini' AND (status = 'running' OR watching)),
          1::bigint, 'one open experiment per proposer');
SELECT is(error_of($$INSERT INTO threshold_experiments (proposer_name, old_threshold, new_threshold) VALUES ('mini', 0.3, 0.4)$$) ~ '^23505',
          true, 'the unique partial index refuses a second running experiment');

-- ---------------------------------------------------------------------------
-- Routing
-- ---------------------------------------------------------------------------
SELECT is(route_work_order(0.35), 'mini', 'in the band of a running experiment: the experimenting proposer');
SELECT is(route_work_order(0.2), 'mini', 'covered by the cheapest proposer');
SELECT is(route_work_order(0.41), 'strong', 'above the band: the next proposer that covers it');
SELECT is(route_work_order(0.95), 'strong', 'above every threshold: the highest threshold');
SELECT register_proposer('twin', 0.9, 10);
SELECT is(route_work_order(0.6), 'strong', 'equal cost ranks: by name');
SELECT set_proposer_active('mini', false);
SELECT is(route_work_order(0.35), 'strong', 'inactive proposers are skipped, also for their experiment''s band');
SELECT set_proposer_active('mini', true);
SELECT set_proposer_active('strong', false);
SELECT set_proposer_active('twin', false);
SELECT is(route_work_order(0.95), 'mini', 'the only active proposer takes everything');
SELECT set_proposer_active('mini', false);
SELECT matches(error_of($$SELECT route_work_order(0.5)$$), '^P0002: no active proposer',
               'no active proposer: P0002');

-- ---------------------------------------------------------------------------
-- Striped counters: counting updates one of the experiment's 16 counter
-- rows, never the experiment row; evaluate_experiment and
-- settle_threshold_experiments decide on the counters' sums, once.
-- ---------------------------------------------------------------------------
SELECT set_proposer_active('mini', true);
SELECT abort_experiment(id, 'next test') FROM threshold_experiments
 WHERE proposer_name = 'mini' AND (status = 'running' OR watching);
SELECT propose_threshold_increase('mini', 0.4, 10) AS exp \gset
SELECT is(count(*), 16::bigint, 'an experiment starts with 16 counter rows')
  FROM threshold_experiment_counts WHERE experiment_id = :'exp' AND sample_count = 0;
SELECT ctid::text AS exp_ctid FROM threshold_experiments WHERE id = :'exp' \gset
SELECT is(record_experiment_result('mini', 0.35, true), 'running', 'a result is counted');
SELECT is((SELECT ctid::text FROM threshold_experiments WHERE id = :'exp'), :'exp_ctid',
          'counting did not update the experiment row');
SELECT is((SELECT sum(sample_count) FROM threshold_experiment_counts WHERE experiment_id = :'exp'),
          1::numeric, 'it went to a counter row');
-- Counters as concurrent sessions would leave them: 7 results, 6 successes.
UPDATE threshold_experiment_counts SET sample_count = 4, successes = 3
 WHERE experiment_id = :'exp' AND stripe = 2;
UPDATE threshold_experiment_counts SET sample_count = sample_count + 2, successes = successes + 2
 WHERE experiment_id = :'exp' AND stripe = (SELECT stripe FROM threshold_experiment_counts
                                             WHERE experiment_id = :'exp' AND sample_count = 1);
SELECT is(evaluate_experiment(:'exp'), 'running', '6/7 with 7 of 10 needed: still running');
SELECT results_eq(
    format('SELECT current_sample_count, current_successes FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES (7, 6)$$, 'evaluate_experiment writes the sums into the row (the counts of its last evaluation)');
UPDATE threshold_experiment_counts SET sample_count = 3, successes = 2
 WHERE experiment_id = :'exp' AND stripe = 11;
SELECT is(settle_threshold_experiments(), 1, 'settle_threshold_experiments decides the experiment whose sums reach a verdict (8/10)');
SELECT results_eq(
    format('SELECT status, watching, current_sample_count, current_successes FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('promoted'::text, true, 10, 8)$$, 'promoted on the sums, which the row records');
SELECT is(threshold_of('mini'), 0.4::float8, 'the promotion raised the threshold');
SELECT decided_at AS exp_decided_at, decision_reason AS exp_reason FROM threshold_experiments WHERE id = :'exp' \gset
UPDATE threshold_experiment_counts SET sample_count = sample_count + 5, successes = successes + 5
 WHERE experiment_id = :'exp' AND stripe = 0;
SELECT is(evaluate_experiment(:'exp'), 'promoted', 'a late count in the trial''s counters: still promoted');
SELECT is(settle_threshold_experiments(), 0, 'and settling again decides nothing');
SELECT is(record_experiment_result('mini', 0.35, false), 'promoted', 'a later result counts in the watch');
SELECT results_eq(
    format('SELECT current_sample_count, current_successes, decided_at = %L, decision_reason = %L FROM threshold_experiments WHERE id = %L',
           :'exp_decided_at', :'exp_reason', :'exp'),
    $$VALUES (10, 8, true, true)$$, 'later results do not change the decision or its recorded counts');
SELECT results_eq(
    format('SELECT sample_count, watch_sample_count, watch_successes FROM threshold_experiment_progress WHERE experiment_id = %L', :'exp'),
    $$VALUES (15::bigint, 1::bigint, 0::bigint)$$, 'the progress view shows the live sums');
UPDATE threshold_experiment_counts SET watch_sample_count = 9, watch_successes = 9
 WHERE experiment_id = :'exp' AND stripe = (SELECT min(stripe) FROM threshold_experiment_counts
                                             WHERE experiment_id = :'exp' AND watch_sample_count = 0);
SELECT is(settle_threshold_experiments(), 1, 'a watch whose sums reach its end (9/10) is ended by settling');
SELECT results_eq(
    format('SELECT status, watching, watch_sample_count, watch_successes, watch_reason ~ ''^kept after watch: 9/10'' FROM threshold_experiments WHERE id = %L', :'exp'),
    $$VALUES ('promoted'::text, false, 10, 9, true)$$, 'kept, with the watch''s counts recorded');
SELECT is(record_experiment_result('mini', 0.35, true), NULL, 'after the watch nothing is counted');
SELECT set_threshold('mini', 0.3);

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; SECURITY DEFINER with a pinned search_path
-- ---------------------------------------------------------------------------
SELECT is(count(*), 6::bigint, 'no experiment function is executable by PUBLIC')
  FROM pg_proc p
 WHERE p.oid IN ('propose_threshold_increase(text,float8,integer,float8)'::regprocedure,
                 'run_threshold_experiment(text,float8,float8,integer,float8)'::regprocedure,
                 'record_experiment_result(text,float8,boolean)'::regprocedure,
                 'evaluate_experiment(uuid)'::regprocedure,
                 'abort_experiment(uuid,text)'::regprocedure,
                 'route_work_order(float8,text)'::regprocedure)
   AND NOT has_function_privilege('public', p.oid, 'EXECUTE')
   AND p.prosecdef
   AND p.proconfig = '{"search_path=pg_catalog, pg_temp"}'
   AND obj_description(p.oid, 'pg_proc') IS NOT NULL;

SELECT * FROM finish();
ROLLBACK;
