-- Demo of adaptive_prompts (run by test/demo).
\pset footer off
CREATE EXTENSION adaptive_prompts;

\echo
\echo '== Proposers: a cheap model for easy work, stronger ones for harder work'
SELECT register_proposer('gpt-4o-mini', 0.3, 1);
SELECT register_proposer('claude-haiku', 0.5, 2);
SELECT register_proposer('gpt-4o', 0.8, 5);
SELECT register_proposer('claude-sonnet', 1.0, 10);
SELECT name, complexity_threshold, cost_rank, active FROM proposers ORDER BY cost_rank;

\echo
\echo '== A stream of' :count 'work orders (seeded, so every run is the same)'
-- Each proposer has a skill; a work order succeeds with probability
-- 1.6 - complexity / skill (clamped to [0, 1]).  Failures carry TypeScript
-- error codes.
SELECT setseed(0.42);
CREATE TEMP TABLE stream AS
SELECT i, p.name AS proposer, p.skill, round(random()::numeric, 3)::float8 AS score,
       random() AS luck, 1 + floor(random() * 8)::int AS initial_errors
  FROM generate_series(1, :count) i
  CROSS JOIN LATERAL (SELECT * FROM (VALUES ('gpt-4o-mini', 0.45), ('claude-haiku', 0.6),
                                            ('gpt-4o', 0.8), ('claude-sonnet', 0.95),
                                            ('gpt-4o-mini-typo', 0.3)) v(name, skill)
                       ORDER BY (i * 7 + length(v.name)) % 11 LIMIT 1) p;

\timing on
-- One transaction per work order, as an orchestrator would report them.
DO $$
DECLARE
    w record;
    lucky boolean;
BEGIN
    FOR w IN SELECT * FROM stream ORDER BY i LOOP
        lucky := w.luck < 1.6 - w.score / w.skill;
        PERFORM record_work_order(
            w.proposer, w.score, w.initial_errors,
            CASE WHEN lucky THEN 0
                 WHEN w.luck < 1.8 - w.score / w.skill THEN 1
                 ELSE w.initial_errors + (w.i % 3) END,
            stalled => w.luck > 0.97,
            error_codes => CASE WHEN lucky THEN '{}'::text[]
                                WHEN w.score > 0.6 THEN '{TS2345,TS2322}'
                                WHEN w.i % 4 = 0 THEN '{TS1443}'
                                ELSE '{TS7006}' END,
            error_samples => CASE WHEN lucky THEN '[]'::jsonb
                                  ELSE '[{"code": "TS2345", "message": "Argument of type ''string | undefined'' is not assignable to parameter of type ''string''."}]' END,
            sanitizer_changes => CASE WHEN w.i % 4 = 0 THEN '{unquoted_module_declarations}'::text[] ELSE '{}' END,
            work_order_id => 'demo-' || w.i);
        COMMIT;
    END LOOP;
END
$$;
\timing off
SELECT count(*) AS recorded,
       count(*) FILTER (WHERE outcome = 'success') AS successes,
       count(*) FILTER (WHERE outcome = 'partial') AS partials,
       count(*) FILTER (WHERE outcome = 'failure') AS failures,
       count(*) FILTER (WHERE logged) AS logged
  FROM work_orders;

\echo
\echo '== Retrying the first 100 work orders changes nothing (idempotent by work_order_id)'
SELECT count(*) FILTER (WHERE (record_work_order(proposer, score, 1, 1, work_order_id => 'demo-' || i)).duplicate) AS duplicates
  FROM stream WHERE i <= 100;

\echo
\echo '== Rolling success rate per proposer and complexity band (last 50 attempts each)'
SELECT proposer_name,
       max(success_rate) FILTER (WHERE complexity_band = '0.0-0.1') AS "0.0",
       max(success_rate) FILTER (WHERE complexity_band = '0.1-0.2') AS "0.1",
       max(success_rate) FILTER (WHERE complexity_band = '0.2-0.3') AS "0.2",
       max(success_rate) FILTER (WHERE complexity_band = '0.3-0.4') AS "0.3",
       max(success_rate) FILTER (WHERE complexity_band = '0.4-0.5') AS "0.4",
       max(success_rate) FILTER (WHERE complexity_band = '0.5-0.6') AS "0.5",
       max(success_rate) FILTER (WHERE complexity_band = '0.6-0.7') AS "0.6",
       max(success_rate) FILTER (WHERE complexity_band = '0.7-0.8') AS "0.7",
       max(success_rate) FILTER (WHERE complexity_band = '0.8-0.9') AS "0.8",
       max(success_rate) FILTER (WHERE complexity_band = '0.9-1.0') AS "0.9"
  FROM proposer_success_metrics GROUP BY proposer_name ORDER BY proposer_name \gx
\pset format aligned
SELECT proposer_name, complexity_band, attempts, successes, round(success_rate::numeric, 2) AS success_rate,
       round(avg_improvement_rate::numeric, 2) AS avg_improvement
  FROM proposer_success_metrics WHERE proposer_name = 'gpt-4o-mini' ORDER BY complexity_band;

