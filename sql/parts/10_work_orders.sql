
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
    duplicate           boolean
);
COMMENT ON TYPE @extschema@.work_order_result IS
    'Result of record_work_order: the outcome class, whether the work order was logged, its band, and the (proposer, band) window after the call.';

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
    'Report one work order. Classifies it (success, partial, failure), updates the rolling window and metrics of its (proposer, band), counts it in running experiments and tests, and logs it when it failed or falls in the sample. Idempotent by work_order_id: a repeated id changes nothing and returns duplicate = true.';

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
