-- Auto-improvement (SPEC 4.5, 5, 7): what run_auto_improvement enqueues,
-- cancel_job, the pg_cron functions' errors, worker_status, privileges and
-- bad input.  (The worker itself is tested in test/integration/worker_*.sh.)
BEGIN;
SET LOCAL client_min_messages = warning;
SET client_min_messages = error;  -- the worker serves another database: no WARNING here
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SELECT plan(41);

SELECT register_proposer('imp-model', 0.5, 1);
SELECT set_enhancement('TS2345', 'Compare each argument with the declared parameter type.', 7);
SELECT set_enhancement('TS7006', 'Annotate every parameter.', 3);
SELECT set_enhancement('TS2532', 'Check for undefined before use.', 5);

-- Logged work orders (sample rate 1), n of each kind.
CREATE FUNCTION pg_temp.log(n int, codes text[], used text[], message text DEFAULT NULL) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO proposer_failures (proposer_name, complexity_score, complexity_band,
        initial_errors, final_errors, stalled, improvement_rate, outcome, error_codes,
        error_samples, prompt_enhancements_used, sample_rate)
    SELECT 'imp-model', 0.5, '0.5-0.6', 2, cardinality(codes), false, 0,
           CASE WHEN cardinality(codes) > 0 THEN 'failure' ELSE 'success' END, codes,
           CASE WHEN message IS NULL THEN '[]'::jsonb
                ELSE jsonb_build_array(jsonb_build_object('code', codes[1], 'message', message || ' #' || g)) END,
           used, 1
      FROM generate_series(1, n) g
$$;
-- TS2345: used 20 times, its code as frequent with it as without: reduction 0.
SELECT pg_temp.log(10, '{TS2345}', '{TS2345@1}', 'Argument of type string is not assignable');
SELECT pg_temp.log(10, '{}', '{TS2345@1}');
SELECT pg_temp.log(10, '{TS2345}', '{}');
SELECT pg_temp.log(10, '{}', '{}');
-- TS7006: used 20 times, never with its code, which is frequent without: reduction 1.
SELECT pg_temp.log(20, '{}', '{TS7006@1}');
SELECT pg_temp.log(10, '{TS7006}', '{}');
-- TS2532: bad but used only 5 times.
SELECT pg_temp.log(5, '{TS2532}', '{TS2532@1}');
SELECT pg_temp.log(5, '{TS2532}', '{}');
-- TS1111: 5 failures and no enhancement; TS1112: only 4.
SELECT pg_temp.log(5, '{TS1111}', '{}', 'Unexpected token');
SELECT pg_temp.log(4, '{TS1112}', '{}');

SELECT results_eq($$SELECT kind, error_code FROM run_auto_improvement() ORDER BY job_id$$,
                  $$VALUES ('improve', 'TS2345'), ('create', 'TS1111')$$,
                  'improve jobs for live enhancements with reduction < 0.5 used >= 10 times, then create jobs for frequent unaddressed codes');
SELECT results_eq($$SELECT trigger, jobs_enqueued, improve_jobs, create_jobs, jobs_skipped, started_by = current_user, finished_at IS NULL
                      FROM improvement_runs$$,
                  $$VALUES ('manual', 2, 1, 1, 0, true, true)$$,
                  'the run is recorded with its counts; it ends when its jobs have');
SELECT ok((SELECT bool_and(status = 'queued' AND attempts = 0 AND run_id = (SELECT id FROM improvement_runs)) FROM improvement_jobs),
          'the jobs are queued, no attempt made, tied to the run');
SELECT is((SELECT context - 'recent_failures' - 'error_reduction_rate' FROM improvement_jobs WHERE kind = 'improve'),
          jsonb_build_object('error_code', 'TS2345', 'current_text', 'Compare each argument with the declared parameter type.',
                             'current_version', 1, 'priority', 7, 'times_used', 20, 'window', '30 days'),
          'an improve job''s context holds the text, its version and its numbers');
SELECT is((SELECT (context ->> 'error_reduction_rate')::float8 = error_reduction_rate
             FROM improvement_jobs, analyze_enhancement_effectiveness() a
            WHERE kind = 'improve' AND a.error_code = 'TS2345'), true,
          'with the reduction that analyze_enhancement_effectiveness reports');
