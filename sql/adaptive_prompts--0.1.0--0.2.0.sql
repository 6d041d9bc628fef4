/* adaptive_prompts 0.1.0 -> 0.2.0: upgrade script */

\echo Use "ALTER EXTENSION adaptive_prompts UPDATE TO '0.2.0'" to load this file. \quit

/*
 * Every change here is also in adaptive_prompts--0.2.0.sql, in the same
 * order of columns: test/integration/upgrade.sh checks that an updated
 * install and a fresh one have the same objects, definitions, comments,
 * privileges and seeded rows.
 */

/* ---------------------------------------------------------------------------
 * Issue 14: threshold experiments count in striped counters
 * ------------------------------------------------------------------------- */
-- ---------------------------------------------------------------------------
-- Striped counters of threshold experiments (issue 14): a work order in an
-- experiment's band adds to one of its AP_COUNTER_STRIPES (16) rows, the row
-- of the caller's backend, so concurrent callers do not wait on one row.
-- The experiment row's count columns hold the counts a decision (or the last
-- evaluation) was taken on; threshold_experiment_progress shows the sums.
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.threshold_experiment_counts (
    experiment_id      uuid NOT NULL
                       REFERENCES @extschema@.threshold_experiments (id) ON DELETE CASCADE,
    stripe             integer NOT NULL,
    sample_count       bigint NOT NULL DEFAULT 0,
    successes          bigint NOT NULL DEFAULT 0,
    watch_sample_count bigint NOT NULL DEFAULT 0,
    watch_successes    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (experiment_id, stripe)
) WITH (fillfactor = 50);
-- No CHECK constraints: every update of a counter row would evaluate them
-- (a measurable part of the hot path); only the extension writes the rows.
COMMENT ON TABLE @extschema@.threshold_experiment_counts IS
    'Striped counters of threshold experiments: 16 rows per experiment (none for manual rows), created when it starts; each work order counted in the trial or the watch adds to the row of its backend''s stripe (HOT updates, low fillfactor). An experiment''s live counts are the sums over its rows (threshold_experiment_progress); they can exceed the counts recorded at the decision by the work orders that were in flight.';
COMMENT ON COLUMN @extschema@.threshold_experiment_counts.stripe IS
    'Which of the experiment''s counter rows (0 to 15): the backend slot of the counting session modulo 16.';
COMMENT ON COLUMN @extschema@.threshold_experiment_counts.sample_count IS
    'Work orders in the band counted by this stripe while the experiment was running.';
COMMENT ON COLUMN @extschema@.threshold_experiment_counts.successes IS
    'Of sample_count, the successes.';
COMMENT ON COLUMN @extschema@.threshold_experiment_counts.watch_sample_count IS
    'Work orders in the band counted by this stripe during the watch after a promotion.';
COMMENT ON COLUMN @extschema@.threshold_experiment_counts.watch_successes IS
    'Of watch_sample_count, the successes.';
COMMENT ON COLUMN @extschema@.threshold_experiments.current_sample_count IS
    'Work orders counted in the trial when it was decided or aborted (or at its last evaluation while it runs); the live count is threshold_experiment_progress.sample_count.';
COMMENT ON COLUMN @extschema@.threshold_experiments.current_successes IS
    'Of current_sample_count, the successes.';
COMMENT ON COLUMN @extschema@.threshold_experiments.current_success_rate IS
    'current_successes / current_sample_count.';
COMMENT ON COLUMN @extschema@.threshold_experiments.watch_sample_count IS
    'Work orders counted in the watch when it ended (or at its last evaluation while it runs); the live count is threshold_experiment_progress.watch_sample_count.';
COMMENT ON COLUMN @extschema@.threshold_experiments.watch_successes IS
    'Of watch_sample_count, the successes.';

CREATE VIEW @extschema@.threshold_experiment_progress AS
SELECT e.id AS experiment_id, e.proposer_name, e.status, e.watching,
       e.test_sample_size,
       COALESCE(pg_catalog.sum(c.sample_count), 0)::bigint AS sample_count,
       COALESCE(pg_catalog.sum(c.successes), 0)::bigint AS successes,
       pg_catalog.sum(c.successes)::float8
           / NULLIF(pg_catalog.sum(c.sample_count), 0)::float8 AS success_rate,
       COALESCE(pg_catalog.sum(c.watch_sample_count), 0)::bigint AS watch_sample_count,
       COALESCE(pg_catalog.sum(c.watch_successes), 0)::bigint AS watch_successes
  FROM @extschema@.threshold_experiments e
  LEFT JOIN @extschema@.threshold_experiment_counts c ON c.experiment_id = e.id
 WHERE e.status <> 'manual'
 GROUP BY e.id;
COMMENT ON VIEW @extschema@.threshold_experiment_progress IS
    'Live counts of every threshold experiment (not manual rows): the sums of its striped counters. While an experiment runs or is watched these are its counts; after the decision or the end of the watch, the row''s own count columns are the counts the decision was taken on (the sums can be larger by the work orders that were in flight).';

CREATE FUNCTION @extschema@.settle_threshold_experiments()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_settle_threshold_experiments'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.settle_threshold_experiments() IS
    'Apply the rule of every running or watched threshold experiment to the sums of its counters: decide those that reach a verdict and end the watches that are over (verdicts that concurrent last callers missed), and write the sums of the others into their rows'' count columns. Returns how many were decided or ended their watch. The worker runs it every cycle; without the worker, run it from pg_cron.';
COMMENT ON FUNCTION @extschema@.evaluate_experiment(uuid) IS
    'Apply the experiment''s rule to the sums of its counters (decide if the rule reaches a verdict; end a complete watch; else write the sums into the row''s count columns) and return its status: running, promoted, rejected, aborted or rolled_back. Counting usually does this; it takes a verdict that concurrent last callers missed.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.threshold_experiment_counts', '');
REVOKE ALL ON FUNCTION @extschema@.settle_threshold_experiments() FROM PUBLIC;

-- Experiments open at the update keep counting from their counts: stripe 0
-- starts with them (the trial's, and the watch's once promoted).
INSERT INTO @extschema@.threshold_experiment_counts
       (experiment_id, stripe, sample_count, successes, watch_sample_count, watch_successes)
SELECT e.id, s.stripe,
       CASE WHEN s.stripe = 0 THEN e.current_sample_count ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN e.current_successes ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN e.watch_sample_count ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN e.watch_successes ELSE 0 END
  FROM @extschema@.threshold_experiments e,
       pg_catalog.generate_series(0, 15) AS s (stripe)
 WHERE e.status = 'running' OR e.watching;