\echo
\echo '== The typo was recorded but is never routed to'
SELECT name, active, auto_registered FROM proposers WHERE auto_registered;

\echo
\echo '== What was learned: most frequent error codes of logged failures (weighted by 1/sample_rate)'
SELECT code, round(sum(1 / sample_rate)) AS weighted_occurrences
  FROM proposer_failures, unnest(error_codes) code GROUP BY code ORDER BY 2 DESC;
SELECT code AS excluded_by_sanitizer, count(*) FROM proposer_failures, unnest(excluded_error_codes) code GROUP BY code;

\echo
\echo '== Storage'
VACUUM ANALYZE proposer_failures, work_orders, proposer_attempts, proposer_success_metrics;
SELECT t AS "table", pg_size_pretty(pg_total_relation_size(t::regclass)) AS "size (with indexes)",
       (SELECT reltuples::bigint FROM pg_class WHERE oid = t::regclass) AS rows
  FROM unnest(ARRAY['proposer_failures', 'work_orders', 'proposer_attempts', 'proposer_success_metrics']) t;
SELECT count(*) AS work_orders,
       (SELECT count(*) FROM proposer_failures) AS logged_rows,
       pg_size_pretty((pg_total_relation_size('proposer_failures') + pg_total_relation_size('work_orders')
                       + pg_total_relation_size('proposer_attempts') + pg_total_relation_size('proposer_success_metrics'))
                      * 1000 / count(*)) AS storage_per_1000_work_orders
  FROM work_orders;

\echo
\echo '== The weekly threshold experiment: may gpt-4o-mini take 0.3-0.4?'
SELECT run_threshold_experiment('gpt-4o-mini', current => 0.3, proposed => 0.4,
                                sample_size => 30, confidence => 0.7) IS NOT NULL AS started;
SELECT route_work_order(0.35) AS "0.35 is routed to";
-- The orchestrator routes each work order and reports it; record_work_order
-- counts the ones in the band, and the call that completes the sample
-- decides.  In this simulation gpt-4o-mini succeeds 85% of the time in the
-- band; after a promotion the band is watched for 30 more work orders.
DO $$
DECLARE
    n integer := 0;
    score float8;
    proposer text;
BEGIN
    PERFORM setseed(0.7);
    WHILE n < 80 LOOP
        n := n + 1;
        score := 0.3 + round((random() * 0.1)::numeric, 3)::float8;
        proposer := route_work_order(score);
        PERFORM record_work_order(proposer, score, 3,
                    CASE WHEN random() < 0.85 THEN 0 ELSE 2 END,
                    work_order_id => 'weekly-' || n);
        COMMIT;
    END LOOP;
END
$$;
SELECT status, current_successes || '/' || current_sample_count AS result, watching,
       watch_successes || '/' || watch_sample_count AS watch, decision_reason
  FROM threshold_experiments WHERE proposer_name = 'gpt-4o-mini' AND decision_rule <> 'manual' \gx
SELECT name, complexity_threshold FROM proposers WHERE name = 'gpt-4o-mini';
SELECT route_work_order(0.35) AS "0.35 is now routed to";

\echo
\echo '== An A/B test of a new base prompt for claude-haiku'
SELECT register_prompt_version('claude-haiku', 'claude-haiku/v1', 'Write TypeScript for the work order.', activate => true) IS NOT NULL AS registered;
SELECT register_prompt_version('claude-haiku', 'claude-haiku/v2',
         'Write strict TypeScript for the work order; annotate every exported function and quote module names.',
         system_changes => 'stricter instructions') IS NOT NULL AS registered;
SELECT start_prompt_test('claude-haiku/v2', 60);
-- Each work order gets the version of its arm (by id); in this simulation
-- v2 succeeds 80% of the time and v1 60%.
DO $$
DECLARE
    n integer := 0;
    v text;
BEGIN
    PERFORM setseed(0.3);
    WHILE n < 400 AND EXISTS (SELECT 1 FROM ab_tests WHERE status = 'running') LOOP
        n := n + 1;
        SELECT version INTO v FROM get_active_prompt_version('claude-haiku', 'ab-' || n);
        PERFORM record_work_order('claude-haiku', 0.45, 3,
                    CASE WHEN random() < CASE v WHEN 'claude-haiku/v2' THEN 0.8 ELSE 0.6 END THEN 0 ELSE 2 END,
                    prompt_version => v, work_order_id => 'ab-' || n);
        COMMIT;
    END LOOP;
END
$$;
SELECT status, candidate, incumbent,
       candidate_successes || '/' || candidate_work_orders AS candidate_arm,
       incumbent_successes || '/' || incumbent_work_orders AS incumbent_arm,
       round(p_value::numeric, 4) AS p_value
  FROM ab_tests WHERE kind = 'prompt_version';
SELECT version, is_active, replaced_version FROM prompt_versions ORDER BY version;
