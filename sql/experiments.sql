-- Threshold experiments and routing: the notes' example end to end.
-- The background worker serves another database; its WARNING is not tested here.
SET client_min_messages = error;
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
--
-- gpt-4o-mini (cheap) takes work up to 0.3, gpt-4o (stronger, dearer) up to
-- 0.9.  The weekly job asks whether gpt-4o-mini can take 0.3-0.4: 30
-- samples, promote at a 70% success rate (21 of 30).
SELECT register_proposer('gpt-4o-mini', 0.3, 1);
SELECT register_proposer('gpt-4o', 0.9, 10);

-- Before any experiment, 0.35 is above gpt-4o-mini's threshold.
SELECT route_work_order(0.35) AS before_experiment;

-- A work order reported as a success or a failure (record_work_order
-- counts it in the running experiment by itself).
CREATE FUNCTION report(score float8, success boolean, id text)
RETURNS work_order_result
LANGUAGE sql AS $$
    SELECT record_work_order('gpt-4o-mini', score, 1,
                             CASE WHEN success THEN 0 ELSE 1 END,
                             work_order_id => id)
$$;

-- One experiment, without its id and timestamps, with its live counts
-- (threshold_experiment_progress: the sums of its striped counters).
CREATE FUNCTION experiment(experiment_id uuid)
RETURNS TABLE (old_threshold float8, new_threshold float8, size integer,
               confidence float8, rule text, status text, samples integer,
               successes integer, rate numeric, watching boolean,
               watched integer, decided boolean)
LANGUAGE sql AS $$
    SELECT e.old_threshold, e.new_threshold, e.test_sample_size, e.confidence_threshold,
           e.decision_rule, e.status, p.sample_count::integer, p.successes::integer,
           round(p.success_rate::numeric, 3), e.watching,
           p.watch_sample_count::integer, e.decided_at IS NOT NULL
      FROM threshold_experiments e
      JOIN threshold_experiment_progress p ON p.experiment_id = e.id
     WHERE e.id = $1
$$;

-- ---------------------------------------------------------------------------
-- 1. 21 successes of 30 promote
-- ---------------------------------------------------------------------------
SELECT run_threshold_experiment('gpt-4o-mini', current => 0.3, proposed => 0.4,
                                sample_size => 30, confidence => 0.7) AS first_id \gset
SELECT :'first_id' <> '' AS started;
SELECT * FROM experiment(:'first_id');

-- During the experiment the band [0.3, 0.4] goes to gpt-4o-mini.
SELECT route_work_order(0.35) AS during, route_work_order(0.3) AS at_old,
       route_work_order(0.4) AS at_new, route_work_order(0.41) AS above;

-- A second proposal while one runs: NULL and a NOTICE.
SELECT propose_threshold_increase('gpt-4o-mini', 0.5) IS NULL AS refused;

-- 20 successes, then 9 failures: 21 of 30 is still reachable.
SELECT count(*) AS counted
  FROM generate_series(1, 29) AS g,
       LATERAL report(0.35, g <= 20, 'a-' || g) AS r
 WHERE r.experiment_status = 'running';
SELECT * FROM experiment(:'first_id');

-- The 30th result is the 21st success: promoted, and the threshold is
-- raised in the same transaction.
SELECT (report(0.35, true, 'a-30')).experiment_status AS thirtieth;
SELECT * FROM experiment(:'first_id');
SELECT complexity_threshold FROM proposers WHERE name = 'gpt-4o-mini';
SELECT decision_reason FROM threshold_experiments WHERE id = :'first_id';
SELECT decided_by = current_user AS decided_by_caller
  FROM threshold_experiments WHERE id = :'first_id';
SELECT evaluate_experiment(:'first_id') AS status;

-- After the promotion 0.35 still goes to gpt-4o-mini (now its own threshold).
SELECT route_work_order(0.35) AS after_promotion;

-- The band is watched for 30 more work orders; no new proposal meanwhile.
SELECT propose_threshold_increase('gpt-4o-mini', 0.5) IS NULL AS refused_while_watching;
SELECT count(*) AS watched
  FROM generate_series(1, 30) AS g,
       LATERAL report(0.35, g % 5 <> 0, 'w-' || g) AS r
 WHERE r.experiment_id IS NOT NULL;
SELECT * FROM experiment(:'first_id');
SELECT watch_reason FROM threshold_experiments WHERE id = :'first_id';
-- The watch is over: later work orders in the band are not counted.
SELECT (report(0.35, false, 'w-31')).experiment_status IS NULL AS not_counted;

-- ---------------------------------------------------------------------------
-- 2. 20 successes of 30 reject
-- ---------------------------------------------------------------------------
SELECT set_threshold('gpt-4o-mini', 0.3);
SELECT propose_threshold_increase('gpt-4o-mini', 0.4) AS second_id \gset
SELECT string_agg(DISTINCT r.experiment_status, ',') AS statuses
  FROM generate_series(1, 30) AS g,
       LATERAL report(0.35, g <= 20, 'b-' || g) AS r;
SELECT * FROM experiment(:'second_id');
SELECT decision_reason FROM threshold_experiments WHERE id = :'second_id';
SELECT complexity_threshold FROM proposers WHERE name = 'gpt-4o-mini';
-- After a rejection 0.35 goes to the stronger proposer again.
SELECT route_work_order(0.35) AS after_rejection;
-- Results after the decision are ignored.
SELECT record_experiment_result('gpt-4o-mini', 0.35, true) IS NULL AS ignored;

