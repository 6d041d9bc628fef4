-- A/B tests of prompt versions and enhancement versions: arm assignment,
-- counting through record_work_order, the decision rule, the watch after
-- a promotion and the rollback, with their history rows and reasons.
BEGIN;
SET LOCAL client_min_messages = warning;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT plan(99);

SELECT register_proposer('ab-model', 0.5, 1);

-- Feed work orders to an open test until its status changes (or n).  Each
-- work order gets its prompt from build_enhanced_prompt and reports what it
-- used; its arm decides how often the code occurs, with a deterministic
-- pattern: the k-th work order of an arm has the code when
-- floor(k * rate) > floor((k - 1) * rate), so the first n of an arm have
-- exactly floor(n * rate).  Outside a running test (the watch) every work
-- order uses the live text and gets candidate_rate.
CREATE FUNCTION pg_temp.feed_enhancement(test bigint, code text, prefix text, n int,
                                         candidate_rate float8, incumbent_rate float8)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    start_status text := (SELECT status FROM ab_tests WHERE id = test);
    k_candidate int := 0;
    k_incumbent int := 0;
    k int;
    rate float8;
    has_code boolean;
    p record;
    i int;
BEGIN
    FOR i IN 1..n LOOP
        SELECT * INTO p FROM build_enhanced_prompt('ab-model', ARRAY[code], prefix || i);
        IF start_status = 'running' AND ab_test_arm(test, prefix || i) = 'incumbent' THEN
            k_incumbent := k_incumbent + 1; k := k_incumbent; rate := incumbent_rate;
        ELSE
            k_candidate := k_candidate + 1; k := k_candidate; rate := candidate_rate;
        END IF;
        has_code := floor(k * rate) > floor((k - 1) * rate);
        PERFORM record_work_order('ab-model', 0.5, 2, CASE WHEN has_code THEN 1 ELSE 0 END, false,
                                  CASE WHEN has_code THEN ARRAY[code] ELSE '{}' END, '[]',
                                  p.version, p.used, '{}', prefix || i);
        IF (SELECT status FROM ab_tests WHERE id = test) <> start_status THEN
            RETURN i;
        END IF;
    END LOOP;
    RETURN n;
END $$;

-- The same for prompt tests: the arm's version decides the success rate.
CREATE FUNCTION pg_temp.feed_prompt(test bigint, prefix text, n int,
                                    candidate_rate float8, incumbent_rate float8)
RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    start_status text := (SELECT status FROM ab_tests WHERE id = test);
    candidate text := (SELECT candidate FROM ab_tests WHERE id = test);
    k_candidate int := 0;
    k_incumbent int := 0;
    k int;
    rate float8;
    success boolean;
    v record;
    i int;
BEGIN
    FOR i IN 1..n LOOP
        SELECT * INTO v FROM get_active_prompt_version('ab-model', prefix || i);
        IF v.version = candidate THEN
            k_candidate := k_candidate + 1; k := k_candidate; rate := candidate_rate;
        ELSE
            k_incumbent := k_incumbent + 1; k := k_incumbent; rate := incumbent_rate;
        END IF;
        success := floor(k * rate) > floor((k - 1) * rate);
        PERFORM record_work_order('ab-model', 0.5, 2, CASE WHEN success THEN 0 ELSE 2 END, false,
                                  CASE WHEN success THEN '{}'::text[] ELSE '{TS1005}' END, '[]',
                                  v.version, '{}', '{}', prefix || i);
        IF (SELECT status FROM ab_tests WHERE id = test) <> start_status THEN
            RETURN i;
        END IF;
    END LOOP;
    RETURN n;
END $$;

-- An automatic text waiting for approval, as the worker leaves it.
CREATE FUNCTION pg_temp.propose(code text, body text) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
    SELECT code, coalesce(max(version), 0) + 1, body, 'auto', 'pending_approval'
      FROM enhancement_versions WHERE error_code = code
    RETURNING id
$$;

CREATE FUNCTION pg_temp.open_test(code text) RETURNS bigint LANGUAGE sql AS $$
    SELECT id FROM ab_tests WHERE subject = code AND status IN ('running', 'watching')
