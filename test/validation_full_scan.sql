-- The validation report as a full scan of the log (the report of 0.1.0,
-- with exact numeric weights): the reference that test/pgtap/validation_rollups.sql
-- and bench/scale.sh compare validation_report() with.  Not part of the
-- extension; creates validation_report_full_scan(since) in the current schema.
CREATE FUNCTION validation_report_full_scan(since timestamptz DEFAULT NULL)
RETURNS TABLE (metric text, value float8, target float8, met boolean, detail text)
LANGUAGE sql STABLE
AS $$
WITH
-- The logged work orders of the period, each standing for 1/sample_rate.
log AS MATERIALIZED (
    SELECT f.created_at, 1::numeric / f.sample_rate::numeric AS weight, f.outcome,
           f.complexity_band, f.error_codes, f.excluded_error_codes
      FROM proposer_failures f
     WHERE since IS NULL OR f.created_at >= since),
-- The period runs from since (or the first logged work order) to the last
-- logged work order; its first and last quarters are compared.
period AS (
    SELECT CASE WHEN since IS NULL OR NOT isfinite(since) THEN min(created_at) ELSE since END AS lo,
           max(created_at) AS hi
      FROM log),
-- Each logged row with whether it falls in the first or the last quarter.
quarters AS (
    SELECT l.*, l.created_at <= p.lo + (p.hi - p.lo) / 4 AS first_quarter,
           l.created_at >= p.hi - (p.hi - p.lo) / 4 AS last_quarter
      FROM log l, period p),
-- TS1443 per work order, and among the work orders that ended with errors
-- (failures and partials).  A TS1443 that the sanitizer fixed is in
-- excluded_error_codes and counted apart.
ts1443 AS (
    SELECT coalesce(sum(weight) FILTER (WHERE first_quarter AND 'TS1443' = ANY (error_codes)), 0)
             / sum(weight) FILTER (WHERE first_quarter) AS first_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND 'TS1443' = ANY (error_codes)), 0)
             / sum(weight) FILTER (WHERE last_quarter) AS last_rate,
           coalesce(sum(weight) FILTER (WHERE first_quarter AND outcome <> 'success' AND 'TS1443' = ANY (error_codes)), 0)
             / sum(weight) FILTER (WHERE first_quarter AND outcome <> 'success') AS first_share,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND outcome <> 'success' AND 'TS1443' = ANY (error_codes)), 0)
             / sum(weight) FILTER (WHERE last_quarter AND outcome <> 'success') AS last_share,
           coalesce(sum(weight) FILTER (WHERE 'TS1443' = ANY (error_codes)), 0) AS learned,
           coalesce(sum(weight) FILTER (WHERE 'TS1443' = ANY (excluded_error_codes)), 0) AS fixed
      FROM quarters),
band AS (
    SELECT coalesce(sum(weight) FILTER (WHERE first_quarter AND outcome = 'success'), 0)
             / sum(weight) FILTER (WHERE first_quarter) AS first_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter AND outcome = 'success'), 0)
             / sum(weight) FILTER (WHERE last_quarter) AS last_rate,
           coalesce(sum(weight) FILTER (WHERE last_quarter), 0) AS last_work_orders
      FROM quarters WHERE complexity_band = '0.3-0.4'),
thresholds AS (
    SELECT count(*) FILTER (WHERE status = 'promoted') AS promoted,
           count(*) FILTER (WHERE status = 'rolled_back') AS rolled_back,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           max(new_threshold) FILTER (WHERE status = 'promoted') AS highest
      FROM threshold_experiments
     WHERE decision_rule <> 'manual' AND decided_at IS NOT NULL
       AND status IN ('promoted', 'rejected', 'rolled_back')
       AND (since IS NULL OR decided_at >= since)),
-- Storage of the tables that grow with work orders (log, ledger, windows)
-- over every work order ever recorded: the per-key sequences of the
-- windows count each one once.
storage AS (
    SELECT pg_total_relation_size('proposer_failures'::regclass)
           + pg_total_relation_size('work_orders'::regclass)
           + pg_total_relation_size('proposer_attempts'::regclass)
           + pg_total_relation_size('proposer_success_metrics'::regclass) AS bytes,
           (SELECT sum(m.last_seq) FROM proposer_success_metrics m) AS work_orders),
-- Window stability: the ledger has every work order with an id, logged or
-- not.  Each (proposer, band)'s work orders, in the order recorded, are cut
-- into blocks of window_size: consecutive windows.  The value is the mean
-- absolute change of the success rate from one full block to the next.
ledger AS (
    SELECT w.proposer_name, w.complexity_band, m.window_size,
           (w.outcome = 'success')::integer AS success,
           (row_number() OVER (PARTITION BY w.proposer_name, w.complexity_band
                               ORDER BY w.recorded_at, w.work_order_id) - 1) / m.window_size AS block
      FROM work_orders w
      JOIN proposer_success_metrics m
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
    SELECT (SELECT count(*) FROM enhancement_versions v
             WHERE v.source = 'auto' AND (since IS NULL OR v.created_at >= since)) AS created,
           (SELECT count(*) FROM enhancement_versions v
             WHERE v.approved_at IS NOT NULL AND (since IS NULL OR v.approved_at >= since)) AS approved,
           (SELECT count(*) FROM enhancement_versions v
             WHERE v.status = 'rejected' AND (since IS NULL OR v.decided_at >= since)) AS rejected,
           (SELECT count(*) FROM version_history h
             WHERE h.kind = 'enhancement' AND h.action = 'promoted'
               AND (since IS NULL OR h.changed_at >= since)) AS promoted,
           (SELECT count(*) FROM version_history h
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
      FROM version_history h
     WHERE h.kind = 'enhancement'),
targeted AS (
    SELECT DISTINCT ON (c.code) c.code, c.new_version, c.action, c.changed_at, c.previous_change,
           c.next_change, coalesce(t.started_at, c.changed_at) AS era_end
      FROM live_changes c
      LEFT JOIN ab_tests t ON t.id = c.ab_test_id
     WHERE c.new_version IS NOT NULL AND c.action IN ('set', 'promoted')
       AND (since IS NULL OR c.changed_at >= since)
     ORDER BY c.code, c.changed_at DESC),
code_rates AS (
    SELECT t.*, b.rate AS before_rate, b.work_orders AS before_work_orders,
           a.rate AS after_rate, a.work_orders AS after_work_orders
      FROM targeted t
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(l.weight) FILTER (WHERE t.code = ANY (l.error_codes)), 0) / sum(l.weight) AS rate,
                 coalesce(sum(l.weight), 0) AS work_orders
            FROM log l
           WHERE l.created_at < t.era_end
             AND (t.previous_change IS NULL OR l.created_at >= t.previous_change)) b
      CROSS JOIN LATERAL (
          SELECT coalesce(sum(l.weight) FILTER (WHERE t.code = ANY (l.error_codes)), 0) / sum(l.weight) AS rate,
                 coalesce(sum(l.weight), 0) AS work_orders
            FROM log l
           WHERE l.created_at >= t.changed_at
             AND (t.next_change IS NULL OR l.created_at < t.next_change)) a),
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
SELECT metric, value::float8, target::float8, met, detail FROM report ORDER BY ordinal, metric
$$;