-- ---------------------------------------------------------------------------
-- 3. Early rejection: failures first.  21 of 30 stays reachable through 9
--    failures; the 10th failure makes it unreachable and rejects at once.
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('gpt-4o-mini', 0.4) AS third_id \gset
SELECT g AS result, record_experiment_result('gpt-4o-mini', 0.35, false) AS status
  FROM generate_series(1, 11) AS g;
SELECT * FROM experiment(:'third_id');
SELECT decision_reason FROM threshold_experiments WHERE id = :'third_id';

-- ---------------------------------------------------------------------------
-- 4. Boundaries: scores equal to the old and the new threshold count;
--    scores just outside, other proposers and duplicates do not.
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('gpt-4o-mini', 0.4) AS fourth_id \gset
SELECT s AS score, (report(s, true, 'c-' || s)).experiment_status AS status
  FROM unnest(ARRAY[0.3, 0.4, 0.29999, 0.40001, 0.0, 1.0]::float8[]) AS s;
SELECT (record_work_order('gpt-4o', 0.35, 1, 0)).experiment_status AS other_proposer;
SELECT (report(0.3, true, 'c-0.3')).duplicate AS duplicate_not_counted;
SELECT record_experiment_result('gpt-4o-mini', 0.4, true) AS lower_level_at_new,
       record_experiment_result('gpt-4o-mini', 0.40001, true) AS lower_level_above;
SELECT * FROM experiment(:'fourth_id');

-- ---------------------------------------------------------------------------
-- 5. Routing
-- ---------------------------------------------------------------------------
-- claude-haiku is cheaper than gpt-4o and takes work up to 0.5.
SELECT register_proposer('claude-haiku', 0.5, 2);
-- The running experiment's band still goes to gpt-4o-mini ...
SELECT route_work_order(0.35) AS in_band, route_work_order(0.35, 'wo-42') AS with_id;
-- ... until it is aborted; then the cheapest proposer that covers 0.35.
SELECT abort_experiment(:'fourth_id', 'demo over');
SELECT * FROM experiment(:'fourth_id');
SELECT replace(decision_reason, current_user, '<caller>') AS decision_reason
  FROM threshold_experiments WHERE id = :'fourth_id';
SELECT s AS score, route_work_order(s) AS proposer
  FROM unnest(ARRAY[0.0, 0.3, 0.35, 0.45, 0.5, 0.95, 1.0]::float8[]) AS s;
-- Inactive proposers are never routed to: above every active threshold,
-- the active proposer with the highest threshold takes the work.
SELECT set_proposer_active('gpt-4o', false);
SELECT route_work_order(0.95) AS highest_threshold_fallback;
SELECT set_proposer_active('gpt-4o', true);

-- ---------------------------------------------------------------------------
-- 6. Striped counts: each session adds to one of the experiment's 16
--    counter rows.  Two sessions that count the last work orders at the
--    same time may both see the sums short of the verdict; the worker's
--    settle_threshold_experiments() (or evaluate_experiment, or the next
--    work order in the band) then decides, once, on the sums.
-- ---------------------------------------------------------------------------
SELECT propose_threshold_increase('gpt-4o-mini', 0.4, 10, 0.7) AS sixth_id \gset
SELECT count(*) AS counters, sum(sample_count) AS counted
  FROM threshold_experiment_counts WHERE experiment_id = :'sixth_id';
-- What two sessions' counters hold after 10 work orders, 8 successes:
UPDATE threshold_experiment_counts SET sample_count = 5, successes = 4
 WHERE experiment_id = :'sixth_id' AND stripe IN (3, 7);
SELECT status, sample_count, successes, success_rate
  FROM threshold_experiment_progress WHERE experiment_id = :'sixth_id';
-- The row's counts are those of the last evaluation: none yet.
SELECT status, current_sample_count, current_successes
  FROM threshold_experiments WHERE id = :'sixth_id';
SELECT settle_threshold_experiments() AS settled;
SELECT * FROM experiment(:'sixth_id');
SELECT status, current_sample_count, current_successes, decision_reason
  FROM threshold_experiments WHERE id = :'sixth_id';
SELECT complexity_threshold FROM proposers WHERE name = 'gpt-4o-mini';
-- Settled once: nothing more to do.
SELECT settle_threshold_experiments() AS settled_again;
SELECT decided_at AS sixth_decided_at FROM threshold_experiments WHERE id = :'sixth_id' \gset
-- A count that was in flight at the decision lands in the trial's counters
-- afterwards; it changes neither the decision nor its recorded counts.
UPDATE threshold_experiment_counts SET sample_count = sample_count + 1
 WHERE experiment_id = :'sixth_id' AND stripe = 0;
SELECT evaluate_experiment(:'sixth_id') AS status;
SELECT p.sample_count AS live, e.current_sample_count AS recorded,
       e.current_successes AS recorded_successes, e.decided_at = :'sixth_decided_at' AS same_decision
  FROM threshold_experiments e JOIN threshold_experiment_progress p ON p.experiment_id = e.id
 WHERE e.id = :'sixth_id';
SELECT abort_experiment(:'sixth_id', 'demo over');
DROP FUNCTION report(float8, boolean, text);
DROP EXTENSION adaptive_prompts;