$$;

-- ---------------------------------------------------------------------------
-- Assignment: 50/50, sticky, independent of sampling
-- ---------------------------------------------------------------------------
SELECT set_enhancement('TS2345', 'Check each argument against the parameter type.', 5);
SELECT is(approve_enhancement(pg_temp.propose('TS2345', 'Candidate text for TS2345.')), 'testing',
          'approve_enhancement returns the new status');
SELECT ok(pg_temp.open_test('TS2345') IS NOT NULL, 'approving starts an A/B test');

UPDATE ab_tests SET salt = 1 WHERE id = pg_temp.open_test('TS2345');
SELECT ok((SELECT count(*) FILTER (WHERE ab_test_arm(pg_temp.open_test('TS2345'), 'wo-' || g) = 'candidate')
             FROM generate_series(1, 1000) g) BETWEEN 450 AND 550,
          '1,000 ids split 50% +- 5% (salt 1)');
UPDATE ab_tests SET salt = 42 WHERE id = pg_temp.open_test('TS2345');
SELECT ok((SELECT count(*) FILTER (WHERE ab_test_arm(pg_temp.open_test('TS2345'), 'order-' || g) = 'candidate')
             FROM generate_series(1, 1000) g) BETWEEN 450 AND 550,
          '1,000 ids split 50% +- 5% (salt 42)');
UPDATE ab_tests SET salt = -8070450532247928832 WHERE id = pg_temp.open_test('TS2345');
SELECT ok((SELECT count(*) FILTER (WHERE ab_test_arm(pg_temp.open_test('TS2345'), md5(g::text)) = 'candidate')
             FROM generate_series(1, 1000) g) BETWEEN 450 AND 550,
          '1,000 ids split 50% +- 5% (a large negative salt)');

SELECT is((SELECT count(*) FROM generate_series(1, 200) g
            WHERE ab_test_arm(pg_temp.open_test('TS2345'), 'wo-' || g)
               <> ab_test_arm(pg_temp.open_test('TS2345'), 'wo-' || g)), 0::bigint,
          'the same id always gets the same arm');
SELECT is((SELECT count(*) FROM generate_series(1, 200) g,
                  build_enhanced_prompt('ab-model', '{TS2345}', 'wo-' || g) b
            WHERE (b.used = '{TS2345@2}') <> (ab_test_arm(pg_temp.open_test('TS2345'), 'wo-' || g) = 'candidate')),
          0::bigint,
          'build_enhanced_prompt hands out the arm''s version: candidate TS2345@2, incumbent TS2345@1');
SELECT is((SELECT used FROM build_enhanced_prompt('ab-model', '{TS2345}')), '{TS2345@1}',
          'a work order without an id gets the incumbent');
SELECT is(ab_test_arm(pg_temp.open_test('TS2345'), NULL), 'incumbent',
          'ab_test_arm of no id is the incumbent');

-- A work order that did not use its id's version is not counted.
SELECT record_work_order('ab-model', 0.5, 2, 1, false, '{TS2345}', '[]', NULL,
                         ARRAY['TS2345@' || CASE WHEN ab_test_arm(pg_temp.open_test('TS2345'), 'stray') = 'candidate'
                                                 THEN '1' ELSE '2' END], '{}', 'stray');
SELECT record_work_order('ab-model', 0.5, 2, 1, false, '{TS2345}', '[]', NULL, '{TS2345@2}', '{}', NULL);
SELECT is((SELECT candidate_work_orders + incumbent_work_orders FROM ab_test_progress WHERE test_id = pg_temp.open_test('TS2345')),
          0::bigint, 'work orders that did not follow their assignment, or have no id, are not counted');
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS2345'), 'TS2345', 'count-', 10, 0.5, 0.5);
SELECT is((SELECT candidate_work_orders + incumbent_work_orders FROM ab_test_progress WHERE test_id = pg_temp.open_test('TS2345')),
          10::bigint, 'work orders that followed their assignment are counted');
SELECT is((SELECT candidate_occurrences + incumbent_occurrences FROM ab_test_progress WHERE test_id = pg_temp.open_test('TS2345')),
          5::bigint, 'occurrences of the targeted code are counted per arm');

