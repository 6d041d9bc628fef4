-- What the API returns and how a watch ends when a person steps in:
-- start_prompt_test returns the test's id and takes a salt (so do
-- enhancement tests, through approve_enhancement); a rollback during the
-- watch of a promoted prompt version or enhancement ends the watch as
-- rolled_back with its reason; aborting a threshold promotion during its
-- watch says so first in decision_reason.
BEGIN;
SET LOCAL client_min_messages = warning;
CREATE EXTENSION adaptive_prompts;
SELECT plan(22);

SELECT register_proposer('watch-model', 0.5, 1);

-- Feed work orders to a test until its status changes: each builds its
-- prompt and reports what it got; the candidate's work orders succeed (and
-- never have the code), the incumbent's fail (and have it).
CREATE FUNCTION pg_temp.feed(test bigint, code text, prefix text) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    start_status text := (SELECT status FROM ab_tests WHERE id = test);
    b record;
    good boolean;
BEGIN
    FOR i IN 1..400 LOOP
        SELECT * INTO b FROM build_enhanced_prompt('watch-model',
            CASE WHEN code IS NULL THEN '{}'::text[] ELSE ARRAY[code] END, prefix || i);
        good := ab_test_arm(test, prefix || i) = 'candidate';
        PERFORM record_work_order('watch-model', 0.5, 2, CASE WHEN good THEN 0 ELSE 2 END,
            error_codes => CASE WHEN good OR code IS NULL THEN '{}'::text[] ELSE ARRAY[code] END,
            prompt_version => b.version, enhancements_used => b.used,
            work_order_id => prefix || i);
        IF (SELECT status FROM ab_tests WHERE id = test) <> start_status THEN
            RETURN i;
        END IF;
    END LOOP;
    RETURN 0;
END $$;

-- ---------------------------------------------------------------------------
-- start_prompt_test: the id, the salt
-- ---------------------------------------------------------------------------
SELECT register_prompt_version('watch-model', 'watch-model/v1', 'One.', activate => true);
SELECT register_prompt_version('watch-model', 'watch-model/v2', 'Two.');
SELECT start_prompt_test('watch-model/v2', 5, salt => 4242) AS prompt_test \gset
SELECT is(:prompt_test::bigint, (SELECT id FROM ab_tests WHERE subject = 'watch-model'),
          'the id start_prompt_test returns is the test''s ab_tests.id');
SELECT is((SELECT salt FROM ab_tests WHERE id = :prompt_test), 4242::bigint,
          'the salt given is the test''s salt');
SELECT is(ab_test_arm(:prompt_test, 'wo-1'),
          (SELECT ab_test_arm(:prompt_test, 'wo-1')), 'ab_test_arm takes that id');
SELECT is((SELECT pg_get_function_result('start_prompt_test(text, integer, bigint)'::regprocedure)), 'bigint',
          'the signature says bigint');

-- ---------------------------------------------------------------------------
-- A rollback during the prompt version's watch ends the watch rolled_back
-- ---------------------------------------------------------------------------
SELECT cmp_ok(pg_temp.feed(:prompt_test, NULL, 'p-'), '>', 0, 'the prompt test is decided');
SELECT is((SELECT status FROM ab_tests WHERE id = :prompt_test), 'watching',
          'candidate 100% against 0%: promoted and watched');
SELECT is(rollback_prompt_version('watch-model'), 'watch-model/v1',
          'rollback_prompt_version during the watch restores v1');
SELECT is((SELECT status FROM ab_tests WHERE id = :prompt_test), 'rolled_back',
          'and ends the watch as rolled_back');
SELECT ok((SELECT watch_ended_at IS NOT NULL FROM ab_tests WHERE id = :prompt_test),
          'watch_ended_at is set');
SELECT matches((SELECT decision_reason FROM ab_tests WHERE id = :prompt_test),
               E'\nrolled back manually by [^:]+: watch-model/v2 replaced by watch-model/v1$',
               'decision_reason ends with who rolled back what');
SELECT is((SELECT action || ' ' || ab_test_id FROM version_history
            WHERE subject = 'watch-model' ORDER BY id DESC LIMIT 1),
          'rolled_back ' || :prompt_test, 'the history row names the test');
SELECT lives_ok($$SELECT start_prompt_test('watch-model/v2', 5)$$,
                'a new test can start: the watch is over');
SELECT isnt((SELECT salt FROM ab_tests WHERE subject = 'watch-model' AND status = 'running'), 4242::bigint,
            'without a salt, a random one');

-- ---------------------------------------------------------------------------
-- Enhancements: approve_enhancement's salt; rollback during the watch
-- ---------------------------------------------------------------------------
SELECT set_enhancement('TS9001', 'First text.', 5);
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS9001', 2, 'Second text.', 'auto', 'pending_approval'),
       ('TS9001', 3, 'Third text.', 'auto', 'pending_approval');
SELECT is(approve_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS9001' AND version = 2),
                              salt => 77), 'testing', 'approve_enhancement with a salt');
SELECT is((SELECT salt FROM ab_tests WHERE subject = 'TS9001'), 77::bigint, 'the test has that salt');
SELECT throws_ok($$SELECT approve_enhancement((SELECT id FROM enhancement_versions WHERE error_code = 'TS9001' AND version = 3), salt => 78)$$,
                 '55000', NULL, 'a salt is refused when the test cannot start at once');
SELECT is((SELECT status FROM enhancement_versions WHERE error_code = 'TS9001' AND version = 3), 'pending_approval',
          'and nothing changed');
SELECT cmp_ok(pg_temp.feed((SELECT id FROM ab_tests WHERE subject = 'TS9001'), 'TS9001', 'e-'), '>', 0,
              'the enhancement test is decided');
SELECT is(rollback_enhancement('TS9001'), 1, 'rollback_enhancement during the watch restores version 1');
SELECT ok((SELECT status = 'rolled_back' AND watch_ended_at IS NOT NULL
                  AND decision_reason ~ E'\nrolled back manually by [^:]+: version 2 replaced by version 1$'
             FROM ab_tests WHERE subject = 'TS9001' AND candidate = '2'),
          'and ends the watch as rolled_back with the reason');

-- ---------------------------------------------------------------------------
-- Threshold experiments: aborted during the watch
-- ---------------------------------------------------------------------------
SELECT register_proposer('cheap', 0.3, 1);
SELECT propose_threshold_increase('cheap', 0.4, 3) AS exp \gset
SELECT record_experiment_result('cheap', 0.35, true) FROM generate_series(1, 3);
SELECT abort_experiment(:'exp', 'the model was replaced');
SELECT matches((SELECT decision_reason FROM threshold_experiments WHERE id = :'exp'),
               E'^aborted during the watch by [^:]+: the model was replaced; watch after 0/0 successes.*; threshold restored to 0\\.3\npromoted: 3/3 successes',
               'decision_reason starts with how the watch ended, then the promotion');
SELECT is((SELECT status FROM threshold_experiments WHERE id = :'exp'), 'aborted', 'the status is aborted');

SELECT * FROM finish();
ROLLBACK;
