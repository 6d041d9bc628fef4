-- record_work_order: outcome classes, bands, improvement rate, idempotency,
-- auto-registration and the sanitizer exclusion.
-- The background worker serves another database; its WARNING is not tested here.
SET client_min_messages = error;
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
SET client_min_messages = notice;

-- Bands: [lo, lo + 0.1) as written in decimal; 1.0 in the last band.
SELECT s AS score, complexity_band(s)
  FROM unnest(ARRAY[0, 0.0999999, 0.1, 0.29999999999999993, 0.3, 0.35,
                    0.6, 0.7, 0.9999, 1.0]::float8[]) AS s;
SELECT complexity_band(NULL) IS NULL AS null_gives_null;

SELECT register_proposer('gpt-4o-mini', 0.3, 1);
SELECT register_proposer('claude', 0.9, 10);

-- Outcomes and improvement rates.
SELECT outcome, logged, complexity_band, improvement_rate, window_attempts,
       window_success_rate, duplicate
  FROM record_work_order('gpt-4o-mini', 0.35, 0, 0, work_order_id => 'wo-initial-zero');
SELECT outcome, improvement_rate
  FROM record_work_order('gpt-4o-mini', 0.35, 0, 2, work_order_id => 'wo-zero-then-two');
SELECT outcome, improvement_rate
  FROM record_work_order('gpt-4o-mini', 0.35, 10, 4, work_order_id => 'wo-partial');
SELECT outcome, improvement_rate
  FROM record_work_order('gpt-4o-mini', 0.35, 10, 5, work_order_id => 'wo-half');
SELECT outcome, improvement_rate
  FROM record_work_order('gpt-4o-mini', 0.35, 4, 6, work_order_id => 'wo-worse');
SELECT outcome, logged, improvement_rate
  FROM record_work_order('gpt-4o-mini', 0.35, 4, 0, stalled => true,
                         work_order_id => 'wo-stalled');

-- Failures are always logged, with sample_rate 1.
SELECT work_order_id, outcome, sample_rate, is_sampled_success
  FROM proposer_failures WHERE outcome = 'failure' ORDER BY id;

-- The window and the metrics of the key.
SELECT attempts, successes, success_rate, round(avg_improvement_rate::numeric, 6)
  FROM proposer_success_metrics WHERE proposer_name = 'gpt-4o-mini';
SELECT slot, seq, was_success FROM proposer_attempts
 WHERE proposer_name = 'gpt-4o-mini' ORDER BY seq;

-- Idempotency: the same id changes nothing, whatever the other arguments.
SELECT outcome, logged, complexity_band, window_attempts, duplicate
  FROM record_work_order('gpt-4o-mini', 0.95, 9, 9, work_order_id => 'wo-partial');
SELECT count(*) AS ledger_rows FROM work_orders;
SELECT attempts FROM proposer_success_metrics WHERE proposer_name = 'gpt-4o-mini';

-- Unknown proposers are registered inactive with a NOTICE.
SELECT outcome FROM record_work_order('gtp-4o-mini', 0.5, 1, 1);
SELECT name, complexity_threshold, active, auto_registered FROM proposers ORDER BY name;
SELECT register_proposer('gtp-4o-mini', 0.2, 5);
SELECT name, active, auto_registered FROM proposers WHERE name = 'gtp-4o-mini';

-- Sanitizer exclusion: codes a reported change accounts for move out.
SELECT outcome FROM record_work_order('claude', 0.8, 3, 3,
    error_codes => '{TS1443,TS2345,TS1160}',
    error_samples => '[{"code": "TS2345", "message": "Argument of type string is not assignable"}]',
    sanitizer_changes => '{unquoted_module_declarations}',
    prompt_version => 'claude/v1', enhancements_used => '{TS2345@2,TS7006}',
    work_order_id => 'wo-sanitized');
SELECT error_codes, excluded_error_codes, sanitizer_changes, prompt_version,
       prompt_enhancements_used, error_samples
  FROM proposer_failures WHERE work_order_id = 'wo-sanitized';

-- Proposer levers.
SELECT set_proposer_active('claude', false);
SELECT set_threshold('claude', 0.95);
SELECT name, complexity_threshold, active FROM proposers WHERE name = 'claude';
SELECT proposer_name, old_threshold, new_threshold, status, decision_rule
  FROM threshold_experiments WHERE proposer_name = 'claude';
SELECT set_threshold('nobody', 0.5);

DROP EXTENSION adaptive_prompts;