SELECT lives_ok($$SELECT abort_ab_test(pg_temp.open_test('TS2345'), 'assignment checks done')$$,
                'abort_ab_test stops a running test');
SELECT is((SELECT status FROM enhancement_versions WHERE error_code = 'TS2345' AND version = 2), 'rejected',
          'the candidate of an aborted test is rejected');
SELECT ok((SELECT decision_reason LIKE '%aborted by % assignment checks done%' FROM ab_tests
            WHERE subject = 'TS2345' AND status = 'aborted'), 'the abort is recorded with its reason');

-- Logged rows are not biased toward an arm: sampling uses another salt.
SELECT register_prompt_version('ab-model', 'ab-model/sampling', 'Sampling check prompt.');
SELECT start_prompt_test('ab-model/sampling', 1000000);
UPDATE ab_tests SET salt = 7 WHERE id = pg_temp.open_test('ab-model');
SELECT count(*) FROM generate_series(1, 3000) g,
       get_active_prompt_version('ab-model', 'sample-' || g) v,
       record_work_order('ab-model', 0.5, 1, 0, false, '{}', '[]', v.version, '{}', '{}', 'sample-' || g) r;
SELECT is((SELECT candidate_work_orders + incumbent_work_orders FROM ab_test_progress WHERE test_id = pg_temp.open_test('ab-model')),
          3000::bigint, 'every work order of the prompt test is counted, logged or not');
SELECT ok((SELECT count(*) FROM proposer_failures WHERE work_order_id LIKE 'sample-%') BETWEEN 240 AND 360,
          'about 10% of the successes are logged');
SELECT ok((SELECT avg((prompt_version = 'ab-model/sampling')::int) FROM proposer_failures
            WHERE work_order_id LIKE 'sample-%') BETWEEN 0.40 AND 0.60,
          'logged successes are split between the arms like the work orders (50% +- 10%)');
SELECT abort_ab_test(pg_temp.open_test('ab-model'), 'sampling check done');

-- ---------------------------------------------------------------------------
-- A new code's candidate against no enhancement: 40% -> 10% is promoted
-- ---------------------------------------------------------------------------
SELECT is(approve_enhancement(pg_temp.propose('TS2322', 'State the exact type before assigning.')), 'testing',
          'a text for a new code goes to testing');
SELECT is((SELECT incumbent FROM ab_tests WHERE id = pg_temp.open_test('TS2322')), NULL,
          'its incumbent is no enhancement');
SELECT is((SELECT count(DISTINCT b.used) FROM generate_series(1, 50) g,
                  build_enhanced_prompt('ab-model', '{TS2322}', 'new-' || g) b), 2::bigint,
          'work orders get either the candidate or the held-out token');
SELECT ok((SELECT bool_and(b.prompt NOT LIKE '%TS2322%') FROM generate_series(1, 50) g,
                  build_enhanced_prompt('ab-model', '{TS2322}', 'new-' || g) b
            WHERE b.used = '{TS2322@0}'), 'the held-out arm (TS2322@0) gets no text');

SELECT results_eq($$SELECT decision_rule, watch_rule FROM ab_tests WHERE id = pg_temp.open_test('TS2322')$$,
                  $$VALUES ('lan_demets_obf'::text, 'lan_demets_pocock'::text)$$,
                  'the rules in force (group-sequential by default) are copied onto the test');
UPDATE ab_tests SET salt = 2322 WHERE id = pg_temp.open_test('TS2322');
SELECT ok(pg_temp.feed_enhancement(pg_temp.open_test('TS2322'), 'TS2322', 'new-', 400, 0.1, 0.4) < 400,
          'the stream reaches a decision');
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2322'), 'watching',
          '40% -> 10%: promoted, and the watch starts');
