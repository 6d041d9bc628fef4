
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
    'Apply the experiment''s rule to its current counts (decide if the rule reaches a verdict; end a complete watch) and return its status: running, promoted, rejected, aborted or rolled_back. Counting already does this on every result.';

CREATE FUNCTION @extschema@.abort_experiment(experiment_id uuid, reason text)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_abort_experiment'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.abort_experiment(uuid, text) IS
    'Stop a running experiment (status aborted, threshold unchanged), or end the watch of a promoted one and restore the old threshold (status aborted). The reason and the calling role are recorded. Decided experiments cannot be aborted.';

CREATE FUNCTION @extschema@.route_work_order(
    complexity_score float8,
    work_order_id    text DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_route_work_order'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.route_work_order(float8, text) IS
    'Proposer for a work order: a score inside a running experiment''s band [old_threshold, new_threshold] goes to the experimenting proposer; otherwise the cheapest active proposer (lowest cost_rank, then name) whose threshold is at least the score; otherwise the active proposer with the highest threshold. work_order_id is validated but reserved (future sticky routing): today the answer depends only on the score. Raises P0002 when no proposer is active.';
