-- The background worker serves another database; its WARNING is not tested here.
SET client_min_messages = error;
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;
-- Bad input raises a clear error naming the argument and changes no row.
SELECT register_proposer('p', 0.3, 1);
\set VERBOSITY default
SELECT record_work_order(NULL, 0.5, 1, 0);
SELECT record_work_order('', 0.5, 1, 0);
SELECT record_work_order(repeat('x', 201), 0.5, 1, 0);
SELECT record_work_order('p', NULL, 1, 0);
SELECT record_work_order('p', 'NaN', 1, 0);
SELECT record_work_order('p', 'Infinity', 1, 0);
SELECT record_work_order('p', '-Infinity', 1, 0);
SELECT record_work_order('p', -0.01, 1, 0);
SELECT record_work_order('p', 1.01, 1, 0);
SELECT record_work_order('p', 0.5, NULL, 0);
SELECT record_work_order('p', 0.5, 1, NULL);
SELECT record_work_order('p', 0.5, -1, 0);
SELECT record_work_order('p', 0.5, 1, -3);
SELECT record_work_order('p', 0.5, 1, 0, stalled => NULL);
SELECT record_work_order('p', 0.5, 1, 0, error_codes => NULL);
SELECT record_work_order('p', 0.5, 1, 0, error_codes => ARRAY['TS1', NULL]);
SELECT record_work_order('p', 0.5, 1, 0, error_codes => ARRAY['']);
SELECT record_work_order('p', 0.5, 1, 0, error_codes => '{{TS1},{TS2}}');
SELECT record_work_order('p', 0.5, 1, 0, error_samples => NULL);
SELECT record_work_order('p', 0.5, 1, 0, error_samples => '{"code": "TS1"}');
SELECT record_work_order('p', 0.5, 1, 0, error_samples => '"text"');
SELECT record_work_order('p', 0.5, 1, 0, error_samples => '[1, 2]');
SELECT record_work_order('p', 0.5, 1, 0, error_samples => '[{"code": 2345}]');
SELECT record_work_order('p', 0.5, 1, 0, enhancements_used => ARRAY[NULL]::text[]);
SELECT record_work_order('p', 0.5, 1, 0, enhancements_used => '{TS2345@x}');
SELECT record_work_order('p', 0.5, 1, 0, enhancements_used => '{@3}');
SELECT record_work_order('p', 0.5, 1, 0, sanitizer_changes => ARRAY[NULL]::text[]);
SELECT record_work_order('p', 0.5, 1, 0, prompt_version => '');
SELECT record_work_order('p', 0.5, 1, 0, work_order_id => '');
SELECT complexity_band('NaN');
SELECT complexity_band(2);
SELECT register_proposer('q', 1.5, 1);
SELECT register_proposer('q', 0.5, NULL);
SELECT set_proposer_active('nobody', true);

-- Nothing was written by any of the calls above.
SELECT (SELECT count(*) FROM proposer_failures) AS logged,
       (SELECT count(*) FROM proposer_attempts) AS attempts,
       (SELECT count(*) FROM proposer_success_metrics) AS metrics,
       (SELECT count(*) FROM work_orders) AS ledger,
       (SELECT count(*) FROM proposers) AS proposers;

DROP EXTENSION adaptive_prompts;