-- At 30 per arm z is about 2.7, below the first look's boundary 3.750
-- (Lan-DeMets O'Brien-Fleming type, alpha 0.05); at 60 per arm about 3.8,
-- above the second look's 2.540.
SELECT ok((SELECT least(candidate_work_orders, incumbent_work_orders) = 60 AND checkpoint = 2 AND p_value < 0.0055
             FROM ab_tests WHERE subject = 'TS2322'),
          'decided at the second look, when both arms reached 60, with p below its nominal level');
SELECT ok((SELECT split_part(decision_reason, E'\n', 1) ~ '^A/B test \d+ of version 1 against no enhancement: extended: the candidate is better but has not reached the boundary yet \(look 1 of 4, Lan-DeMets O''Brien-Fleming-type spending of alpha 0\.05: z = 2\.\d+ < boundary 3\.750, one-sided p = 0\.0\d+ > nominal 0\.0001\)\. share of work orders with TS2322 .*; checked at 1 x 30 work orders per arm; next check at 2 x 30\.$'
             FROM ab_tests WHERE subject = 'TS2322'),
          'the first look is recorded with its boundary');
SELECT ok((SELECT split_part(decision_reason, E'\n', 2) ~ '^A/B test \d+ of version 1 against no enhancement: promoted: the candidate is significantly better \(look 2 of 4, Lan-DeMets O''Brien-Fleming-type spending of alpha 0\.05: z = \d\.\d+ >= boundary 2\.540, one-sided p = 0\.\d+ <= nominal 0\.0055\)\. share of work orders with TS2322 \(lower is better\): candidate \d+/\d+ = 0\.\d+ \(95% CI 0\.\d+-0\.\d+\), incumbent \d+/\d+ = 0\.\d+ \(95% CI 0\.\d+-0\.\d+\); decided at 2 x 30 work orders per arm\.$'
             FROM ab_tests WHERE subject = 'TS2322'),
          'the promotion records the look''s boundary, both arms, their Wilson intervals and the p-value');
SELECT is((SELECT status FROM enhancement_versions WHERE error_code = 'TS2322' AND version = 1), 'active',
          'the candidate is live');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS2322' AND active), 1,
          'prompt_enhancements holds it');
SELECT ok((SELECT old_version IS NULL AND new_version = '1' AND action = 'promoted' AND ab_test_id IS NOT NULL
             FROM version_history WHERE subject = 'TS2322'), 'a history row records the promotion');

-- While the watch runs, no new test of the code starts.
SELECT is(approve_enhancement(pg_temp.propose('TS2322', 'An even better text.')), 'testing',
          'a text approved during the watch is testing');
SELECT is((SELECT count(*) FROM ab_tests WHERE subject = 'TS2322'), 1::bigint,
          'but its test waits for the end of the watch');

SELECT is(pg_temp.feed_enhancement(pg_temp.open_test('TS2322'), 'TS2322', 'watch-', 400, 0.1, 0.4), 30,
          'the watch lasts sample_size work orders');
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2322' AND candidate = '1'), 'promoted',
          'a promoted version that keeps its rate passes the watch');
SELECT ok((SELECT watch_p_value IS NOT NULL AND decision_reason LIKE '%watch passed%look 4 of 4, Lan-DeMets Pocock-type spending%'
             FROM ab_tests WHERE subject = 'TS2322' AND candidate = '1'), 'the watch''s decision is recorded');
SELECT is((SELECT array_length(regexp_split_to_array(decision_reason, E'\n'), 1) FROM ab_tests
            WHERE subject = 'TS2322' AND candidate = '1'), 6,
          'two looks of the test and four of the watch (after 8, 15, 23, 30) are recorded');
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2322' AND candidate = '2'), 'running',
          'the waiting test starts when the watch ends');
SELECT is((SELECT incumbent FROM ab_tests WHERE subject = 'TS2322' AND candidate = '2'), '1',
          'against the version that is live now');
SELECT abort_ab_test(pg_temp.open_test('TS2322'), 'not needed for this test');

-- ---------------------------------------------------------------------------
-- A candidate that raises its code's rate is rejected
-- ---------------------------------------------------------------------------
SELECT set_enhancement('TS7006', 'Annotate every parameter.', 5);
SELECT approve_enhancement(pg_temp.propose('TS7006', 'A worse text.'));
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS7006'), 'TS7006', 'worse-', 400, 0.6, 0.4);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS7006'), 'rejected',
          '40% -> 60%: rejected at the first check');
