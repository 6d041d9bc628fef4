
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

CREATE FUNCTION @extschema@.start_prompt_test(version text, sample_size integer DEFAULT 30)
RETURNS void
AS 'MODULE_PATHNAME', 'ap_start_prompt_test'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.start_prompt_test(text, integer) IS
    'Start an A/B test of a registered, inactive prompt version against its proposer''s active version (or the built-in default), sample_size work orders per arm; adaptive_prompts.ab_alpha is copied onto the test. Refused while the proposer has a running test or a watch.';

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

CREATE FUNCTION @extschema@.approve_enhancement(enhancement_version_id bigint)
RETURNS text
AS 'MODULE_PATHNAME', 'ap_approve_enhancement'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.approve_enhancement(bigint) IS
    'Approve a pending_approval text for testing: it becomes testing and its A/B test against the live version (or no enhancement, for a new code) starts, or waits until the code''s open test has ended. Returns the new status.';

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

-- Effectiveness --------------------------------------------------------------

CREATE FUNCTION @extschema@.refresh_enhancement_stats()
RETURNS integer
AS 'MODULE_PATHNAME', 'ap_refresh_enhancement_stats'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.refresh_enhancement_stats() IS
    'Derive prompt_enhancements.times_used from the logged work orders (each weighted 1/sample_rate, counting CODE@N with N > 0 and bare codes) and refill proposer_frequent_codes with each proposer''s 20 most frequent codes of the last 30 days. Off the hot path: run it from the worker or pg_cron. Returns the number of frequent-code rows.';

CREATE FUNCTION @extschema@.analyze_enhancement_effectiveness(since interval DEFAULT '30 days')
RETURNS TABLE (error_code text, current_text text, times_used bigint,
               error_reduction_rate float8, recent_failures text[])
AS 'MODULE_PATHNAME', 'ap_analyze_enhancement_effectiveness'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.analyze_enhancement_effectiveness(interval) IS
    'Per live enhancement over the window: times_used (weighted work orders that used it), error_reduction_rate = 1 - rate_with / rate_without where a rate is weighted work orders with the code / weighted work orders (each logged row weighs 1/sample_rate; NULL without data), and up to 5 recent messages of the code, those despite the enhancement first.';

CREATE FUNCTION @extschema@.get_common_unaddressed_errors(
    min_occurrences integer  DEFAULT 5,
    since           interval DEFAULT '30 days')
RETURNS TABLE (error_code text, occurrence_count bigint)
AS 'MODULE_PATHNAME', 'ap_get_common_unaddressed_errors'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION @extschema@.get_common_unaddressed_errors(integer, interval) IS
    'Error codes of at least min_occurrences logged work orders in the window that have no live enhancement, no version pending approval or in testing, and no queued or running improvement job; most frequent first.';
