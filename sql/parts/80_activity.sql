
-- ---------------------------------------------------------------------------
-- record_work_order skips the experiment and A/B lookups while nothing is
-- open; these triggers tell every backend when that may have changed.
-- ---------------------------------------------------------------------------
CREATE FUNCTION @extschema@.ap_invalidate_activity()
RETURNS trigger
AS 'MODULE_PATHNAME', 'ap_invalidate_activity'
LANGUAGE C;
COMMENT ON FUNCTION @extschema@.ap_invalidate_activity() IS
    'Statement trigger: makes every backend re-check whether experiments or A/B tests are open after this transaction commits.';

CREATE TRIGGER threshold_experiments_activity
    AFTER INSERT OR DELETE OR UPDATE OF status, watching OR TRUNCATE
    ON @extschema@.threshold_experiments
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();

CREATE TRIGGER ab_tests_activity
    AFTER INSERT OR DELETE OR UPDATE OF status OR TRUNCATE
    ON @extschema@.ab_tests
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.ap_invalidate_activity();