SELECT ok((SELECT decision_reason LIKE '%rejected: the candidate is not better%' FROM ab_tests
            WHERE subject = 'TS7006'), 'the reason says it is not better');
SELECT is((SELECT status FROM enhancement_versions WHERE error_code = 'TS7006' AND version = 2), 'rejected',
          'the candidate version is rejected');
SELECT ok((SELECT decision_reason LIKE 'A/B test % rejected: %' FROM enhancement_versions
            WHERE error_code = 'TS7006' AND version = 2), 'with the test''s reason');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS7006'), 1,
          'the live version stays');
SELECT is((SELECT count(*) FROM version_history WHERE subject = 'TS7006' AND action = 'promoted'), 0::bigint,
          'no live text changed');

-- ---------------------------------------------------------------------------
-- A small improvement that is not significant extends the test, up to 4x
-- ---------------------------------------------------------------------------
SELECT set_enhancement('TS2554', 'Pass exactly the declared arguments.', 5);
SELECT approve_enhancement(pg_temp.propose('TS2554', 'A slightly better text.'));
-- A fixed salt, and enough work orders that both arms reach 30 whatever
-- the split (two checks need 120, so this cannot reach the second).
UPDATE ab_tests SET salt = 2554 WHERE id = pg_temp.open_test('TS2554');
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS2554'), 'TS2554', 'small-', 100, 0.35, 0.4);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2554'), 'running',
          '40% -> 35% at 30 per arm: not decided');
SELECT is((SELECT checkpoint FROM ab_tests WHERE subject = 'TS2554'), 2,
          'the test is extended to 2 x 30 per arm');
SELECT ok((SELECT decision_reason LIKE '%extended: the candidate is better but has not reached the boundary yet%next check at 2 x 30%'
             AND p_value >= 0.05 FROM ab_tests WHERE subject = 'TS2554'),
          'the extension is recorded with its numbers and p-value');
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS2554'), 'TS2554', 'small-more-', 1000, 0.35, 0.4);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2554'), 'rejected',
          'still not significant at 4 x 30 per arm: rejected');
SELECT ok((SELECT least(candidate_work_orders, incumbent_work_orders) = 120 AND checkpoint = 4
             FROM ab_tests WHERE subject = 'TS2554'), 'the last check was at 120 per arm');
SELECT is((SELECT array_length(regexp_split_to_array(decision_reason, E'\n'), 1) FROM ab_tests
            WHERE subject = 'TS2554'), 4, 'each of the four checks left its line in decision_reason');
SELECT ok((SELECT decision_reason LIKE '%rejected: the candidate is better but did not reach the boundary by the largest extension (look 4 of 4,%boundary 1.720%'
             FROM ab_tests WHERE subject = 'TS2554'), 'the rejection at 4x names the last boundary');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS2554'), 1,
          'the live version stays');

-- ---------------------------------------------------------------------------
-- A promoted enhancement that degrades during the watch is rolled back
-- ---------------------------------------------------------------------------
SELECT set_enhancement('TS2339', 'Check that the property exists on the type.', 5);
SELECT approve_enhancement(pg_temp.propose('TS2339', 'A text that looks better.'));
UPDATE ab_tests SET salt = 2339 WHERE id = pg_temp.open_test('TS2339');
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS2339'), 'TS2339', 'deg-', 400, 0.1, 0.4);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2339'), 'watching', 'promoted first');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS2339'), 2, 'version 2 is live');
SELECT is(pg_temp.feed_enhancement(pg_temp.open_test('TS2339'), 'TS2339', 'deg-watch-', 400, 0.8, 0.4), 15,
          'at 80% during the watch against 40% in the test: rolled back at the second look, after 15 of 30');
SELECT is((SELECT status FROM ab_tests WHERE subject = 'TS2339'), 'rolled_back', 'the test is rolled_back');
SELECT ok((SELECT decision_reason LIKE '%rolled back: during the watch the promoted version did significantly worse%look 2 of 4, Lan-DeMets Pocock-type spending of alpha 0.05: z = % >= boundary %promoted version during the watch 12/15 = 0.800%after 15 of the watch''s 30 work orders.'
             AND watch_p_value < 0.05 FROM ab_tests WHERE subject = 'TS2339'),
          'the reason records the look, its boundary and the watch''s numbers');
