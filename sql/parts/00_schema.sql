/* adaptive_prompts 0.1.0: install script */

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
    cost_rank            integer NOT NULL DEFAULT 100,
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
COMMENT ON TABLE @extschema@.enhancement_versions IS
    'Append-only history of every enhancement text proposed or live for an error code, with who decided what and why. Texts are never changed or deleted; status moves pending_approval -> testing -> active -> retired/rolled_back (or -> rejected); every change of the live text is also a row of version_history.';

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
    started_by              text
);
CREATE UNIQUE INDEX ab_tests_one_open
    ON @extschema@.ab_tests (kind, subject) WHERE status IN ('running', 'watching');
COMMENT ON TABLE @extschema@.ab_tests IS
    'A/B tests of a candidate prompt version or enhancement version against the incumbent. Arms are assigned by hash(salt, work_order_id); nothing is stored per work order. running -> promoted/rejected/aborted; promoted tests are watched (watching) and end promoted or rolled_back. decision_reason accumulates every decision with both arms'' numbers, Wilson intervals and the p-value.';

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
            AND sprt_beta > 0 AND sprt_beta < 1))
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
    'True after a promotion while the band is watched for test_sample_size more work orders; the watch ends with watching = false, or with status rolled_back when their success rate is below confidence_threshold.';
COMMENT ON COLUMN @extschema@.threshold_experiments.watch_reason IS
    'How the watch after a promotion ended: kept, rolled back or aborted, with the numbers.';

-- ---------------------------------------------------------------------------
-- Auto-improvement: the worker's queue and the audit of runs
-- ---------------------------------------------------------------------------
CREATE TABLE @extschema@.improvement_runs (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at    timestamptz NOT NULL DEFAULT now(),
    trigger       text NOT NULL
                  CHECK (trigger IN ('manual', 'cron', 'failure_count', 'effectiveness_drop')),
    jobs_enqueued integer NOT NULL DEFAULT 0,
    started_by    text
);
COMMENT ON TABLE @extschema@.improvement_runs IS
    'Audit of each auto-improvement analysis run and how many jobs it enqueued.';

CREATE TABLE @extschema@.improvement_jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          bigint,
    kind            text NOT NULL CHECK (kind IN ('improve', 'create')),
    error_code      text NOT NULL,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    context         jsonb NOT NULL DEFAULT '{}',
    result          text,
    http_status     integer,
    last_error      text,
    input_tokens    integer,
    output_tokens   integer,
    stop_reason     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE UNIQUE INDEX improvement_jobs_one_open
    ON @extschema@.improvement_jobs (error_code) WHERE status IN ('queued', 'running');
CREATE INDEX improvement_jobs_queue
    ON @extschema@.improvement_jobs (next_attempt_at) WHERE status = 'queued';
COMMENT ON TABLE @extschema@.improvement_jobs IS
    'Queue of Claude requests (improve an enhancement, create one for a new code). At most one open job per error code. context holds the data the meta-prompt is built from.';

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
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_tests', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.threshold_experiments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sanitizer_error_map', 'WHERE NOT seeded');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.proposer_failures_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.enhancement_versions_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ab_tests_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_runs_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.improvement_jobs_id_seq', '');