SELECT is((SELECT jsonb_array_length(context -> 'recent_failures') FROM improvement_jobs WHERE kind = 'improve'), 5,
          'and up to 5 recent failures');
SELECT is((SELECT context FROM improvement_jobs WHERE kind = 'create') - 'samples',
          '{"error_code": "TS1111", "occurrence_count": 5, "window": "30 days"}'::jsonb,
          'a create job''s context holds the code and its count');
SELECT ok((SELECT bool_and(s LIKE 'Unexpected token #%') AND count(*) = 5
             FROM improvement_jobs, jsonb_array_elements_text(context -> 'samples') s WHERE kind = 'create'),
          'and the code''s sample messages');

SELECT is((SELECT count(*) FROM run_auto_improvement('cron')), 0::bigint,
          'a second run enqueues nothing: never two open jobs for a code');
SELECT is((SELECT finished_at IS NOT NULL FROM improvement_runs WHERE trigger = 'cron'), true,
          'a run that enqueued nothing has ended');
SELECT throws_ok($$INSERT INTO improvement_jobs (kind, error_code) VALUES ('create', 'TS1111')$$, '23505',
                 NULL, 'the queue itself refuses a second open job for a code');

-- A pending automatic text keeps its code out of the next run.
SELECT pg_temp.log(6, '{TS1113}', '{}');
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS1113', 1, 'A text waiting for a person.', 'auto', 'pending_approval');
SELECT is((SELECT count(*) FROM run_auto_improvement() WHERE error_code = 'TS1113'), 0::bigint,
          'a code with a text pending approval gets no job');

-- cancel_job
SELECT is(cancel_job((SELECT id FROM improvement_jobs WHERE error_code = 'TS1111')), true, 'cancel_job cancels a queued job');
SELECT results_eq($$SELECT status, cancelled_by = current_user, finished_at IS NOT NULL FROM improvement_jobs WHERE error_code = 'TS1111'$$,
                  $$VALUES ('cancelled', true, true)$$, 'recording who and when');
SELECT is(cancel_job((SELECT id FROM improvement_jobs WHERE error_code = 'TS1111')), false, 'cancelling it again returns false');
UPDATE improvement_jobs SET status = 'running', attempts = 1, claim_token = gen_random_uuid() WHERE error_code = 'TS2345';
SELECT is(cancel_job((SELECT id FROM improvement_jobs WHERE error_code = 'TS2345')), true, 'a running job can be cancelled');
SELECT is((SELECT finished_at IS NOT NULL FROM improvement_runs ORDER BY id LIMIT 1), true,
          'when its last job is cancelled, the run has ended');
SELECT results_eq($$SELECT kind, error_code FROM run_auto_improvement() ORDER BY job_id$$,
                  $$VALUES ('improve', 'TS2345'), ('create', 'TS1111')$$,
                  'cancelled jobs do not block a new run');
INSERT INTO improvement_jobs (kind, error_code, status, outcome) VALUES ('create', 'TS0001', 'done', 'kept_as_is');
SELECT throws_ok($$SELECT cancel_job((SELECT id FROM improvement_jobs WHERE error_code = 'TS0001'))$$, '55000',
                 NULL, 'a done job cannot be cancelled (55000)');
SELECT throws_ok($$SELECT cancel_job(-1)$$, 'P0002', 'improvement job -1 does not exist', 'an unknown job is P0002');
SELECT throws_ok($$SELECT cancel_job(NULL)$$, '22004', 'id must not be NULL', 'a NULL id is 22004');

-- max_jobs_per_run (20): 22 new codes, 20 jobs, 2 skipped.
SELECT pg_temp.log(5, ARRAY['TS8' || lpad(g::text, 3, '0')], '{}') FROM generate_series(1, 22) g;
SELECT is((SELECT count(*) FROM run_auto_improvement()), 20::bigint, 'at most max_jobs_per_run jobs per run');
SELECT results_eq($$SELECT jobs_enqueued, jobs_skipped FROM improvement_runs ORDER BY id DESC LIMIT 1$$,
                  $$VALUES (20, 2)$$, 'the others are counted as skipped');