SELECT is((SELECT version FROM prompt_enhancements WHERE error_code = 'TS2339' AND active), 1,
          'version 1 is live again');
SELECT is((SELECT array_agg(status ORDER BY version) FROM enhancement_versions WHERE error_code = 'TS2339'),
          '{active,rolled_back}', 'version 2 is rolled_back, version 1 active');
SELECT is((SELECT string_agg(coalesce(old_version, 'none') || ' -> ' || new_version || ' ' || action, ', ' ORDER BY id)
             FROM version_history WHERE subject = 'TS2339'),
          'none -> 1 set, 1 -> 2 promoted, 2 -> 1 rolled_back', 'the history rows: set, promoted, rolled back');

-- ---------------------------------------------------------------------------
-- Prompt versions: promoted on success rate, rolled back after the watch
-- ---------------------------------------------------------------------------
SELECT register_prompt_version('ab-model', 'ab-model/v1', 'Prompt one.', NULL, true);
SELECT register_prompt_version('ab-model', 'ab-model/v2', 'Prompt two.', 'shorter');
SELECT start_prompt_test('ab-model/v2', 30);
UPDATE ab_tests SET salt = 2 WHERE id = pg_temp.open_test('ab-model');
SELECT throws_ok($$SELECT start_prompt_test('ab-model/v2', 30)$$, '55000', NULL,
                 'a second test of the same proposer is refused');
SELECT throws_ok($$SELECT activate_prompt_version('ab-model/v2')$$, '55000', NULL,
                 'activation is refused while the test runs');
SELECT pg_temp.feed_prompt(pg_temp.open_test('ab-model'), 'prompt-', 400, 0.9, 0.6);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'ab-model' AND candidate = 'ab-model/v2'), 'watching',
          '60% -> 90% successes: the prompt version is promoted');
SELECT is((SELECT version FROM prompt_versions WHERE proposer_name = 'ab-model' AND is_active), 'ab-model/v2',
          'and active');
SELECT ok((SELECT replaced_version = 'ab-model/v1' AND promoted_at IS NOT NULL AND test_sample_size >= 30
                  AND test_success_rate > 0.85
             FROM prompt_versions WHERE version = 'ab-model/v2'),
          'replaced_version, promoted_at and the test''s numbers are set');
SELECT throws_ok($$SELECT start_prompt_test('ab-model/v1', 30)$$, '55000', NULL,
                 'no new test while the watch runs');
SELECT pg_temp.feed_prompt(pg_temp.open_test('ab-model'), 'prompt-watch-', 400, 0.3, 0.6);
SELECT is((SELECT status FROM ab_tests WHERE subject = 'ab-model' AND candidate = 'ab-model/v2'), 'rolled_back',
          'at 30% during the watch: rolled back');
SELECT is((SELECT version FROM prompt_versions WHERE proposer_name = 'ab-model' AND is_active), 'ab-model/v1',
          'the previous version is active again');
SELECT is((SELECT string_agg(old_version || ' -> ' || new_version || ' ' || action, ', ' ORDER BY id)
             FROM version_history WHERE subject = 'ab-model' AND ab_test_id IS NOT NULL),
          'ab-model/v1 -> ab-model/v2 promoted, ab-model/v2 -> ab-model/v1 rolled_back',
          'both changes are history rows with the test');

-- ---------------------------------------------------------------------------
-- A test started under the rules of before 0.1.0 keeps them: fixed_alpha
-- promotes at p < alpha at the first look, and its watch decides once, at
-- the end.
-- ---------------------------------------------------------------------------
SELECT approve_enhancement(pg_temp.propose('TS2551', 'Declare the name before using it.'));
UPDATE ab_tests SET decision_rule = 'fixed_alpha', watch_rule = 'fixed_alpha', salt = 2551
 WHERE id = pg_temp.open_test('TS2551');
