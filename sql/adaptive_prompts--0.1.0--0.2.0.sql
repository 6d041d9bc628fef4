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
-- ---------------------------------------------------------------------------
-- Issue 14: the analyses run without JIT.  Their plans cost more than
-- jit_above_cost on paper (a subquery per live enhancement), and compiling
-- took about 0.8 s of a 0.9 s call that runs in under 0.1 s without it.
-- ---------------------------------------------------------------------------
ALTER FUNCTION @extschema@.refresh_enhancement_stats() SET jit = off;
ALTER FUNCTION @extschema@.analyze_enhancement_effectiveness(interval) SET jit = off;
ALTER FUNCTION @extschema@.get_common_unaddressed_errors(integer, interval) SET jit = off;

-- ---------------------------------------------------------------------------
-- Issue 14: validation_report() reads hourly rollups (log_report_rollups)
-- and the log's tail, and counts from the purge horizon
-- (log_rollup_state.purged_before).
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.log_rollup_state ADD COLUMN purged_before timestamptz;
COMMENT ON COLUMN @extschema@.log_rollup_state.purged_before IS
    'purge_log() may have deleted log rows created before this time, never one created at or after it (NULL: nothing purged). validation_report() counts logged work orders from here on.';

CREATE TABLE @extschema@.log_report_rollups (
    hour            timestamptz NOT NULL,  -- start of the UTC hour
    kind            text NOT NULL CHECK (kind IN ('total', 'error', 'excluded')),
    code            text NOT NULL,         -- '' for total
    complexity_band text NOT NULL,         -- '' for error and excluded
    outcome         text NOT NULL,
    work_orders     bigint NOT NULL,       -- logged rows
    weight          numeric NOT NULL,      -- sum of 1/sample_rate
    first_at        timestamptz NOT NULL,  -- oldest created_at counted
    last_at         timestamptz NOT NULL,  -- newest created_at counted
    PRIMARY KEY (hour, kind, code, complexity_band, outcome)
);
COMMENT ON TABLE @extschema@.log_report_rollups IS
    'Hourly rollups of proposer_failures for validation_report(), folded by fold_rollups() with log_rollups. kind total: every logged row, per band and outcome (code ''''); error: rows whose error_codes hold code, per outcome; excluded: rows whose excluded_error_codes hold code, per outcome. Kept as long as the log (purge_log() deletes the hours before log_rollup_state.purged_before).';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.log_report_rollups', '');

-- The rows 0.1.0 folded already go into the new rollups here, from the
-- log, under the lock a fold takes, so that they are counted once; the
-- next fold goes on from the same watermark.  Rows 0.1.0 purged are not in
-- the log any more: the report starts at the oldest row kept.
SELECT 1 FROM @extschema@.log_rollup_state FOR UPDATE;
INSERT INTO @extschema@.log_report_rollups (hour, kind, code, complexity_band, outcome,
                                            work_orders, weight, first_at, last_at)
SELECT date_trunc('hour', f.created_at, 'UTC'), k.kind, k.code, k.complexity_band, f.outcome,
       count(*), sum(1::numeric / f.sample_rate::numeric), min(f.created_at), max(f.created_at)
  FROM @extschema@.proposer_failures f,
       LATERAL (SELECT 'total', '', f.complexity_band
                UNION ALL SELECT DISTINCT 'error', x.code, '' FROM unnest(f.error_codes) AS x (code)
                UNION ALL SELECT DISTINCT 'excluded', x.code, '' FROM unnest(f.excluded_error_codes) AS x (code))
       AS k (kind, code, complexity_band)
 WHERE f.id <= (SELECT s.folded_through FROM @extschema@.log_rollup_state s)
 GROUP BY 1, 2, 3, 4, 5;
UPDATE @extschema@.log_rollup_state
   SET purged_before = (SELECT min(f.created_at) FROM @extschema@.proposer_failures f)
 WHERE EXISTS (SELECT 1 FROM @extschema@.log_rollups r
                WHERE r.day < date_trunc('day', (SELECT min(f.created_at) FROM @extschema@.proposer_failures f), 'UTC'));

CREATE OR REPLACE FUNCTION @extschema@.validation_report(since timestamptz DEFAULT NULL)
RETURNS TABLE (metric text, value float8, target float8, met boolean, detail text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    -- Rows of the log with ids up to mark are in the rollups.
    mark bigint;
    -- purge_log() may have deleted rows created before purged.
    purged timestamptz;
    -- The logged work orders are counted from log_from on.
    log_from timestamptz := coalesce(since, '-infinity');
BEGIN
    SELECT s.folded_through, s.purged_before INTO mark, purged
      FROM @extschema@.log_rollup_state s;
    mark := coalesce(mark, 0);
    IF purged IS NOT NULL AND log_from < purged THEN
        IF since IS NOT NULL THEN
            RAISE NOTICE 'validation_report() counts the logged work orders from %, not from %.', purged, since
                USING DETAIL = 'purge_log() deleted the log''s rows before then (adaptive_prompts.log_retention).';
        END IF;
        log_from := purged;
    END IF;

    RETURN QUERY
WITH
-- The logged work orders of the period, each standing for 1/sample_rate,
-- are read from the hourly rollups (log_report_rollups) for every hour no
-- bound of the report cuts through, and from the log for the others and
-- for the rows not folded yet: a full scan's sums, in less time.
-- The log's rows above the watermark.
tail AS MATERIALIZED (
    SELECT f.created_at, f.complexity_band, f.outcome, f.error_codes, f.excluded_error_codes,
           1::numeric / f.sample_rate::numeric AS weight
      FROM @extschema@.proposer_failures f
     WHERE f.id > mark AND f.created_at >= log_from),
-- The folded rows of the hour that log_from cuts through.
first_hour AS MATERIALIZED (
    SELECT f.created_at, f.complexity_band, f.outcome, f.error_codes, f.excluded_error_codes,
           1::numeric / f.sample_rate::numeric AS weight
      FROM @extschema@.proposer_failures f
     WHERE f.id <= mark AND f.created_at >= log_from
       AND f.created_at < date_trunc('hour', log_from, 'UTC') + interval '1 hour'),
span AS (
    SELECT min(x.first_at) AS first_at, max(x.last_at) AS last_at FROM (
        SELECT r.first_at, r.last_at FROM @extschema@.log_report_rollups r
         WHERE r.kind = 'total' AND r.hour > date_trunc('hour', log_from, 'UTC')
        UNION ALL SELECT min(created_at), max(created_at) FROM first_hour
        UNION ALL SELECT min(created_at), max(created_at) FROM tail) x),
-- The period runs from since (or the first logged work order) to the last
-- logged work order; its first and last quarters are compared.
period AS (
    SELECT CASE WHEN NOT isfinite(log_from) THEN s.first_at ELSE log_from END AS lo,
           s.last_at AS hi
      FROM span s),
bounds AS (
    SELECT p.lo + (p.hi - p.lo) / 4 AS first_end, p.hi - (p.hi - p.lo) / 4 AS last_start
      FROM period p),
thresholds AS (
    SELECT count(*) FILTER (WHERE status = 'promoted') AS promoted,
           count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           max(new_threshold) FILTER (WHERE status = 'promoted') AS highest
      FROM @extschema@.threshold_experiments
     WHERE decision_rule <> 'manual' AND decided_at IS NOT NULL
       AND status IN ('promoted', 'rejected', 'rolled_back')
       AND (since IS NULL OR decided_at >= since)),
-- Storage of the tables that grow with work orders (log, ledger, windows)
-- over every work order ever recorded: the per-key sequences of the
-- windows count each one once.
storage AS (
    SELECT pg_total_relation_size('@extschema@.proposer_failures'::regclass)
           + pg_total_relation_size('@extschema@.work_orders'::regclass)
           + pg_total_relation_size('@extschema@.proposer_attempts'::regclass)
           + pg_total_relation_size('@extschema@.proposer_success_metrics'::regclass) AS bytes,
           (SELECT sum(m.last_seq) FROM @extschema@.proposer_success_metrics m) AS work_orders),
-- Window stability: the ledger has every work order with an id, logged or
-- not.  Each (proposer, band)'s work orders, in the order recorded, are cut
-- into blocks of window_size: consecutive windows.  The value is the mean
-- absolute change of the success rate from one full block to the next.
ledger AS (
    SELECT w.proposer_name, w.complexity_band, m.window_size,
           (w.outcome = 'success')::integer AS success,
           (row_number() OVER (PARTITION BY w.proposer_name, w.complexity_band
                               ORDER BY w.recorded_at, w.work_order_id) - 1) / m.window_size AS block
      FROM @extschema@.work_orders w
      JOIN @extschema@.proposer_success_metrics m
        ON m.proposer_name = w.proposer_name AND m.complexity_band = w.complexity_band
     WHERE since IS NULL OR w.recorded_at >= since),
blocks AS (
    SELECT proposer_name, complexity_band, block, avg(success) AS rate
      FROM ledger
     GROUP BY proposer_name, complexity_band, block, window_size
    HAVING count(*) = window_size),
block_changes AS (
    SELECT abs(rate - lag(rate) OVER (PARTITION BY proposer_name, complexity_band ORDER BY block)) AS change
      FROM blocks),
stability AS (
    SELECT avg(change)::float8 AS value, count(change) AS pairs, max(change)::float8 AS largest
      FROM block_changes),
-- The loop: texts the worker wrote, approvals, promotions and rollbacks.
loop AS (
    SELECT (SELECT count(*) FROM @extschema@.enhancement_versions v
             WHERE v.source = 'auto' AND (since IS NULL OR v.created_at >= since)) AS created,
           (SELECT count(*) FROM @extschema@.enhancement_versions v
             WHERE v.approved_at IS NOT NULL AND (since IS NULL OR v.approved_at >= since)) AS approved,
           (SELECT count(*) FROM @extschema@.enhancement_versions v
             WHERE v.status = 'rejected' AND (since IS NULL OR v.decided_at >= since)) AS rejected,
           (SELECT count(*) FROM @extschema@.version_history h
             WHERE h.kind = 'enhancement' AND h.action = 'promoted'
               AND (since IS NULL OR h.changed_at >= since)) AS promoted,
           (SELECT count(*) FROM @extschema@.version_history h
             WHERE h.kind = 'enhancement' AND h.action = 'rolled_back'
               AND (since IS NULL OR h.changed_at >= since)) AS rolled_back),
-- Each code whose enhancement went live in the period (the latest time):
-- the era of the text it replaced (from the change before, until its test
-- started or, without a test, until it went live) against its own era
-- (until the next change or the end).
live_changes AS (
    SELECT h.subject AS code, h.new_version, h.action, h.changed_at, h.ab_test_id,
           lag(h.changed_at) OVER (PARTITION BY h.subject ORDER BY h.id) AS previous_change,
           lead(h.changed_at) OVER (PARTITION BY h.subject ORDER BY h.id) AS next_change
      FROM @extschema@.version_history h
     WHERE h.kind = 'enhancement'),
targeted AS (
    SELECT DISTINCT ON (c.code) c.code, c.new_version, c.action, c.changed_at, c.previous_change,
           c.next_change, coalesce(t.started_at, c.changed_at) AS era_end
      FROM live_changes c
      LEFT JOIN @extschema@.ab_tests t ON t.id = c.ab_test_id
     WHERE c.new_version IS NOT NULL AND c.action IN ('set', 'promoted')
       AND (since IS NULL OR c.changed_at >= since)
     ORDER BY c.code, c.changed_at DESC),
-- Every bound of the period and of the eras, sorted, and the hours they
-- cut through: those hours' rows come from the log, every other hour from
-- the rollups.  Pieces between the same two bounds (or on the same bound)
-- lie on the same side of every bound, so they are summed first.
cuts AS (
    SELECT coalesce(array_agg(DISTINCT b.t ORDER BY b.t), '{}') AS bounds,
           coalesce(array_agg(DISTINCT date_trunc('hour', b.t, 'UTC')), '{}') AS hours
      FROM (SELECT log_from
            UNION ALL SELECT first_end FROM bounds
            UNION ALL SELECT last_start FROM bounds
            UNION ALL SELECT unnest(ARRAY[t.previous_change, t.era_end, t.changed_at, t.next_change])
                        FROM targeted t) b (t)
     WHERE isfinite(b.t)),
-- The log's rows the report reads: the cut hours' folded rows and the
-- rows not folded yet, summed per bucket of the bounds and per array.
log_groups AS (
    SELECT min(f.created_at) AS at, f.complexity_band, f.outcome, f.error_codes,
           f.excluded_error_codes, sum(f.weight) AS weight
      FROM (SELECT * FROM first_hour
            UNION ALL
            -- One BRIN scan per cut hour (OFFSET 0 keeps the subquery
            -- per hour instead of one join with the whole log).
            SELECT l.*
              FROM cuts, unnest(cuts.hours) AS c (hour),
                   LATERAL (SELECT l.created_at, l.complexity_band, l.outcome, l.error_codes,
                                   l.excluded_error_codes, 1::numeric / l.sample_rate::numeric
                              FROM @extschema@.proposer_failures l
                             WHERE l.created_at >= c.hour AND l.created_at < c.hour + interval '1 hour'
                               AND l.id <= mark
                            OFFSET 0) l
             WHERE c.hour > date_trunc('hour', log_from, 'UTC')
            UNION ALL
            SELECT * FROM tail) f, cuts
     GROUP BY width_bucket(f.created_at, cuts.bounds), f.created_at = ANY (cuts.bounds),
              f.complexity_band, f.outcome, f.error_codes, f.excluded_error_codes),
-- What the report counts, as (at, kind, code, complexity_band, outcome,
-- weight), kinds as in log_report_rollups: sums of whole hours (at: the
-- first hour's start; no bound cuts them) and of the log's rows (at: the
-- first created_at), these expanded as the fold expands them
-- (REPORT_FACTS_LATERAL in src/retention.h).
pieces AS MATERIALIZED (
    SELECT min(r.hour) AS at, r.kind, r.code, r.complexity_band, r.outcome, sum(r.weight) AS weight
      FROM @extschema@.log_report_rollups r, cuts
     WHERE r.hour > date_trunc('hour', log_from, 'UTC') AND r.hour <> ALL (cuts.hours)
     GROUP BY width_bucket(r.hour, cuts.bounds), r.kind, r.code, r.complexity_band, r.outcome
    UNION ALL
    SELECT f.at, k.kind, k.code, k.complexity_band, f.outcome, f.weight
      FROM log_groups f,
           LATERAL (SELECT 'total', '', f.complexity_band
                    UNION ALL SELECT DISTINCT 'error', x.code, '' FROM unnest(f.error_codes) AS x (code)
                    UNION ALL SELECT DISTINCT 'excluded', x.code, '' FROM unnest(f.excluded_error_codes) AS x (code))
           AS k (kind, code, complexity_band)),
-- Each piece with whether it falls in the first or the last quarter.
quarters AS (
    SELECT x.*, x.at <= b.first_end AS first_quarter, x.at >= b.last_start AS last_quarter
      FROM pieces x, bounds b),
-- TS1443 per work order, and among the work orders that ended with errors
-- (failures and partials).  A TS1443 that the sanitizer fixed is in
-- excluded_error_codes and counted apart.
ts1443 AS (
    SELECT coalesce(sum(weight) FILTER (WHERE first_quarter AND kind = 'error' AND code = 'TS1443'), 0)
             / sum(weight) FILTER (WHERE first_quarter AND kind = 'total') AS first_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND kind = 'error' AND code = 'TS1443'), 0)
             / sum(weight) FILTER (WHERE last_quarter AND kind = 'total') AS last_rate,
           coalesce(sum(weight) FILTER (WHERE first_quarter AND outcome <> 'success' AND kind = 'error' AND code = 'TS1443'), 0)
             / sum(weight) FILTER (WHERE first_quarter AND outcome <> 'success' AND kind = 'total') AS first_share,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND outcome <> 'success' AND kind = 'error' AND code = 'TS1443'), 0)
             / sum(weight) FILTER (WHERE last_quarter AND outcome <> 'success' AND kind = 'total') AS last_share,
           coalesce(sum(weight) FILTER (WHERE kind = 'error' AND code = 'TS1443'), 0) AS learned,
           coalesce(sum(weight) FILTER (WHERE kind = 'excluded' AND code = 'TS1443'), 0) AS fixed
      FROM quarters),
band AS (
    SELECT coalesce(sum(weight) FILTER (WHERE first_quarter AND outcome = 'success'), 0)
             / sum(weight) FILTER (WHERE first_quarter) AS first_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND outcome = 'success'), 0)
             / sum(weight) FILTER (WHERE last_quarter) AS last_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter), 0) AS last_work_orders
      FROM quarters WHERE kind = 'total' AND complexity_band = '0.3-0.4'),
code_rates AS (
    SELECT t.*, b.rate AS before_rate, b.work_orders AS before_work_orders,
           a.rate AS after_rate, a.work_orders AS after_work_orders
      FROM targeted t
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(l.weight) FILTER (WHERE l.kind = 'error' AND l.code = t.code), 0)
                   / sum(l.weight) FILTER (WHERE l.kind = 'total') AS rate,
                 coalesce(sum(l.weight) FILTER (WHERE l.kind = 'total'), 0) AS work_orders
            FROM pieces l
           WHERE l.at < t.era_end
             AND (t.previous_change IS NULL OR l.at >= t.previous_change)) b
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(l.weight) FILTER (WHERE l.kind = 'error' AND l.code = t.code), 0)
                   / sum(l.weight) FILTER (WHERE l.kind = 'total') AS rate,
                 coalesce(sum(l.weight) FILTER (WHERE l.kind = 'total'), 0) AS work_orders
            FROM pieces l
           WHERE l.at >= t.changed_at
             AND (t.next_change IS NULL OR l.at < t.next_change)) a),
report (ordinal, metric, value, target, met, detail) AS (
    SELECT 1, 'ts1443_reduction',
           CASE WHEN s.first_rate > 0 THEN 1 - coalesce(s.last_rate, 0) / s.first_rate END,
           0.5::float8,
           CASE WHEN s.first_rate > 0 THEN 1 - coalesce(s.last_rate, 0) / s.first_rate >= 0.5
                WHEN s.first_rate = 0 AND s.last_rate > 0 THEN false
                WHEN coalesce(s.first_rate, 0) = 0 AND coalesce(s.last_rate, 0) = 0
                     AND s.fixed > 0 THEN true END,
           format('TS1443 (not fixed by the sanitizer) per work order, weighted: %s in the first quarter of the period, %s in the last; in %s and %s of the work orders with errors',
                  coalesce(round((100 * s.first_rate)::numeric, 1) || '%', 'no data'),
                  coalesce(round((100 * s.last_rate)::numeric, 1) || '%', 'no data'),
                  coalesce(round((100 * s.first_share)::numeric, 1) || '%', 'no data'),
                  coalesce(round((100 * s.last_share)::numeric, 1) || '%', 'no data'))
      FROM ts1443 s
    UNION ALL
    SELECT 2, 'ts1443_sanitizer_fixed_share',
           CASE WHEN s.fixed + s.learned > 0 THEN s.fixed / (s.fixed + s.learned) END,
           NULL, NULL,
           format('%s of %s weighted work orders with TS1443 had it fixed by the sanitizer',
                  round(s.fixed::numeric), round((s.fixed + s.learned)::numeric))
      FROM ts1443 s
    UNION ALL
    SELECT 3, 'success_rate_band_0.3-0.4', b.last_rate, 0.7, b.last_rate >= 0.7,
           format('weighted success rate of the work orders scored 0.3-0.4 (all proposers) in the last quarter of the period: %s of %s; in the first quarter: %s',
                  coalesce(round((100 * b.last_rate)::numeric, 1) || '%', 'no data'),
                  round(b.last_work_orders::numeric),
                  coalesce(round((100 * b.first_rate)::numeric, 1) || '%', 'no data'))
      FROM band b
    UNION ALL
    SELECT 4, 'threshold_promotions', t.promoted, 1, t.promoted >= 1,
           format('highest promoted threshold: %s',
                  coalesce(t.highest::text, 'none'))
      FROM thresholds t
    UNION ALL
    SELECT 5, 'threshold_experiments_decided', t.promoted + t.rolled_back + t.rejected, NULL, NULL,
           format('%s promoted, %s rolled back after the watch, %s rejected',
                  t.promoted, t.rolled_back, t.rejected)
      FROM thresholds t
    UNION ALL
    SELECT 6, 'storage_bytes_per_1000_work_orders',
           CASE WHEN s.work_orders > 0 THEN s.bytes * 1000.0 / s.work_orders END,
           1048576, CASE WHEN s.work_orders > 0 THEN s.bytes * 1000.0 / s.work_orders < 1048576 END,
           format('%s bytes of log, ledger and windows for %s work orders recorded (whole history)',
                  s.bytes, coalesce(s.work_orders, 0))
      FROM storage s
    UNION ALL
    SELECT 7, 'window_stability', w.value, 0.15, w.value <= 0.15,
           format('%s pairs of consecutive full windows, largest change %s',
                  w.pairs, coalesce(round(w.largest::numeric, 3)::text, 'none'))
      FROM stability w
    UNION ALL
    SELECT 8, 'enhancements_created', l.created, NULL, NULL,
           'texts written by the worker (source auto)' FROM loop l
    UNION ALL
    SELECT 9, 'enhancements_approved', l.approved, NULL, NULL,
           'texts a person approved for testing' FROM loop l
    UNION ALL
    SELECT 10, 'enhancements_promoted', l.promoted, NULL, NULL,
           'texts made live by their A/B test' FROM loop l
    UNION ALL
    SELECT 11, 'enhancements_rolled_back', l.rolled_back, NULL, NULL,
           'live texts taken back (by a watch or rollback_enhancement)' FROM loop l
    UNION ALL
    SELECT 12, 'enhancements_rejected', l.rejected, NULL, NULL,
           'texts rejected by their test or by a person' FROM loop l
    UNION ALL
    SELECT 13, 'rate_reduction:' || r.code,
           CASE WHEN r.before_rate > 0 AND r.after_work_orders > 0 THEN 1 - r.after_rate / r.before_rate END,
           0.4,
           CASE WHEN r.before_rate > 0 AND r.after_work_orders > 0 THEN 1 - r.after_rate / r.before_rate >= 0.4 END,
           format('version %s went live (%s %s); %s per work order before: %s; after: %s',
                  r.new_version, r.action, to_char(r.changed_at, 'YYYY-MM-DD HH24:MI:SS'), r.code,
                  coalesce(round((100 * r.before_rate)::numeric, 1) || '% of '
                           || round(r.before_work_orders::numeric) || ' weighted work orders', 'no work orders'),
                  coalesce(round((100 * r.after_rate)::numeric, 1) || '% of '
                           || round(r.after_work_orders::numeric) || ' weighted work orders', 'no work orders'))
      FROM code_rates r)
SELECT metric, value::float8, target::float8, met, detail FROM report ORDER BY ordinal, metric;
END
$$;
COMMENT ON FUNCTION @extschema@.validation_report(timestamptz) IS
    'The notes'' Phase 3 metrics and the learning loop''s own over the period from since (NULL: everything): TS1443 reduction (first vs last quarter, sanitizer-fixed ones apart), success rate in the 0.3-0.4 band, threshold promotions and decisions, storage bytes per 1,000 work orders, window stability, enhancements created/approved/promoted/rolled back/rejected, and per code whose enhancement went live the reduction of its weighted rate per work order. One row per metric: value, target, met (NULL when it has no target or no data), detail.';

COMMENT ON FUNCTION @extschema@.purge_log(integer) IS
    'Delete up to batch_size proposer_failures rows older than adaptive_prompts.log_retention (0: keep forever) and the log_rollups days that ended before then; returns how many log rows. Never deletes a row not yet folded into the rollups, nor one logged since the start of a running or watched A/B test or threshold experiment. Run by the worker, or from pg_cron after fold_rollups().';
-- ---------------------------------------------------------------------------
-- Issue 14: A/B counting without a shared hot row.  Counts go to striped
-- rows (ab_test_counts); ab_tests keeps the counts of the last decision or
-- look, and watch_looks the looks of the watch taken.
-- ---------------------------------------------------------------------------
ALTER TABLE @extschema@.ab_tests ADD COLUMN watch_looks integer NOT NULL DEFAULT 0;
-- The looks 0.1.0 took: one at each distinct ceil(j x sample_size / 4)
-- reached (lan_demets_pocock), one at sample_size (fixed_alpha).
UPDATE @extschema@.ab_tests
   SET watch_looks = CASE watch_rule
                     WHEN 'fixed_alpha' THEN (watch_work_orders >= sample_size)::integer
                     ELSE (SELECT count(DISTINCT (j * sample_size + 3) / 4)::integer
                             FROM generate_series(1, 4) j
                            WHERE (j * sample_size + 3) / 4 <= watch_work_orders)
                     END
 WHERE watch_work_orders > 0;
COMMENT ON COLUMN @extschema@.ab_tests.candidate_work_orders IS
    'The counts (candidate_*, incumbent_*) the last decision used, written with it; live counts of a running test are in ab_test_progress.';
COMMENT ON COLUMN @extschema@.ab_tests.watch_work_orders IS
    'The counts of the watch (watch_*) its last look used, written with it; live counts are in ab_test_progress.';
COMMENT ON COLUMN @extschema@.ab_tests.watch_looks IS
    'Looks of the watch after a promotion taken so far; the next, look k = watch_looks + 1, is due when the watch has ceil(k x sample_size / 4) work orders (fixed_alpha: one look, at sample_size).';

-- Counts of running tests and watches, striped (issue 14): each backend adds
-- to the row of its stripe, so concurrent callers do not wait on one row.
-- The counts a decision or a look used are written into ab_tests with it.
-- Only the key is indexed, so every update is HOT.
CREATE TABLE @extschema@.ab_test_counts (
    test_id                 bigint NOT NULL REFERENCES @extschema@.ab_tests (id) ON DELETE CASCADE,
    stripe                  integer NOT NULL CHECK (stripe >= 0),
    candidate_work_orders   bigint NOT NULL DEFAULT 0,
    candidate_successes     bigint NOT NULL DEFAULT 0,
    candidate_occurrences   bigint NOT NULL DEFAULT 0,
    candidate_improvement_sum float8 NOT NULL DEFAULT 0,
    incumbent_work_orders   bigint NOT NULL DEFAULT 0,
    incumbent_successes     bigint NOT NULL DEFAULT 0,
    incumbent_occurrences   bigint NOT NULL DEFAULT 0,
    incumbent_improvement_sum float8 NOT NULL DEFAULT 0,
    watch_work_orders       bigint NOT NULL DEFAULT 0,
    watch_successes         bigint NOT NULL DEFAULT 0,
    watch_occurrences       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (test_id, stripe)
) WITH (fillfactor = 30);
COMMENT ON TABLE @extschema@.ab_test_counts IS
    'Live counts of A/B tests, striped: 16 rows per test (created when it starts), each backend adds the work orders it records to the row of its stripe, so concurrent callers do not serialize on one row. A test''s count is the sum over its stripes (view ab_test_progress); the counts a decision or a look of the watch used are copied onto its ab_tests row. Work orders counted after a decision stay here and do not change it.';
COMMENT ON COLUMN @extschema@.ab_test_counts.stripe IS
    'Which backend slots add here (slot modulo 16); two sessions may share a stripe.';

CREATE VIEW @extschema@.ab_test_progress AS
SELECT t.id AS test_id, t.kind, t.subject, t.status, t.checkpoint, t.sample_size,
       t.watch_looks,
       coalesce(sum(c.candidate_work_orders), t.candidate_work_orders)::bigint AS candidate_work_orders,
       coalesce(sum(c.candidate_successes), t.candidate_successes)::bigint AS candidate_successes,
       coalesce(sum(c.candidate_occurrences), t.candidate_occurrences)::bigint AS candidate_occurrences,
       coalesce(sum(c.candidate_improvement_sum), t.candidate_improvement_sum) AS candidate_improvement_sum,
       coalesce(sum(c.incumbent_work_orders), t.incumbent_work_orders)::bigint AS incumbent_work_orders,
       coalesce(sum(c.incumbent_successes), t.incumbent_successes)::bigint AS incumbent_successes,
       coalesce(sum(c.incumbent_occurrences), t.incumbent_occurrences)::bigint AS incumbent_occurrences,
       coalesce(sum(c.incumbent_improvement_sum), t.incumbent_improvement_sum) AS incumbent_improvement_sum,
       coalesce(sum(c.watch_work_orders), t.watch_work_orders)::bigint AS watch_work_orders,
       coalesce(sum(c.watch_successes), t.watch_successes)::bigint AS watch_successes,
       coalesce(sum(c.watch_occurrences), t.watch_occurrences)::bigint AS watch_occurrences
  FROM @extschema@.ab_tests t
  LEFT JOIN @extschema@.ab_test_counts c ON c.test_id = t.id
 GROUP BY t.id;
COMMENT ON VIEW @extschema@.ab_test_progress IS
    'Live counts of every A/B test: the sums of its stripes in ab_test_counts (a test without stripes, decided before 0.2.0: the counts on its row). They include work orders recorded after a decision, which the decision ignored; the counts a decision or a look used are on the ab_tests row.';

-- The stripes of the tests open now; stripe 0 starts from the row's counts,
-- so nothing counted under 0.1.0 is lost.
INSERT INTO @extschema@.ab_test_counts
       (test_id, stripe, candidate_work_orders, candidate_successes, candidate_occurrences,
        candidate_improvement_sum, incumbent_work_orders, incumbent_successes,
        incumbent_occurrences, incumbent_improvement_sum, watch_work_orders,
        watch_successes, watch_occurrences)
SELECT t.id, s.stripe,
       CASE WHEN s.stripe = 0 THEN t.candidate_work_orders ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.candidate_successes ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.candidate_occurrences ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.candidate_improvement_sum ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.incumbent_work_orders ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.incumbent_successes ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.incumbent_occurrences ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.incumbent_improvement_sum ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.watch_work_orders ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.watch_successes ELSE 0 END,
       CASE WHEN s.stripe = 0 THEN t.watch_occurrences ELSE 0 END
  FROM @extschema@.ab_tests t
 CROSS JOIN generate_series(0, 15) AS s (stripe)
 WHERE t.status IN ('running', 'watching');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_test_counts', '');

CREATE FUNCTION @extschema@.settle_ab_tests()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_settle_ab_tests'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.settle_ab_tests() IS
    'Take the decisions and looks of the watch that are due on the counts of the open A/B tests but were not taken (the last concurrent work orders of a checkpoint may not see each other''s counts); returns how many were taken. The worker calls it every cycle; without the worker, schedule it (e.g. with pg_cron) or let the next counted work order take them.';
REVOKE ALL ON FUNCTION @extschema@.settle_ab_tests() FROM PUBLIC;