-- Bad input.
SELECT throws_ok($$SELECT * FROM run_auto_improvement(NULL)$$, '22004', 'trigger must not be NULL', 'a NULL trigger is 22004');
SELECT throws_ok($$SELECT * FROM run_auto_improvement('weekly')$$, '22023',
                 'trigger must be one of manual, cron, failure_count, effectiveness_drop', 'an unknown trigger is 22023');
SELECT throws_ok($$SELECT * FROM run_auto_improvement('')$$, '22023', 'trigger must not be empty', 'an empty trigger is 22023');
SELECT throws_ok($$SELECT schedule_auto_improvement(NULL)$$, '22004', 'schedule must not be NULL', 'a NULL schedule is 22004');
SELECT throws_ok($$SELECT schedule_auto_improvement('')$$, '22023', 'schedule must not be empty', 'an empty schedule is 22023');
SELECT throws_ok($$SELECT schedule_auto_improvement(repeat('*', 201))$$, '22001', NULL, 'an overlong schedule is 22001');

-- pg_cron: this database is not cron.database_name (test/lib.sh: postgres).
CREATE FUNCTION pg_temp.error_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE state text; hint text;
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, hint = PG_EXCEPTION_HINT;
    RETURN state || ': ' || hint;
END $$;
SELECT is(pg_temp.error_of($$SELECT schedule_auto_improvement('0 4 * * *')$$),
          format('55000: Connect to database "postgres" and run: SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                 'adaptive_prompts auto-improvement in ' || current_database(), '0 4 * * *',
                 'SELECT public.run_auto_improvement(''cron'')', current_database()),
          'scheduling from another database than cron.database_name: 55000, the hint is the statement to run there');
SELECT is(pg_temp.error_of($$SELECT unschedule_auto_improvement()$$),
          format('55000: Connect to database "postgres" and run: SELECT cron.unschedule(%L);',
                 'adaptive_prompts auto-improvement in ' || current_database()),
          'unscheduling likewise');

-- worker_status
SELECT results_eq($$SELECT database, serves_this_database, queued, running, daily_token_budget FROM worker_status()$$,
                  $$VALUES ('postgres', false, 22::bigint, 0::bigint, 0)$$,
                  'worker_status: the worker serves postgres, not this database; the queue counts');
SELECT is((SELECT tokens_today FROM worker_status()), 0::bigint, 'no tokens used today');
UPDATE improvement_jobs SET input_tokens = 100, output_tokens = 50, cache_creation_input_tokens = 7,
       cache_read_input_tokens = NULL, answered_at = now() WHERE error_code = 'TS2345' AND status = 'queued';
SELECT is((SELECT tokens_today FROM worker_status()), 157::bigint, 'tokens today add input, output and cache tokens');

-- Privileges: an application role with the writer grants of the README.
CREATE ROLE ap_imp_app;
GRANT USAGE ON SCHEMA public TO ap_imp_app;
GRANT EXECUTE ON FUNCTION record_work_order(text, float8, integer, integer, boolean, text[], jsonb, text, text[], text[], text),
      build_enhanced_prompt(text, text[], text), get_active_prompt_version(text, text), route_work_order(float8, text) TO ap_imp_app;
SET ROLE ap_imp_app;
SELECT throws_ok($$SELECT * FROM improvement_jobs$$, '42501', NULL, 'the application role cannot read the job queue');
SELECT throws_ok($$SELECT * FROM improvement_runs$$, '42501', NULL, 'nor the runs');
SELECT throws_ok($$SELECT * FROM run_auto_improvement()$$, '42501', NULL, 'nor start a run');
SELECT throws_ok($$SELECT cancel_job(1)$$, '42501', NULL, 'nor cancel a job');
SELECT throws_ok($$SELECT * FROM worker_status()$$, '42501', NULL, 'nor read the worker''s status');
SELECT throws_ok($$SHOW adaptive_prompts.api_key_file$$, '42501', NULL, 'nor see where the API key is');
RESET ROLE;

-- Read-only transactions (last: the transaction stays read-only).
SET LOCAL transaction_read_only = on;
SELECT throws_ok($$SELECT * FROM run_auto_improvement()$$, '25006', NULL, 'run_auto_improvement in a read-only transaction is 25006');

SELECT * FROM finish();
ROLLBACK;