SELECT pg_temp.feed_enhancement(pg_temp.open_test('TS2551'), 'TS2551', 'old-', 400, 0.1, 0.4);
SELECT ok((SELECT status = 'watching' AND checkpoint = 1 AND least(candidate_work_orders, incumbent_work_orders) = 30
                  AND decision_reason ~ '^A/B test \d+ of version 1 against no enhancement: promoted: the candidate is significantly better \(one-sided p = 0\.0\d+ < alpha 0\.05\)\. .*; decided at 1 x 30 work orders per arm\.$'
             FROM ab_tests WHERE subject = 'TS2551'),
          'fixed_alpha: 40% -> 10% is promoted at the first look, p < alpha');
SELECT is(pg_temp.feed_enhancement(pg_temp.open_test('TS2551'), 'TS2551', 'old-watch-', 400, 0.8, 0.4), 30,
          'fixed_alpha watch: decided only at its end');
SELECT ok((SELECT status = 'rolled_back'
                  AND decision_reason LIKE '%rolled back: during the watch the promoted version did significantly worse than the incumbent did in the test (one-sided p = % < alpha 0.05)%promoted version during the watch 24/30 = 0.800%watched for 30 work orders.'
             FROM ab_tests WHERE subject = 'TS2551'),
          'and rolled back at the end, with one test at alpha');

SELECT isnt((SELECT salt FROM ab_tests WHERE subject = 'TS7006'),
            (SELECT salt FROM ab_tests WHERE subject = 'TS2554'),
            'each test has its own random salt');

