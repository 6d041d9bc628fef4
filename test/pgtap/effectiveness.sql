-- Effectiveness of enhancements as a weighted rate per work order, the
-- derived times_used and frequent codes, and the common unaddressed errors.
BEGIN;
SET LOCAL client_min_messages = warning;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT plan(30);

SELECT register_proposer('eff-model', 0.5, 1);
SELECT set_enhancement('TS2345', 'Compare each argument with the declared parameter type.', 7);
SELECT set_enhancement('TS7006', 'Annotate every parameter.', 3);
SELECT set_enhancement('TS2532', 'Check for undefined before use.', 5);   -- never used: no data

-- One stream of 1,000 work orders, logged as record_work_order logs them:
-- every failure, and each success with probability success_rate (here
-- every 1/success_rate-th success, with that sample_rate).
--   900 used the TS2345 enhancement (TS2345@1): 180 failed with TS2345,
--       180 failed with TS7006 only, 540 succeeded;    TS2345 rate 20%
--   100 did not (no token, or TS2345@0 = held out): 40 failed with TS2345,
--       20 failed with TS7006 only, 40 succeeded;      TS2345 rate 40%
-- The enhancement halves its code's rate: the reduction is 0.5.  Counting
-- failures as the notes do gives 180 with against 40 without: "-350%".
CREATE FUNCTION pg_temp.log_stream(success_rate float8, age interval DEFAULT '0') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        error_samples, prompt_enhancements_used, is_sampled_success, sample_rate)
    SELECT now() - age, 'eff-model', 0.5, '0.5-0.6', 2, s.final, false, 0, s.outcome, s.codes,
           CASE WHEN s.codes = '{TS2345}' THEN
               jsonb_build_array(jsonb_build_object('code', 'TS2345', 'message', s.label || ' #' || g))
           ELSE '[]' END,
           s.used, s.outcome = 'success', CASE WHEN s.outcome = 'success' THEN success_rate ELSE 1 END
      FROM (VALUES (180, 'failure', 1, '{TS2345}'::text[], '{TS2345@1}'::text[], 'despite'),
                   (180, 'failure', 1, '{TS7006}', '{TS2345@1}', ''),
                   (540, 'success', 0, '{}', '{TS2345@1}', ''),
                   (20,  'failure', 1, '{TS2345}', '{TS2345@0}', 'held out'),
                   (20,  'failure', 1, '{TS2345}', '{}', 'without'),
                   (20,  'failure', 1, '{TS7006}', '{}', ''),
                   (40,  'success', 0, '{}', '{}', ''))
           AS s (n, outcome, final, codes, used, label),
           generate_series(1, s.n) AS g
     WHERE s.outcome <> 'success' OR g % round(1 / success_rate)::int = 0
$$;

-- Logged at sample rate 1.
SELECT pg_temp.log_stream(1.0);
SELECT is((SELECT round(error_reduction_rate::numeric, 9) FROM analyze_enhancement_effectiveness()
            WHERE error_code = 'TS2345'), 0.5::numeric,
          'an enhancement used in 90% of work orders that halves its code''s rate reports 0.5');
