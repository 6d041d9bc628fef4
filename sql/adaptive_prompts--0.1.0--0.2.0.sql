/* adaptive_prompts 0.1.0 -> 0.2.0: upgrade script */

\echo Use "ALTER EXTENSION adaptive_prompts UPDATE TO '0.2.0'" to load this file. \quit

/*
 * Every change here is also in adaptive_prompts--0.2.0.sql, in the same
 * order of columns: test/integration/upgrade.sh checks that an updated
 * install and a fresh one have the same objects, definitions, comments,
 * privileges and seeded rows.
 */

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