-- ---------------------------------------------------------------------------
-- Striped counts: settle_ab_tests() takes a decision the counting left due
-- (as when the last concurrent work orders did not see each other's counts),
-- exactly once; counts after a decision do not change it; the watch's looks.
-- ---------------------------------------------------------------------------
SELECT register_proposer('settle-model', 0.5, 1);
SELECT register_prompt_version('settle-model', 'settle-model/v1', 'Prompt one.', NULL, true);
SELECT register_prompt_version('settle-model', 'settle-model/v2', 'Prompt two.');
SELECT start_prompt_test('settle-model/v2', 10) AS settle_test \gset
SELECT is((SELECT count(*) FROM ab_test_counts WHERE test_id = :settle_test), 16::bigint,
          'a test starts with 16 stripes of counts');
-- Counts that two backends left in two stripes: 10 per arm, 90% vs 50%.
UPDATE ab_test_counts SET candidate_work_orders = 6, candidate_successes = 5,
                          incumbent_work_orders = 4, incumbent_successes = 2
 WHERE test_id = :settle_test AND stripe = 3;
UPDATE ab_test_counts SET candidate_work_orders = 4, candidate_successes = 4,
                          incumbent_work_orders = 6, incumbent_successes = 3
 WHERE test_id = :settle_test AND stripe = 11;
SELECT results_eq($$SELECT candidate_work_orders, candidate_successes, incumbent_work_orders, incumbent_successes
                      FROM ab_test_progress WHERE test_id = $$ || :settle_test,
                  $$VALUES (10::bigint, 9::bigint, 10::bigint, 5::bigint)$$,
                  'ab_test_progress sums the stripes');
SELECT is((SELECT candidate_work_orders + incumbent_work_orders FROM ab_tests WHERE id = :settle_test), 0::bigint,
          'counting does not touch the test''s row');
SELECT is(settle_ab_tests(), 1, 'settle_ab_tests takes the decision that is due');
SELECT ok((SELECT status = 'running' AND checkpoint = 2 AND candidate_work_orders = 10 AND candidate_successes = 9
                  AND incumbent_work_orders = 10 AND incumbent_successes = 5
                  AND decision_reason LIKE '%extended:%candidate 9/10 = 0.900%'
             FROM ab_tests WHERE id = :settle_test),
          'on the sums of the stripes, which the row records with it (z about 1.95: extended)');
SELECT is(settle_ab_tests(), 0, 'a second call takes nothing: each decision is taken once');
SELECT is((SELECT array_length(regexp_split_to_array(decision_reason, E'\n'), 1) FROM ab_tests WHERE id = :settle_test),
          1, 'one line of decision_reason');
-- 40 per arm, past the second checkpoint (20): decided at it, on all 40.
UPDATE ab_test_counts SET candidate_work_orders = 36, candidate_successes = 32,
                          incumbent_work_orders = 36, incumbent_successes = 18
 WHERE test_id = :settle_test AND stripe = 0;
SELECT is(settle_ab_tests(), 1, 'counts past the checkpoint: one decision');
SELECT ok((SELECT status = 'watching' AND checkpoint = 2 AND candidate_work_orders = 46 AND incumbent_work_orders = 46
             FROM ab_tests WHERE id = :settle_test),
          'promoted at the second checkpoint with the counts it summed (46 per arm)');
SELECT is((SELECT version FROM prompt_versions WHERE proposer_name = 'settle-model' AND is_active), 'settle-model/v2',
          'the candidate is active');
-- Work orders that saw the test running but committed after the decision.
UPDATE ab_test_counts SET candidate_work_orders = candidate_work_orders + 5,
                          incumbent_work_orders = incumbent_work_orders + 5
 WHERE test_id = :settle_test AND stripe = 7;
SELECT is(settle_ab_tests(), 0, 'later results in the test''s arms take nothing');
SELECT ok((SELECT candidate_work_orders = 46 AND incumbent_work_orders = 46 AND p_value < 0.0055
             FROM ab_tests WHERE id = :settle_test),
          'and do not change the counts the decision recorded');
SELECT is((SELECT candidate_work_orders FROM ab_test_progress WHERE test_id = :settle_test), 51::bigint,
          'ab_test_progress shows them');
-- The watch (lan_demets_pocock, 10 work orders): looks after 3, 5, 8, 10.
SELECT count(record_work_order('settle-model', 0.5, 2, 0, false, '{}', '[]', 'settle-model/v2', '{}', '{}',
                               'settle-watch-' || g)) FROM generate_series(1, 4) g;
SELECT ok((SELECT status = 'watching' AND watch_looks = 1 AND watch_work_orders = 3
             FROM ab_tests WHERE id = :settle_test),
          'the first look of the watch is taken by the work order that reaches it (watch_looks 1, at 3)');
SELECT is((SELECT watch_work_orders FROM ab_test_progress WHERE test_id = :settle_test), 4::bigint,
          'the fourth is counted in the stripes only');
UPDATE ab_test_counts SET watch_work_orders = watch_work_orders + 8, watch_successes = watch_successes + 8
 WHERE test_id = :settle_test AND stripe = 5;
SELECT is(settle_ab_tests(), 3, 'counts past the end of the watch: its three remaining looks are taken');
SELECT ok((SELECT status = 'promoted' AND watch_looks = 4 AND watch_work_orders = 12 AND watch_successes = 12
                  AND decision_reason LIKE '%watch passed%look 4 of 4%'
             FROM ab_tests WHERE id = :settle_test),
          'the watch passes at its last look, on the 12 work orders counted');
SELECT is((SELECT array_length(regexp_split_to_array(decision_reason, E'\n'), 1) FROM ab_tests WHERE id = :settle_test),
          6, 'two decisions and four looks, one line each');
SELECT is(settle_ab_tests(), 0, 'nothing is left to settle');
SELECT is((SELECT watch_looks FROM ab_tests WHERE subject = 'TS2339'), 2,
          'a watch rolled back at its second look took two looks');

-- ---------------------------------------------------------------------------
-- Input errors
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT ab_test_arm(NULL, 'x')$$, '22004', NULL, 'ab_test_arm: NULL test_id');
SELECT throws_ok($$SELECT ab_test_arm(-1, 'x')$$, 'P0002', NULL, 'ab_test_arm: unknown test');
SELECT throws_ok($$SELECT abort_ab_test(-1, 'x')$$, 'P0002', NULL, 'abort_ab_test: unknown test');
SELECT throws_ok($$SELECT abort_ab_test((SELECT min(id) FROM ab_tests), NULL)$$, '22004', NULL,
                 'abort_ab_test: NULL reason');
SELECT throws_ok($$SELECT abort_ab_test((SELECT id FROM ab_tests WHERE subject = 'TS7006'), 'x')$$, '55000', NULL,
                 'abort_ab_test: a decided test');

SELECT * FROM finish();
ROLLBACK;
