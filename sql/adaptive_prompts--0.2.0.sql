/* adaptive_prompts 0.2.0: install script */

\echo Use "CREATE EXTENSION adaptive_prompts" to load this file. \quit

/*
 * Every object lives in @extschema@ and every reference is qualified, so
 * nothing here or in the C code depends on the caller's search_path.
 * No table is readable by PUBLIC: applications go through the SECURITY
 * DEFINER functions at the end of the script.
 */

-- ---------------------------------------------------------------------------
-- Proposers
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.proposers (
    name                 text PRIMARY KEY
                         CHECK (name <> '' AND octet_length(name) <= 200),
    complexity_threshold float8 NOT NULL DEFAULT 0.3
                         CHECK (complexity_threshold >= 0 AND complexity_threshold <= 1),
    cost_rank            integer NOT NULL DEFAULT 100 CHECK (cost_rank >= 0),
    active               boolean NOT NULL DEFAULT true,
    auto_registered      boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.proposers IS
    'Models that can take work orders. complexity_threshold is the highest complexity score routed to the proposer; cost_rank orders proposers by price (lower = cheaper). Auto-registered proposers are inactive until register_proposer() is called.';

-- ---------------------------------------------------------------------------
-- Work-order log: every failure, a sample of partials and successes
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.proposer_failures (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at               timestamptz NOT NULL DEFAULT now(),
    work_order_id            text,
    proposer_name            text NOT NULL,
    complexity_score         float8 NOT NULL,
    complexity_band          text NOT NULL,
    initial_errors           integer NOT NULL,
    final_errors             integer NOT NULL,
    stalled                  boolean NOT NULL,
    improvement_rate         float8 NOT NULL,
    outcome                  text NOT NULL
                             CHECK (outcome IN ('success', 'partial', 'failure')),
    error_codes              text[] NOT NULL DEFAULT '{}',
    excluded_error_codes     text[] NOT NULL DEFAULT '{}',
    error_samples            jsonb NOT NULL DEFAULT '[]',
    prompt_version           text,
    prompt_enhancements_used text[] NOT NULL DEFAULT '{}',
    sanitizer_changes        text[] NOT NULL DEFAULT '{}',
    is_sampled_success       boolean NOT NULL DEFAULT false,
    sample_rate              float8 NOT NULL
                             CHECK (sample_rate > 0 AND sample_rate <= 1)
);
-- BRIN: the log is append-only in time order, so a block-range index on
-- created_at costs almost nothing per insert and serves every "since" query.
CREATE INDEX proposer_failures_created_at_brin
    ON @extschema@.proposer_failures USING brin (created_at) WITH (autosummarize = on);
COMMENT ON TABLE @extschema@.proposer_failures IS
    'Logged work orders: every failure, and successes/partials sampled at adaptive_prompts.success_sample_rate / partial_sample_rate. A row stands for 1/sample_rate work orders.';
COMMENT ON COLUMN @extschema@.proposer_failures.sample_rate IS
    'Probability that this row was logged (1 for failures); weight a row by 1/sample_rate.';
COMMENT ON COLUMN @extschema@.proposer_failures.excluded_error_codes IS
    'Codes removed from error_codes because a reported sanitizer change accounts for them (sanitizer_error_map).';

-- ---------------------------------------------------------------------------
-- Daily rollups of the log (SPEC 6; README "Retention and rollups")
-- ---------------------------------------------------------------------------
-- Weighted counts per UTC day x proposer x band x kind x code, folded in
-- from the log's new rows by fold_rollups() (or the worker).  The analyses
-- read the rollups of whole days plus the log's rows not folded yet, and
-- give the answers of a full scan of the log.  record_work_order never
-- touches these tables.
CREATE TABLE @extschema@.log_rollups (
    day               timestamptz NOT NULL,  -- midnight UTC
    kind              text NOT NULL CHECK (kind IN ('total', 'error', 'used')),
    code              text NOT NULL,         -- '' for total
    proposer_name     text NOT NULL,
    complexity_band   text NOT NULL,
    work_orders       bigint NOT NULL,       -- logged rows
    weight            numeric NOT NULL,      -- sum of 1/sample_rate
    occurrence_rows   bigint NOT NULL DEFAULT 0,
    occurrence_weight numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (day, kind, code, proposer_name, complexity_band)
);
COMMENT ON TABLE @extschema@.log_rollups IS
    'Daily rollups of proposer_failures, folded by fold_rollups(). kind total: every logged row (code ''''); error: rows whose error_codes hold code; used: rows that used code''s enhancement (bare code or CODE@N, N > 0), with occurrence_rows/occurrence_weight those of them whose error_codes hold code. weight sums 1/sample_rate as numeric, so sums are exact.';

-- The newest messages of each code, with and without its enhancement, kept
-- by the fold so that recent_failures does not search the log.
CREATE TABLE @extschema@.log_recent_messages (
    error_code  text NOT NULL,
    despite     boolean NOT NULL,   -- the work order used the code's enhancement
    created_at  timestamptz NOT NULL,
    log_id      bigint NOT NULL,
    ordinality  bigint NOT NULL,
    message     text NOT NULL,
    PRIMARY KEY (error_code, despite, log_id, ordinality)
);
COMMENT ON TABLE @extschema@.log_recent_messages IS
    'The 5 newest (created_at, then id) error_samples messages per error code and despite (whether the work order used the code''s enhancement) among the folded proposer_failures rows; fold_rollups() keeps it, analyze_enhancement_effectiveness() reads it for recent_failures.';

CREATE TABLE @extschema@.log_rollup_state (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    folded_through bigint NOT NULL DEFAULT 0,
    next_bound     bigint NOT NULL DEFAULT 0,
    folded_at      timestamptz,
    purged_before  timestamptz
);
COMMENT ON TABLE @extschema@.log_rollup_state IS
    'Watermark of the rollups: every proposer_failures row with id <= folded_through is in log_rollups, no other. next_bound is the highest id that was final (no transaction could still insert a lower one) when the last fold ended; the next fold folds up to it. No row: nothing folded yet (the first fold creates it).';
COMMENT ON COLUMN @extschema@.log_rollup_state.purged_before IS
    'purge_log() may have deleted log rows created before this time, never one created at or after it (NULL: nothing purged). validation_report() counts logged work orders from here on.';

-- What validation_report() needs of the log, per UTC hour: its periods
-- start and end at any time, so it reads whole hours here and only the
-- hours its bounds cut through from the log (README "Retention and
-- rollups").  Folded by the same fold, in the same transaction as the
-- watermark.
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

-- ---------------------------------------------------------------------------
-- Rolling windows: a ring of window_size slots per (proposer, band)
-- ---------------------------------------------------------------------------
-- Slots are updated in place.  Only the key columns are indexed, so every
-- update is HOT; the low fillfactor leaves room on each page for it.
CREATE TABLE @extschema@.proposer_attempts (
    proposer_name    text NOT NULL,
    complexity_band  text NOT NULL,
    slot             integer NOT NULL,
    seq              bigint NOT NULL,
    was_success      boolean NOT NULL,
    improvement_rate float8 NOT NULL,
    recorded_at      timestamptz NOT NULL,
    PRIMARY KEY (proposer_name, complexity_band, slot)
) WITH (fillfactor = 50);
COMMENT ON TABLE @extschema@.proposer_attempts IS
    'Rolling window of the most recent attempts per (proposer, band), kept as a ring of adaptive_prompts.window_size slots. seq is strictly increasing per key (never order a window by time: timestamps tie inside a transaction).';
COMMENT ON COLUMN @extschema@.proposer_attempts.seq IS
    'Per-key attempt number, strictly monotonic; the window is the window_size highest seq values.';

CREATE TABLE @extschema@.proposer_success_metrics (
    proposer_name        text NOT NULL,
    complexity_band      text NOT NULL,
    attempts             integer NOT NULL,
    successes            integer NOT NULL,
    success_rate         float8,
    avg_improvement_rate float8,
    improvement_sum      float8 NOT NULL DEFAULT 0,
    last_seq             bigint NOT NULL DEFAULT 0,
    window_size          integer NOT NULL,
    recorded_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposer_name, complexity_band)
) WITH (fillfactor = 50);
COMMENT ON TABLE @extschema@.proposer_success_metrics IS
    'Aggregate of exactly the attempts in each (proposer, band) window, updated incrementally by record_work_order under the row lock of this row, which serializes that key only.';

-- ---------------------------------------------------------------------------
-- Idempotency ledger
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.work_orders (
    work_order_id   text PRIMARY KEY,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    proposer_name   text NOT NULL,
    outcome         text NOT NULL,
    complexity_band text NOT NULL,
    logged          boolean NOT NULL
);
CREATE INDEX work_orders_recorded_at_brin
    ON @extschema@.work_orders USING brin (recorded_at) WITH (autosummarize = on);
COMMENT ON TABLE @extschema@.work_orders IS
    'One row per recorded work_order_id, written first by record_work_order so that repeated and concurrent calls are idempotent. Kept adaptive_prompts.work_order_retention, then purged in batches.';

-- ---------------------------------------------------------------------------
-- Prompt versions, enhancements and their history
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.prompt_versions (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version              text NOT NULL UNIQUE
                         CHECK (version <> '' AND octet_length(version) <= 200),
    created_at           timestamptz NOT NULL DEFAULT now(),
    proposer_name        text NOT NULL,
    base_prompt          text NOT NULL CHECK (base_prompt <> ''),
    system_changes       text,
    is_active            boolean NOT NULL DEFAULT false,
    test_sample_size     integer NOT NULL DEFAULT 0,
    test_success_rate    float8,
    test_avg_improvement float8,
    promoted_at          timestamptz,
    replaced_version     text,
    created_by           text NOT NULL DEFAULT current_user
);
CREATE UNIQUE INDEX prompt_versions_one_active
    ON @extschema@.prompt_versions (proposer_name) WHERE is_active;
CREATE INDEX prompt_versions_proposer ON @extschema@.prompt_versions (proposer_name, created_at);
COMMENT ON TABLE @extschema@.prompt_versions IS
    'Base prompts per proposer. At most one active version per proposer (unique partial index).';

CREATE TABLE @extschema@.prompt_enhancements (
    error_code       text PRIMARY KEY
                     CHECK (error_code <> '' AND octet_length(error_code) <= 64),
    enhancement_text text NOT NULL,
    priority         integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 100),
    active           boolean NOT NULL DEFAULT true,
    source           text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'auto')),
    version          integer NOT NULL DEFAULT 1,
    times_used       bigint NOT NULL DEFAULT 0,
    last_updated     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @extschema@.prompt_enhancements IS
    'The live instruction per compiler error code (active = false: none is live). Every text ever live or proposed is also a row of enhancement_versions. times_used is derived from the logged work orders (each weighted 1/sample_rate) by refresh_enhancement_stats(), never updated per call.';

CREATE TABLE @extschema@.enhancement_versions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    error_code       text NOT NULL,
    version          integer NOT NULL CHECK (version > 0),  -- 0 means "none" in CODE@0
    enhancement_text text NOT NULL CHECK (enhancement_text <> ''),
    priority         integer NOT NULL DEFAULT 5 CHECK (priority BETWEEN 0 AND 100),
    source           text NOT NULL CHECK (source IN ('manual', 'auto')),
    status           text NOT NULL
                     CHECK (status IN ('pending_approval', 'testing', 'active',
                                       'retired', 'rejected', 'rolled_back')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    created_by       text NOT NULL DEFAULT current_user,
    replaced_version integer,        -- live version this one replaced when it went live
    approved_at      timestamptz,
    approved_by      text,           -- the person who approved it for testing
    decided_at       timestamptz,    -- last change of status, by whom and why
    decided_by       text,
    decision_reason  text,
    job_id           bigint,
    UNIQUE (error_code, version)
);
CREATE UNIQUE INDEX enhancement_versions_one_active
    ON @extschema@.enhancement_versions (error_code) WHERE status = 'active';
-- One version at most per improvement job, whatever happens to the worker.
CREATE UNIQUE INDEX enhancement_versions_one_per_job
    ON @extschema@.enhancement_versions (job_id) WHERE job_id IS NOT NULL;
COMMENT ON TABLE @extschema@.enhancement_versions IS
    'Append-only history of every enhancement text proposed or live for an error code, with who decided what and why. Texts are never changed or deleted; status moves pending_approval -> testing -> active -> retired/rolled_back (or -> rejected); every change of the live text is also a row of version_history.';
COMMENT ON COLUMN @extschema@.enhancement_versions.job_id IS
    'The improvement_jobs row whose answer this automatic text is (source = auto); at most one version per job.';

-- Each proposer's most frequent error codes, refreshed off the hot path and
-- read by build_enhanced_prompt(error_codes => NULL).
CREATE TABLE @extschema@.proposer_frequent_codes (
    proposer_name    text NOT NULL,
    error_code       text NOT NULL,
    occurrence_count bigint NOT NULL,
    refreshed_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (proposer_name, error_code)
);
COMMENT ON TABLE @extschema@.proposer_frequent_codes IS
    'Each proposer''s most frequent error codes of the last 30 days (weighted), refreshed by refresh_enhancement_stats(); read by build_enhanced_prompt when no codes are given.';

-- ---------------------------------------------------------------------------
-- A/B tests of prompt versions and enhancement versions
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.ab_tests (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind                    text NOT NULL CHECK (kind IN ('prompt_version', 'enhancement')),
    subject                 text NOT NULL,   -- proposer name or error code
    candidate               text NOT NULL,   -- prompt version or enhancement version number
    incumbent               text,            -- NULL: no enhancement (new code)
    candidate_version_id    bigint,          -- enhancement_versions.id of the candidate
    salt                    bigint NOT NULL,
    sample_size             integer NOT NULL CHECK (sample_size > 0),
    alpha                   float8 NOT NULL,
    -- Rules copied from adaptive_prompts.ab_decision_rule and
    -- adaptive_prompts.watch_rule when the test starts (SPEC 4.2).
    decision_rule           text NOT NULL DEFAULT 'lan_demets_obf'
                            CHECK (decision_rule IN ('fixed_alpha', 'lan_demets_obf',
                                                     'lan_demets_pocock')),
    watch_rule              text NOT NULL DEFAULT 'lan_demets_pocock'
                            CHECK (watch_rule IN ('fixed_alpha', 'lan_demets_pocock')),
    status                  text NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'promoted', 'rejected',
                                              'watching', 'rolled_back', 'aborted')),
    -- The next decision is taken when both arms have checkpoint x sample_size
    -- work orders; a test is extended at most to 4 x sample_size.
    checkpoint              integer NOT NULL DEFAULT 1 CHECK (checkpoint BETWEEN 1 AND 4),
    candidate_work_orders   bigint NOT NULL DEFAULT 0,
    candidate_successes     bigint NOT NULL DEFAULT 0,
    candidate_occurrences   bigint NOT NULL DEFAULT 0,   -- work orders with the targeted code
    candidate_improvement_sum float8 NOT NULL DEFAULT 0,
    incumbent_work_orders   bigint NOT NULL DEFAULT 0,
    incumbent_successes     bigint NOT NULL DEFAULT 0,
    incumbent_occurrences   bigint NOT NULL DEFAULT 0,
    incumbent_improvement_sum float8 NOT NULL DEFAULT 0,
    watch_work_orders       bigint NOT NULL DEFAULT 0,
    watch_successes         bigint NOT NULL DEFAULT 0,
    watch_occurrences       bigint NOT NULL DEFAULT 0,
    decision_reason         text,
    p_value                 float8,
    watch_p_value           float8,
    started_at              timestamptz NOT NULL DEFAULT now(),
    decided_at              timestamptz,
    watch_ended_at          timestamptz,
    started_by              text,
    watch_looks             integer NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX ab_tests_one_open
    ON @extschema@.ab_tests (kind, subject) WHERE status IN ('running', 'watching');
COMMENT ON TABLE @extschema@.ab_tests IS
    'A/B tests of a candidate prompt version or enhancement version against the incumbent. Arms are assigned by hash(salt, work_order_id); nothing is stored per work order. running -> promoted/rejected/aborted; promoted tests are watched (watching) and end promoted or rolled_back. decision_reason accumulates every decision with both arms'' numbers, Wilson intervals and the p-value.';
COMMENT ON COLUMN @extschema@.ab_tests.decision_rule IS
    'Rule copied from adaptive_prompts.ab_decision_rule when the test started: lan_demets_obf or lan_demets_pocock (group-sequential: Lan-DeMets alpha spending over the four checkpoints, overall false-promotion rate at most alpha) or fixed_alpha (p < alpha at every checkpoint, about 11% false promotions at alpha 0.05).';
COMMENT ON COLUMN @extschema@.ab_tests.watch_rule IS
    'Rule of the watch after a promotion, copied from adaptive_prompts.watch_rule when the test started: lan_demets_pocock (looks after 1/4, 2/4, 3/4 and all of the watch, Pocock-shaped spending of alpha) or fixed_alpha (one test at the end).';
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

-- ---------------------------------------------------------------------------
-- Threshold experiments
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.threshold_experiments (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at           timestamptz NOT NULL DEFAULT now(),
    proposer_name        text NOT NULL,
    old_threshold        float8 NOT NULL
                         CHECK (old_threshold >= 0 AND old_threshold <= 1),
    new_threshold        float8 NOT NULL
                         CHECK (new_threshold >= 0 AND new_threshold <= 1),
    test_sample_size     integer NOT NULL DEFAULT 30 CHECK (test_sample_size > 0),
    confidence_threshold float8 NOT NULL DEFAULT 0.7
                         CHECK (confidence_threshold > 0 AND confidence_threshold <= 1),
    decision_rule        text NOT NULL DEFAULT 'threshold'
                         CHECK (decision_rule IN ('threshold', 'wilson', 'sprt', 'manual')),
    sprt_delta           float8,
    sprt_alpha           float8,
    sprt_beta            float8,
    -- Rule of the watch after a promotion and its parameters, copied when the
    -- experiment starts: sprt (roll back on evidence that the rate is below
    -- the bar: SPRT of watch_p_good against watch_p_bad, final count
    -- calibrated exactly) or below_bar (rate < confidence at the end).
    watch_rule           text NOT NULL DEFAULT 'sprt'
                         CHECK (watch_rule IN ('below_bar', 'sprt')),
    watch_p_good         float8,
    watch_p_bad          float8,
    watch_alpha          float8,
    watch_beta           float8,
    status               text NOT NULL DEFAULT 'running'
                         CHECK (status IN ('running', 'promoted', 'rejected',
                                           'aborted', 'rolled_back', 'manual')),
    current_sample_count integer NOT NULL DEFAULT 0,
    current_successes    integer NOT NULL DEFAULT 0,
    current_success_rate float8,
    watching             boolean NOT NULL DEFAULT false,
    watch_sample_count   integer NOT NULL DEFAULT 0,
    watch_successes      integer NOT NULL DEFAULT 0,
    decided_at           timestamptz,
    watch_ended_at       timestamptz,
    decision_reason      text,
    decided_by           text,
    started_by           text,
    watch_reason         text,
    CHECK (current_successes <= current_sample_count),
    CHECK (watch_successes <= watch_sample_count),
    CHECK (new_threshold > old_threshold OR status = 'manual'),
    CHECK (NOT watching OR status = 'promoted'),
    CHECK (decision_rule <> 'sprt' OR
           (sprt_delta > 0 AND sprt_alpha > 0 AND sprt_alpha < 1
            AND sprt_beta > 0 AND sprt_beta < 1)),
    CHECK (watch_rule <> 'sprt' OR status = 'manual' OR
           (watch_p_bad > 0 AND watch_p_bad < watch_p_good AND watch_p_good < 1
            AND watch_alpha > 0 AND watch_alpha < 1
            AND watch_beta > 0 AND watch_beta < 1))
);
CREATE UNIQUE INDEX threshold_experiments_one_open
    ON @extschema@.threshold_experiments (proposer_name)
    WHERE status = 'running' OR watching;
CREATE INDEX threshold_experiments_proposer
    ON @extschema@.threshold_experiments (proposer_name, started_at);
COMMENT ON TABLE @extschema@.threshold_experiments IS
    'Routing-threshold trials. At most one running (or watched after promotion) experiment per proposer. Counts are exact integers; the decision rule and its parameters are copied here when the experiment starts. status = manual records a direct set_threshold().';
COMMENT ON COLUMN @extschema@.threshold_experiments.decision_rule IS
    'Rule copied from adaptive_prompts.decision_rule when the experiment started (threshold, wilson, sprt; manual for set_threshold rows). A later reload does not change a running decision.';
COMMENT ON COLUMN @extschema@.threshold_experiments.watching IS
    'True after a promotion while the band is watched for test_sample_size more work orders; the watch ends with watching = false, or with status rolled_back when they show (by watch_rule) that the success rate is below confidence_threshold.';
COMMENT ON COLUMN @extschema@.threshold_experiments.watch_rule IS
    'Rule of the watch after a promotion, copied from adaptive_prompts.watch_rule when the experiment started: sprt (Wald''s test of watch_p_good = confidence + 0.05 against watch_p_bad = confidence - 0.15 after every watched work order, and at the end a final count calibrated so that the false-rollback rate at watch_p_good is at most watch_alpha) or below_bar (roll back when the watched rate is below the confidence at the end).';
COMMENT ON COLUMN @extschema@.threshold_experiments.watch_reason IS
    'How the watch after a promotion ended: kept, rolled back or aborted, with the numbers.';

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

-- ---------------------------------------------------------------------------
-- Auto-improvement: the worker's queue and the audit of runs
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.improvement_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT now(),
    trigger        text NOT NULL
                   CHECK (trigger IN ('manual', 'cron', 'failure_count', 'effectiveness_drop')),
    jobs_enqueued  integer NOT NULL DEFAULT 0,
    improve_jobs   integer NOT NULL DEFAULT 0,
    create_jobs    integer NOT NULL DEFAULT 0,
    jobs_skipped   integer NOT NULL DEFAULT 0,
    failure_log_id bigint NOT NULL DEFAULT 0,
    finished_at    timestamptz,
    started_by     text
);
COMMENT ON TABLE @extschema@.improvement_runs IS
    'Audit of each auto-improvement analysis run: what started it (manual, cron, or the worker''s own failure_count / effectiveness_drop triggers), the jobs it enqueued, and when the last of them ended.';
COMMENT ON COLUMN @extschema@.improvement_runs.jobs_skipped IS
    'Candidates left out because adaptive_prompts.max_jobs_per_run was reached or an open job for the code appeared meanwhile.';
COMMENT ON COLUMN @extschema@.improvement_runs.failure_log_id IS
    'Highest proposer_failures.id when the run started; the worker''s failure_count trigger counts the failures logged after it.';
COMMENT ON COLUMN @extschema@.improvement_runs.finished_at IS
    'When the last of the run''s jobs ended (done, failed or cancelled); NULL while one is queued or running. A run that enqueued nothing ends when it starts.';

CREATE TABLE @extschema@.improvement_jobs (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id                      bigint,
    kind                        text NOT NULL CHECK (kind IN ('improve', 'create')),
    error_code                  text NOT NULL,
    status                      text NOT NULL DEFAULT 'queued'
                                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts                    integer NOT NULL DEFAULT 0,
    next_attempt_at             timestamptz NOT NULL DEFAULT now(),
    context                     jsonb NOT NULL DEFAULT '{}',
    claim_token                 uuid,
    model                       text,
    result                      text,
    outcome                     text
                                CHECK (outcome IN ('version_created', 'kept_as_is', 'answer_rejected')),
    outcome_reason              text,
    enhancement_version_id      bigint,
    http_status                 integer,
    request_id                  text,
    error_type                  text,
    last_error                  text,
    stop_reason                 text,
    input_tokens                bigint,
    output_tokens               bigint,
    cache_creation_input_tokens bigint,
    cache_read_input_tokens     bigint,
    answered_at                 timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    started_at                  timestamptz,
    last_attempt_at             timestamptz,
    finished_at                 timestamptz,
    cancelled_by                text,
    CHECK (outcome IS NULL OR status = 'done')
);
CREATE UNIQUE INDEX improvement_jobs_one_open
    ON @extschema@.improvement_jobs (error_code) WHERE status IN ('queued', 'running');
CREATE INDEX improvement_jobs_queue
    ON @extschema@.improvement_jobs (next_attempt_at) WHERE status = 'queued';
CREATE INDEX improvement_jobs_run
    ON @extschema@.improvement_jobs (run_id);
CREATE INDEX improvement_jobs_answered_at
    ON @extschema@.improvement_jobs (answered_at) WHERE answered_at IS NOT NULL;
COMMENT ON TABLE @extschema@.improvement_jobs IS
    'Queue of Claude requests (improve an enhancement, create one for a new code). At most one open (queued or running) job per error code. context holds the data the meta-prompt is built from. Only the background worker moves a job from queued to running and on; cancel_job() cancels it.';
COMMENT ON COLUMN @extschema@.improvement_jobs.attempts IS
    'Requests started for the job, counted when the worker claims it (so a job that crashes the worker cannot loop forever); at most adaptive_prompts.max_attempts.';
COMMENT ON COLUMN @extschema@.improvement_jobs.claim_token IS
    'Fresh random token stored by each claim; the worker writes a result only while status = running and the token is still its own, so a stale or cancelled claim is never applied.';
COMMENT ON COLUMN @extschema@.improvement_jobs.result IS
    'The model''s answer (the concatenated text blocks), stored as data and never executed.';
COMMENT ON COLUMN @extschema@.improvement_jobs.outcome IS
    'What a done job led to: version_created (enhancement_version_id), kept_as_is (the model answered KEEP_AS_IS) or answer_rejected (no version: outcome_reason says why, e.g. stop_reason max_tokens or refusal, an empty answer, too many words). NULL unless status = done.';
COMMENT ON COLUMN @extschema@.improvement_jobs.request_id IS
    'The API''s request-id response header of the last attempt, for Anthropic support.';
COMMENT ON COLUMN @extschema@.improvement_jobs.error_type IS
    'Why the last attempt failed: the API''s error.type (e.g. rate_limit_error, invalid_request_error) or the worker''s own (timeout, network_error, response_too_large, malformed_response, worker_restarted, ...). last_error has the message.';
COMMENT ON COLUMN @extschema@.improvement_jobs.answered_at IS
    'When the API answered with token usage; the usage counts toward adaptive_prompts.daily_token_budget on that UTC day, also when the job was cancelled meanwhile.';

-- ---------------------------------------------------------------------------
-- Sanitizer: which compiler codes a sanitizer change accounts for
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.sanitizer_error_map (
    change     text NOT NULL,
    error_code text NOT NULL,
    seeded     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (change, error_code)
);
COMMENT ON TABLE @extschema@.sanitizer_error_map IS
    'Compiler error codes that a sanitizer change accounts for; record_work_order moves them from error_codes to excluded_error_codes when the change is reported.';

-- Seeded with the codes TypeScript reports for each mechanical breakage the
-- sanitizer fixes (see the typescript package's diagnostic messages).
INSERT INTO @extschema@.sanitizer_error_map (change, error_code, seeded) VALUES
    ('unquoted_module_declarations', 'TS1443', true),  -- Module declaration names may only use ' or " quoted strings.
    ('unquoted_module_declarations', 'TS2819', true),  -- declare module @scope/pkg: Namespace name cannot be 'module'.
    ('smart_double_quotes', 'TS1127', true),           -- Invalid character.
    ('smart_double_quotes', 'TS1002', true),           -- Unterminated string literal (“x").
    ('smart_single_quotes', 'TS1127', true),
    ('smart_single_quotes', 'TS1002', true),
    ('unicode_dashes', 'TS1127', true),
    ('unclosed_template_literals', 'TS1160', true);    -- Unterminated template literal.

-- ---------------------------------------------------------------------------
-- A small statistics sample for the log and the ledger.  ANALYZE of a wide
-- table holds a snapshot, and while it does, the in-place updates of the
-- window tables cannot prune old row versions; 3,000 sampled rows keep
-- ANALYZE short and are plenty for the extension's queries on them.
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    col record;
BEGIN
    FOR col IN
        SELECT a.attrelid::pg_catalog.regclass AS rel, a.attname
          FROM pg_catalog.pg_attribute a
         WHERE a.attrelid IN ('@extschema@.proposer_failures'::pg_catalog.regclass,
                              '@extschema@.work_orders'::pg_catalog.regclass)
           AND a.attnum > 0 AND NOT a.attisdropped
    LOOP
        EXECUTE pg_catalog.format('ALTER TABLE %s ALTER COLUMN %I SET STATISTICS 10',
                                  col.rel, col.attname);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- pg_dump keeps the data of every table and the position of every identity
-- sequence.  The seed rows of sanitizer_error_map come with the extension;
-- only rows a user added are dumped.
-- ---------------------------------------------------------------------------
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposers', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_failures', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_attempts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_success_metrics', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.work_orders', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.prompt_versions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.prompt_enhancements', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.enhancement_versions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_frequent_codes', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.log_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.log_rollup_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.log_recent_messages', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.log_report_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_tests', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_test_counts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.threshold_experiments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.threshold_experiment_counts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sanitizer_error_map', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_failures_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.enhancement_versions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_tests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_jobs_id_seq', '');

-- ---------------------------------------------------------------------------
-- Work orders, windows, proposers
-- ---------------------------------------------------------------------------
CREATE TYPE @extschema@.work_order_result AS (
    outcome             text,
    logged              boolean,
    complexity_band     text,
    improvement_rate    float8,
    window_attempts     integer,
    window_success_rate float8,
    experiment_id       uuid,
    experiment_status   text,
    duplicate           boolean,
    auto_registered     boolean
);
COMMENT ON TYPE @extschema@.work_order_result IS
    'Result of record_work_order: the outcome class, whether the work order was logged, its band, the (proposer, band) window after the call, whether the id was a duplicate, and whether this call registered an unknown proposer (inactive; a NOTICE says so too, but pooled callers rarely see NOTICEs).';

CREATE FUNCTION @extschema@.complexity_band(complexity_score float8)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_complexity_band'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.complexity_band(float8) IS
    'Band label of a complexity score in [0, 1]: ''0.0-0.1'' ... ''0.9-1.0''. A score falls in [lo, lo + 0.1) as written in decimal (0.3 is in ''0.3-0.4''); 1.0 is in ''0.9-1.0''.';

CREATE FUNCTION @extschema@.record_work_order(
    proposer_name     text,
    complexity_score  float8,
    initial_errors    integer,
    final_errors      integer,
    stalled           boolean DEFAULT false,
    error_codes       text[]  DEFAULT '{}',
    error_samples     jsonb   DEFAULT '[]',
    prompt_version    text    DEFAULT NULL,
    enhancements_used text[]  DEFAULT '{}',
    sanitizer_changes text[]  DEFAULT '{}',
    work_order_id     text    DEFAULT NULL)
RETURNS @extschema@.work_order_result
AS 'MODULE_PATHNAME', 'ap_record_work_order'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.record_work_order(text, float8, integer, integer, boolean, text[], jsonb, text, text[], text[], text) IS
    'Report one work order. Classifies it (success, partial, failure), updates the rolling window and metrics of its (proposer, band), counts it in running experiments and tests, and logs it when it failed or falls in the sample. Idempotent by work_order_id: a repeated id changes nothing and returns duplicate = true. An unknown prompt_version or CODE@N token is an error (42704); an unknown proposer is registered inactive (auto_registered = true) unless adaptive_prompts.auto_register_proposers is off (42704).';

CREATE FUNCTION @extschema@.purge_work_orders(batch_size integer DEFAULT 10000)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ap_purge_work_orders'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.purge_work_orders(integer) IS
    'Delete up to batch_size idempotency-ledger rows older than adaptive_prompts.work_order_retention; returns how many. record_work_order also purges small batches as it goes.';

CREATE FUNCTION @extschema@.resize_windows()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_resize_windows'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.resize_windows() IS
    'Apply the current adaptive_prompts.window_size to every window now (record_work_order applies it to a window on that window''s next attempt). Returns the number of windows resized.';

CREATE FUNCTION @extschema@.register_proposer(
    name                 text,
    complexity_threshold float8,
    cost_rank            integer DEFAULT 100)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_register_proposer'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.register_proposer(text, float8, integer) IS
    'Register a proposer, or update its threshold and cost rank, and make it active (routable).';

CREATE FUNCTION @extschema@.set_proposer_active(name text, active boolean)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_set_proposer_active'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.set_proposer_active(text, boolean) IS
    'Take a proposer out of routing (false) or put it back (true).';

CREATE FUNCTION @extschema@.set_threshold(name text, complexity_threshold float8)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_set_threshold'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.set_threshold(text, float8) IS
    'Set a proposer''s complexity threshold directly, without an experiment; recorded in threshold_experiments with status ''manual''. Refused while an experiment for the proposer is in progress.';

-- ---------------------------------------------------------------------------
-- TypeScript sanitizer
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.sanitize_typescript(code text, tsx boolean DEFAULT false,
                                               OUT sanitized text, OUT changes_made text[])
RETURNS record
AS 'MODULE_PATHNAME', 'ap_sanitize_typescript'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.sanitize_typescript(text, boolean) IS
    'Fix mechanical TypeScript breakage before compiling: smart quotes used as string delimiters, unicode dashes used as minus, unquoted or backtick-quoted declare module names, a template literal left open at the end. Understands strings, templates, comments and regex literals and never changes text inside them; with tsx = true (a .tsx file) also JSX, whose text and attribute strings are never changed either, while with tsx = false (a .ts file) <T>x is a type assertion and JSX is lexed as code. Pass tsx = true for code that contains JSX. Valid code comes back byte-identical with changes_made = ''{}''.';

CREATE FUNCTION @extschema@.sanitizer_excluded_codes(changes text[])
RETURNS text[]
LANGUAGE sql STABLE STRICT PARALLEL SAFE
-- Granted to PUBLIC, which cannot read the map itself.
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(array_agg(DISTINCT m.error_code COLLATE "C" ORDER BY m.error_code COLLATE "C"), '{}')
      FROM @extschema@.sanitizer_error_map m
     WHERE m.change = ANY (changes)
$$;
COMMENT ON FUNCTION @extschema@.sanitizer_excluded_codes(text[]) IS
    'Compiler error codes that the given sanitizer changes account for (from sanitizer_error_map); record_work_order moves these codes to excluded_error_codes.';

-- ---------------------------------------------------------------------------
-- Threshold experiments and routing (SPEC 4.3; docs/experiments.md)
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.propose_threshold_increase(
    proposer_name text,
    new_threshold float8,
    sample_size   integer DEFAULT 30,
    confidence    float8  DEFAULT 0.7)
RETURNS uuid
AS 'MODULE_PATHNAME', 'ap_propose_threshold_increase'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.propose_threshold_increase(text, float8, integer, float8) IS
    'Start an experiment raising the proposer''s complexity threshold from its current value to new_threshold: work orders scored in [current, new_threshold] are routed to it and counted until sample_size results decide (rule: adaptive_prompts.decision_rule, copied onto the experiment). Returns the experiment id, or NULL with a NOTICE when the proposer already has an experiment running or a promotion being watched.';

CREATE FUNCTION @extschema@.run_threshold_experiment(
    proposer_name text,
    current       float8,
    proposed      float8,
    sample_size   integer DEFAULT 30,
    confidence    float8  DEFAULT 0.7)
RETURNS uuid
AS 'MODULE_PATHNAME', 'ap_run_threshold_experiment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.run_threshold_experiment(text, float8, float8, integer, float8) IS
    'The weekly entry point: like propose_threshold_increase(proposer_name, proposed, sample_size, confidence), but raises an error when current is not the proposer''s complexity threshold. Returns the experiment id, or NULL with a NOTICE when one is in progress.';

CREATE FUNCTION @extschema@.record_experiment_result(
    proposer_name    text,
    complexity_score float8,
    was_success      boolean)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_record_experiment_result'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.record_experiment_result(text, float8, boolean) IS
    'Count one result in the proposer''s running experiment (or the watch after its promotion) when complexity_score is in [old_threshold, new_threshold], deciding when the rule reaches a verdict. For callers that do not use record_work_order, which counts by itself: use one or the other. Returns the experiment status after the call, or NULL when no experiment counted the result.';

CREATE FUNCTION @extschema@.evaluate_experiment(experiment_id uuid)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_evaluate_experiment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.evaluate_experiment(uuid) IS
    'Apply the experiment''s rule to the sums of its counters (decide if the rule reaches a verdict; end a complete watch; else write the sums into the row''s count columns) and return its status: running, promoted, rejected, aborted or rolled_back. Counting usually does this; it takes a verdict that concurrent last callers missed.';

CREATE FUNCTION @extschema@.abort_experiment(experiment_id uuid, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_abort_experiment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.abort_experiment(uuid, text) IS
    'Stop a running experiment (status aborted, threshold unchanged), or end the watch of a promoted one and restore the old threshold (status aborted). The reason and the calling role are recorded. Decided experiments cannot be aborted.';

CREATE FUNCTION @extschema@.settle_threshold_experiments()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_settle_threshold_experiments'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.settle_threshold_experiments() IS
    'Apply the rule of every running or watched threshold experiment to the sums of its counters: decide those that reach a verdict and end the watches that are over (verdicts that concurrent last callers missed), and write the sums of the others into their rows'' count columns. Returns how many were decided or ended their watch. The worker runs it every cycle; without the worker, run it from pg_cron.';

CREATE FUNCTION @extschema@.route_work_order(
    complexity_score float8,
    work_order_id    text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_route_work_order'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.route_work_order(float8, text) IS
    'Proposer for a work order: a score inside a running experiment''s band [old_threshold, new_threshold] goes to the experimenting proposer; otherwise the cheapest active proposer (lowest cost_rank, then name) whose threshold is at least the score; otherwise the active proposer with the highest threshold. work_order_id is validated but reserved (future sticky routing): today the answer depends only on the score. Raises P0002 when no proposer is active.';

-- ---------------------------------------------------------------------------
-- Prompt versions, enhancements and their A/B tests (SPEC 4.2, 4.5)
-- ---------------------------------------------------------------------------

-- Every change of a live enhancement text or of a proposer's active prompt
-- version, whoever made it (a person, or an A/B test's decision).
CREATE TABLE @extschema@.version_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('prompt_version', 'enhancement')),
    subject     text NOT NULL,   -- proposer name or error code
    old_version text,            -- NULL: none (the built-in default prompt / no enhancement)
    new_version text,            -- NULL: none
    action      text NOT NULL
                CHECK (action IN ('activated', 'set', 'promoted', 'rolled_back')),
    ab_test_id  bigint,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL,
    reason      text NOT NULL
);
CREATE INDEX version_history_subject
    ON @extschema@.version_history (kind, subject, id);
COMMENT ON TABLE @extschema@.version_history IS
    'Append-only log of every change of a live enhancement text or an active prompt version: old and new version (NULL = none: the built-in default prompt or no enhancement), what did it (activated, set, promoted, rolled_back), the A/B test if one decided it, the calling role and the reason.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.version_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.version_history_id_seq', '');

-- Prompt registry ------------------------------------------------------------

CREATE FUNCTION @extschema@.register_prompt_version(
    proposer_name  text,
    version        text,
    base_prompt    text,
    system_changes text    DEFAULT NULL,
    activate       boolean DEFAULT false)
RETURNS uuid
AS 'MODULE_PATHNAME', 'ap_register_prompt_version'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.register_prompt_version(text, text, text, text, boolean) IS
    'Register a base prompt for a proposer under a version name that is unique across proposers (e.g. ''gpt-4o-mini/v1.1''); with activate => true it also becomes the active version. Returns its id.';

CREATE FUNCTION @extschema@.activate_prompt_version(version text)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_activate_prompt_version'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.activate_prompt_version(text) IS
    'Make a prompt version its proposer''s active version: the previous one is deactivated in the same transaction, replaced_version and promoted_at are set, and the change is logged in version_history. Refused while an A/B test of the proposer''s prompt is running.';

CREATE FUNCTION @extschema@.rollback_prompt_version(proposer_name text)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_rollback_prompt_version'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.rollback_prompt_version(text) IS
    'Reactivate the version the active one replaced and return it (''v1.0'', the built-in default prompt, when it replaced none). Ends a running watch as rolled_back.';

CREATE FUNCTION @extschema@.get_active_prompt_version(
    proposer_name text,
    work_order_id text DEFAULT NULL)
RETURNS TABLE (version text, base_prompt text)
AS 'MODULE_PATHNAME', 'ap_get_active_prompt_version'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.get_active_prompt_version(text, text) IS
    'The prompt version a work order gets: during an A/B test of the proposer''s prompt, the version of the work order''s arm (by hash of the test''s salt and work_order_id; no id: the incumbent); else the active version; else the built-in default ''v1.0''. Read-only (works on a hot standby).';

CREATE FUNCTION @extschema@.start_prompt_test(
    version     text,
    sample_size integer DEFAULT 30,
    salt        bigint  DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ap_start_prompt_test'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.start_prompt_test(text, integer, bigint) IS
    'Start an A/B test of a registered, inactive prompt version against its proposer''s active version (or the built-in default), sample_size work orders per arm; adaptive_prompts.ab_alpha is copied onto the test. Returns the test''s id (ab_tests.id). salt fixes the arm assignment (for reproducible examples; NULL, the default, draws a random one). Refused while the proposer has a running test or a watch.';

-- Enhancements ---------------------------------------------------------------

CREATE FUNCTION @extschema@.set_enhancement(
    error_code       text,
    enhancement_text text,
    priority         integer DEFAULT 5)
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_set_enhancement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.set_enhancement(text, text, integer) IS
    'A person''s instruction for an error code (priority 0-100, higher first) goes live at once as a new version; the previous live version becomes retired. Returns the new version number. Refused while an A/B test of the code is running.';

CREATE FUNCTION @extschema@.build_enhanced_prompt(
    proposer_name text,
    error_codes   text[] DEFAULT NULL,
    work_order_id text   DEFAULT NULL)
RETURNS TABLE (prompt text, version text, used text[])
AS 'MODULE_PATHNAME', 'ap_build_enhanced_prompt'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.build_enhanced_prompt(text, text[], text) IS
    'The work order''s prompt version with the live enhancements of error_codes appended (NULL: the proposer''s frequent codes), highest priority first, at most adaptive_prompts.max_enhancements. used lists CODE@N tokens (N = version; 0 = held out by a test); pass used and version back to record_work_order. Read-only (works on a hot standby).';

CREATE FUNCTION @extschema@.approve_enhancement(
    enhancement_version_id bigint,
    salt                   bigint DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_approve_enhancement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.approve_enhancement(bigint, bigint) IS
    'Approve a pending_approval text for testing: it becomes testing and its A/B test against the live version (or no enhancement, for a new code) starts, or waits until the code''s open test has ended. Returns the new status. salt fixes the test''s arm assignment (for reproducible examples; NULL, the default, draws a random one); it is refused when the test cannot start at once.';

CREATE FUNCTION @extschema@.reject_enhancement(enhancement_version_id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_reject_enhancement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.reject_enhancement(bigint, text) IS
    'Reject a pending_approval or testing text with a reason; a running A/B test of it is aborted.';

CREATE FUNCTION @extschema@.rollback_enhancement(error_code text)
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_rollback_enhancement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.rollback_enhancement(text) IS
    'Take the live text of an error code back (rolled_back) and make the version it replaced live again; returns that version number, 0 when the code now has no enhancement. Ends a running watch as rolled_back.';

-- A/B tests ------------------------------------------------------------------

CREATE FUNCTION @extschema@.ab_test_arm(test_id bigint, work_order_id text)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_ab_test_arm'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ab_test_arm(bigint, text) IS
    'The arm, ''candidate'' or ''incumbent'', that a work order id gets in an A/B test (the same id always gets the same arm; no id: the incumbent).';

CREATE FUNCTION @extschema@.abort_ab_test(test_id bigint, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_abort_ab_test'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.abort_ab_test(bigint, text) IS
    'Stop a running A/B test without a decision (status aborted, reason recorded); an enhancement candidate becomes rejected.';

CREATE FUNCTION @extschema@.settle_ab_tests()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_settle_ab_tests'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.settle_ab_tests() IS
    'Take the decisions and looks of the watch that are due on the counts of the open A/B tests but were not taken (the last concurrent work orders of a checkpoint may not see each other''s counts); returns how many were taken. The worker calls it every cycle; without the worker, schedule it (e.g. with pg_cron) or let the next counted work order take them.';

-- Effectiveness --------------------------------------------------------------

CREATE FUNCTION @extschema@.refresh_enhancement_stats()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_refresh_enhancement_stats'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.refresh_enhancement_stats() IS
    'Derive prompt_enhancements.times_used from the logged work orders (each weighted 1/sample_rate, counting CODE@N with N > 0 and bare codes) and refill proposer_frequent_codes with each proposer''s 20 most frequent codes of the last 30 days. Off the hot path: run it from the worker or pg_cron. Returns the number of frequent-code rows.';

CREATE FUNCTION @extschema@.analyze_enhancement_effectiveness(since interval DEFAULT '30 days')
RETURNS TABLE (error_code text, current_text text, times_used bigint,
               error_reduction_rate float8, recent_failures text[])
AS 'MODULE_PATHNAME', 'ap_analyze_enhancement_effectiveness'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.analyze_enhancement_effectiveness(interval) IS
    'Per live enhancement over the window: times_used (weighted work orders that used it), error_reduction_rate = 1 - rate_with / rate_without where a rate is weighted work orders with the code / weighted work orders (each logged row weighs 1/sample_rate; NULL without data), and up to 5 recent messages of the code, those despite the enhancement first.';

CREATE FUNCTION @extschema@.get_common_unaddressed_errors(
    min_occurrences integer  DEFAULT 5,
    since           interval DEFAULT '30 days')
RETURNS TABLE (error_code text, occurrence_count bigint)
AS 'MODULE_PATHNAME', 'ap_get_common_unaddressed_errors'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off;
COMMENT ON FUNCTION @extschema@.get_common_unaddressed_errors(integer, interval) IS
    'Error codes of at least min_occurrences logged work orders in the window that have no live enhancement, no version pending approval or in testing, and no queued or running improvement job; most frequent first.';

-- Auto-improvement: runs, the job queue, the worker (SPEC 4.5, 5) ------------

CREATE FUNCTION @extschema@.run_auto_improvement(trigger text DEFAULT 'manual')
RETURNS TABLE (job_id bigint, kind text, error_code text)
AS 'MODULE_PATHNAME', 'ap_run_auto_improvement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.run_auto_improvement(text) IS
    'One auto-improvement run (trigger: manual, cron, failure_count or effectiveness_drop): enqueues improve jobs for live enhancements with error_reduction_rate < 0.5 used at least 10 times in 30 days (worst first), then create jobs for get_common_unaddressed_errors(5) (most frequent first), at most adaptive_prompts.max_jobs_per_run, never a second open job for a code; records an improvement_runs row and wakes the background worker when the transaction commits. Returns the jobs enqueued.';

CREATE FUNCTION @extschema@.schedule_auto_improvement(schedule text DEFAULT '0 3 * * 0')
RETURNS bigint
AS 'MODULE_PATHNAME', 'ap_schedule_auto_improvement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.schedule_auto_improvement(text) IS
    'Schedule run_auto_improvement(''cron'') with pg_cron (cron syntax; default Sundays at 03:00) as the job "adaptive_prompts auto-improvement in <database>"; calling it again changes the schedule. Returns the pg_cron job id. Without pg_cron, or in a database other than cron.database_name, raises 55000 with a hint giving the exact statement to run (cron.schedule_in_database from cron.database_name).';

CREATE FUNCTION @extschema@.unschedule_auto_improvement()
RETURNS boolean
AS 'MODULE_PATHNAME', 'ap_unschedule_auto_improvement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.unschedule_auto_improvement() IS
    'Remove the pg_cron job of schedule_auto_improvement(); false when there was none. Same errors and hints as schedule_auto_improvement.';

CREATE FUNCTION @extschema@.cancel_job(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'ap_cancel_job'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.cancel_job(bigint) IS
    'Cancel a queued or running improvement job (status cancelled); the answer of a running one is discarded when it arrives (its tokens still count toward the daily budget). Returns false when the job was already cancelled; raises 55000 for a done or failed job and P0002 for an unknown id.';

CREATE FUNCTION @extschema@.worker_status()
RETURNS TABLE (pid integer, state text, database text,
               last_run_at timestamptz, last_run_trigger text,
               queued bigint, running bigint, failed bigint,
               tokens_today bigint, daily_token_budget integer,
               last_error text, last_error_at timestamptz,
               serves_this_database boolean)
AS 'MODULE_PATHNAME', 'ap_worker_status'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.worker_status() IS
    'The background worker: its pid (NULL when not running), what it is doing, the database it serves; this database''s last run, queued/running/failed job counts, API tokens used this UTC day (input, output and cache) against adaptive_prompts.daily_token_budget (0 = no limit), and the last error (the worker''s own or the latest failed job''s).';

CREATE FUNCTION @extschema@.ap_check_worker_database()
RETURNS void
AS 'MODULE_PATHNAME', 'ap_check_worker_database'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.ap_check_worker_database() IS
    'Run by CREATE EXTENSION: warns when the library is preloaded but the background worker serves another database (adaptive_prompts.database).';

-- ---------------------------------------------------------------------------
-- Validation (SPEC 6): the notes' Phase 3 metrics and the loop's own, from
-- the database alone.  docs/operations.md explains each row.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.validation_report(since timestamptz DEFAULT NULL)
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

-- Retention and rollups -------------------------------------------------------

CREATE FUNCTION @extschema@.fold_rollups()
RETURNS bigint
AS 'MODULE_PATHNAME', 'ap_fold_rollups'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.fold_rollups() IS
    'Fold the logged work orders not yet in log_rollups into them, exactly once (the rows and the watermark change in one transaction), and return how many rows were folded. A row is folded by the second fold after it committed; the analyses read the rows not folded yet from the log, so their answers never wait for a fold. Run by the worker, or from pg_cron with purge_log().';

CREATE FUNCTION @extschema@.purge_log(batch_size integer DEFAULT 10000)
RETURNS bigint
AS 'MODULE_PATHNAME', 'ap_purge_log'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.purge_log(integer) IS
    'Delete up to batch_size proposer_failures rows older than adaptive_prompts.log_retention (0: keep forever) and the log_rollups days that ended before then; returns how many log rows. Never deletes a row not yet folded into the rollups, nor one logged since the start of a running or watched A/B test or threshold experiment. Run by the worker, or from pg_cron after fold_rollups().';

-- ---------------------------------------------------------------------------
-- record_work_order skips the experiment and A/B lookups while nothing is
-- open; these triggers tell every backend when that may have changed.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.ap_invalidate_activity()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ap_invalidate_activity'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.ap_invalidate_activity() IS
    'Statement trigger: makes every backend forget what it cached about the table (whether experiments or A/B tests are open; which prompt and enhancement versions exist) when this transaction commits.';

CREATE TRIGGER threshold_experiments_activity
    AFTER INSERT OR DELETE OR UPDATE OF status, watching OR TRUNCATE
    ON @extschema@.threshold_experiments
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();

CREATE TRIGGER ab_tests_activity
    AFTER INSERT OR DELETE OR UPDATE OF status OR TRUNCATE
    ON @extschema@.ab_tests
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();

-- record_work_order keeps, per backend, the prompt and enhancement versions
-- it has found; these tell every backend when one may have gone away.
CREATE TRIGGER prompt_versions_known
    AFTER DELETE OR UPDATE OF version, proposer_name OR TRUNCATE
    ON @extschema@.prompt_versions
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();

CREATE TRIGGER enhancement_versions_known
    AFTER DELETE OR UPDATE OF error_code, version OR TRUNCATE
    ON @extschema@.enhancement_versions
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();

-- ---------------------------------------------------------------------------
-- A proposer that is deleted or renamed loses its windows, so that
-- record_work_order, which checks a proposer only when it creates a window,
-- never accepts a proposer that no longer exists.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.ap_proposer_removed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ap_proposer_removed'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.ap_proposer_removed() IS
    'Trigger on proposers: deletes the rolling windows (proposer_success_metrics, proposer_attempts) of a proposer that is deleted or renamed, or of all proposers on TRUNCATE. The work-order log is kept.';

CREATE TRIGGER proposers_removed
    AFTER DELETE ON @extschema@.proposers
    FOR EACH ROW EXECUTE FUNCTION @extschema@.ap_proposer_removed();

CREATE TRIGGER proposers_renamed
    AFTER UPDATE OF name ON @extschema@.proposers
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION @extschema@.ap_proposer_removed();

CREATE TRIGGER proposers_truncated
    AFTER TRUNCATE ON @extschema@.proposers
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_proposer_removed();

-- ---------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC but the pure helpers.  A DBA grants USAGE
-- on the schema and EXECUTE on the functions a role needs (see README).
-- ---------------------------------------------------------------------------
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
          FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_depend d
            ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
           AND d.objid = p.oid AND d.deptype = 'e'
          JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         WHERE e.extname = 'adaptive_prompts'
           AND p.proname NOT IN ('complexity_band', 'sanitize_typescript',
                                 'sanitizer_excluded_codes')
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;

-- Tell the DBA at once when no worker will serve this database.
SELECT @extschema@.ap_check_worker_database();