SELECT is((SELECT times_used FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS2345'), 900::bigint,
          'times_used counts the work orders that used it (CODE@N, N > 0)');
SELECT is((SELECT (count(*) FILTER (WHERE 'TS2345@1' = ANY (prompt_enhancements_used)) - count(*) FILTER (WHERE NOT 'TS2345@1' = ANY (prompt_enhancements_used)))
             FROM proposer_failures WHERE 'TS2345' = ANY (error_codes)), 140::bigint,
          'while the raw failure counts (180 with, 40 without) would say it made things worse');
SELECT results_eq($$SELECT error_code, current_text FROM analyze_enhancement_effectiveness() ORDER BY 1$$,
                  $$VALUES ('TS2345', 'Compare each argument with the declared parameter type.'),
                           ('TS2532', 'Check for undefined before use.'),
                           ('TS7006', 'Annotate every parameter.')$$,
                  'one row per live enhancement with its current text');
SELECT is((SELECT error_reduction_rate FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS2532'), NULL,
          'no data: the reduction is NULL');
SELECT is((SELECT times_used FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS2532'), 0::bigint,
          'and times_used is 0');
SELECT is((SELECT times_used FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS7006'), 0::bigint,
          'TS7006 was never used');
SELECT is((SELECT error_reduction_rate FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS7006'), NULL,
          'so there is no rate with it: NULL');
SELECT is((SELECT array_length(recent_failures, 1) FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS2345'), 5,
          'recent_failures has at most 5 messages');
SELECT ok((SELECT bool_and(m LIKE 'despite #%') FROM analyze_enhancement_effectiveness(), unnest(recent_failures) m
            WHERE error_code = 'TS2345'),
          'failures that happened despite the enhancement come first');

-- refresh_enhancement_stats derives times_used and the frequent codes.
SELECT is(refresh_enhancement_stats(), 2, 'refresh_enhancement_stats fills the frequent codes');
SELECT is((SELECT times_used FROM prompt_enhancements WHERE error_code = 'TS2345'), 900::bigint,
          'times_used is derived from the log');
SELECT results_eq($$SELECT error_code, occurrence_count FROM proposer_frequent_codes
                     WHERE proposer_name = 'eff-model' ORDER BY 2 DESC$$,
                  $$VALUES ('TS2345', 220::bigint), ('TS7006', 200::bigint)$$,
                  'each proposer''s frequent codes with their weighted counts');
SELECT is((SELECT used FROM build_enhanced_prompt('eff-model')), '{TS2345@1,TS7006@1}',
          'build_enhanced_prompt without codes uses them, highest priority first');

SELECT pg_temp.log_stream(1.0);
SELECT is((SELECT round(error_reduction_rate::numeric, 9) FROM analyze_enhancement_effectiveness()
            WHERE error_code = 'TS2345'), 0.5::numeric, 'the reduction does not depend on volume');

-- The same stream with successes sampled at 0.1: a logged success stands
-- for 10 work orders.
DELETE FROM proposer_failures;
SELECT pg_temp.log_stream(0.1);
SELECT is((SELECT count(*) FROM proposer_failures WHERE outcome = 'success'), 58::bigint,
          'the sampled stream logs 58 of the 580 successes');
SELECT is((SELECT round(error_reduction_rate::numeric, 9) FROM analyze_enhancement_effectiveness()
            WHERE error_code = 'TS2345'), 0.5::numeric,
          'sampled successes weighted 1/sample_rate give the same reduction as logging them all');
SELECT is((SELECT times_used FROM analyze_enhancement_effectiveness() WHERE error_code = 'TS2345'), 900::bigint,
          'and the same times_used');
SELECT is((SELECT round((1 - (180.0 / 414) / (40.0 / 64))::numeric, 3)), 0.304,
          'unweighted, the same rows would say 0.304');
SELECT refresh_enhancement_stats();
SELECT is((SELECT times_used FROM prompt_enhancements WHERE error_code = 'TS2345'), 900::bigint,
          'the derived times_used is weighted too');

-- The window: old rows do not count unless the window reaches them.
SELECT pg_temp.log_stream(1.0, '40 days');
UPDATE proposer_failures SET error_codes = '{}' WHERE created_at < now() - interval '30 days'
   AND 'TS2345@1' = ANY (prompt_enhancements_used);
SELECT is((SELECT round(error_reduction_rate::numeric, 9) FROM analyze_enhancement_effectiveness()
            WHERE error_code = 'TS2345'), 0.5::numeric, 'rows older than the window are ignored');
SELECT cmp_ok((SELECT error_reduction_rate FROM analyze_enhancement_effectiveness('60 days')
                WHERE error_code = 'TS2345'), '>', 0.6::float8, 'a longer window includes them');

-- ---------------------------------------------------------------------------
-- Common unaddressed errors
-- ---------------------------------------------------------------------------
CREATE FUNCTION pg_temp.log_code(codes text[], n int, age interval DEFAULT '0') RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (created_at, proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes, sample_rate)
    SELECT now() - age, 'eff-model', 0.5, '0.5-0.6', 2, 2, false, 0, 'failure', codes, 1
      FROM generate_series(1, n)
$$;
SELECT pg_temp.log_code('{UA1}', 6);                      -- nothing for it: listed
SELECT pg_temp.log_code('{UA2}', 6);                      -- live enhancement
SELECT set_enhancement('UA2', 'A text.');
SELECT pg_temp.log_code('{UA3}', 6);                      -- pending version
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('UA3', 1, 'Pending.', 'auto', 'pending_approval'), ('UA4', 1, 'Testing.', 'auto', 'testing');
SELECT pg_temp.log_code('{UA4}', 6);                      -- version in testing
SELECT pg_temp.log_code('{UA5}', 6);                      -- open job
SELECT pg_temp.log_code('{UA6}', 6);                      -- finished job: listed
INSERT INTO improvement_jobs (kind, error_code, status)
VALUES ('create', 'UA5', 'queued'), ('create', 'UA6', 'done');
SELECT pg_temp.log_code('{UA7}', 4);                      -- too rare
SELECT pg_temp.log_code('{UA8}', 6, '40 days');           -- outside the window
SELECT pg_temp.log_code('{UA9,UA9,UA1}', 5);              -- a code twice in one work order counts once

SELECT results_eq($$SELECT error_code, occurrence_count FROM get_common_unaddressed_errors(5)
                     WHERE error_code LIKE 'UA%'$$,
                  $$VALUES ('UA1', 11::bigint), ('UA6', 6::bigint), ('UA9', 5::bigint)$$,
                  'codes with >= 5 occurrences, no enhancement, no pending or testing version, no open job');
SELECT results_eq($$SELECT error_code FROM get_common_unaddressed_errors(4) WHERE error_code LIKE 'UA%'$$,
                  $$VALUES ('UA1'), ('UA6'), ('UA9'), ('UA7')$$, 'min_occurrences is the threshold');
SELECT ok((SELECT 'UA8' IN (SELECT error_code FROM get_common_unaddressed_errors(5, '60 days'))),
          'the window decides which occurrences count');

-- ---------------------------------------------------------------------------
-- Input errors
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT * FROM analyze_enhancement_effectiveness(NULL)$$, '22004', NULL, 'since NULL');
SELECT throws_ok($$SELECT * FROM analyze_enhancement_effectiveness('-1 day')$$, '22023', NULL, 'negative since');
SELECT throws_ok($$SELECT * FROM get_common_unaddressed_errors(NULL)$$, '22004', NULL, 'min_occurrences NULL');
SELECT throws_ok($$SELECT * FROM get_common_unaddressed_errors(-1)$$, '22003', NULL, 'negative min_occurrences');
SELECT throws_ok($$SELECT * FROM get_common_unaddressed_errors(5, '-2 hours')$$, '22023', NULL,
                 'negative window');

SELECT * FROM finish();
ROLLBACK;
