#!/usr/bin/env bash
# Reload-level settings: window_size by reload, auto_register_proposers off,
# application roles cannot change settings; GRANTs of the README.
source "$(dirname "$0")/../tap.sh"
new_database ap_settings
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT register_proposer('m', 0.3, 1)" >/dev/null

# 60 attempts on one key, 10 on another, with the default window of 50.
q "SELECT count(record_work_order('m', 0.35, 2, (i % 3)::int)) FROM generate_series(1, 60) i" >/dev/null
q "SELECT count(record_work_order('m', 0.75, 2, 0)) FROM generate_series(1, 10) i" >/dev/null
is "$(q "SELECT count(*) FROM proposer_attempts WHERE complexity_band = '0.3-0.4'")" 50 "default window keeps 50"

set_config adaptive_prompts.window_size 20
q "SELECT record_work_order('m', 0.35, 2, 0)" >/dev/null
is "$(q "SELECT count(*) FROM proposer_attempts WHERE complexity_band = '0.3-0.4'")" 20 "after a reload to 20 the next call leaves 20"
is "$(q "SELECT min(seq) || '-' || max(seq) FROM proposer_attempts WHERE complexity_band = '0.3-0.4'")" "42-61" "the 20 most recent attempts remain"
is "$(q "SELECT (m.attempts, m.successes, m.window_size) = (a.n, a.s, 20)
           FROM proposer_success_metrics m,
                (SELECT count(*)::int n, (count(*) FILTER (WHERE was_success))::int s
                   FROM proposer_attempts WHERE complexity_band = '0.3-0.4') a
          WHERE m.complexity_band = '0.3-0.4'")" t "metrics equal the shrunk window"
q "SELECT count(record_work_order('m', 0.35, 2, (i % 2)::int)) FROM generate_series(1, 30) i" >/dev/null
is "$(q "SELECT count(*) FROM proposer_attempts WHERE complexity_band = '0.3-0.4'")" 20 "the window stays at 20"
is "$(q "SELECT resize_windows()")" 1 "resize_windows applies the size to the other window"
is "$(q "SELECT count(*) FROM proposer_attempts WHERE complexity_band = '0.7-0.8'")" 10 "a window under the new size keeps its attempts"

set_config adaptive_prompts.window_size 100
q "SELECT count(record_work_order('m', 0.35, 2, 1)) FROM generate_series(1, 90) i" >/dev/null
is "$(q "SELECT count(*) || ':' || count(DISTINCT slot) || ':' || max(seq) - min(seq) + 1 FROM proposer_attempts WHERE complexity_band = '0.3-0.4'")" "100:100:100" "growing to 100 keeps contiguous, distinct slots"
is "$(q "SELECT (m.attempts, m.successes) = (a.n, a.s) FROM proposer_success_metrics m,
           (SELECT count(*)::int n, (count(*) FILTER (WHERE was_success))::int s
              FROM proposer_attempts WHERE complexity_band = '0.3-0.4') a
          WHERE m.complexity_band = '0.3-0.4'")" t "metrics equal the grown window"
reset_config adaptive_prompts.window_size

# Auto-registration off: unknown proposers are an error and nothing is written.
set_config adaptive_prompts.auto_register_proposers off
out=$(q "SELECT record_work_order('typo', 0.5, 1, 1, work_order_id => 'x1')" 2>&1)
[[ $out == *"proposer \"typo\" does not exist"* ]]; ok $? "unknown proposer is an error when auto-registration is off"
out=$("${PSQL[@]}" -v VERBOSITY=sqlstate -c "\\set VERBOSITY sqlstate" -c "SELECT record_work_order('typo', 0.5, 1, 1)" 2>&1)
[[ $out == *42704* ]]; ok $? "with SQLSTATE 42704"
is "$(q "SELECT count(*) FROM work_orders WHERE work_order_id = 'x1'")" 0 "and the ledger row was not kept"
reset_config adaptive_prompts.auto_register_proposers

# An application role: EXECUTE on the writer functions only.
q "DROP ROLE IF EXISTS ap_app" >/dev/null 2>&1
q "CREATE ROLE ap_app LOGIN" >/dev/null
q "GRANT USAGE ON SCHEMA public TO ap_app" >/dev/null
q "GRANT EXECUTE ON FUNCTION record_work_order(text, float8, integer, integer, boolean, text[], jsonb, text, text[], text[], text) TO ap_app" >/dev/null
out=$("${PSQL[@]}" -U ap_app -c "SELECT (record_work_order('m', 0.2, 1, 0)).outcome" 2>&1)
is "$out" success "the application role records work orders"
out=$("${PSQL[@]}" -U ap_app -c "SELECT count(*) FROM proposer_failures" 2>&1)
[[ $out == *"permission denied"* ]]; ok $? "but cannot read the log"
out=$("${PSQL[@]}" -U ap_app -c "SELECT set_threshold('m', 0.9)" 2>&1)
[[ $out == *"permission denied"* ]]; ok $? "nor change thresholds"
out=$("${PSQL[@]}" -U ap_app -c "SET adaptive_prompts.success_sample_rate = 1" 2>&1)
[[ $out == *"cannot be changed now"* ]]; ok $? "nor change the sample rate in its session"
out=$("${PSQL[@]}" -U ap_app -c "SET adaptive_prompts.window_size = 5" 2>&1)
[[ $out == *"cannot be changed now"* ]]; ok $? "nor the window size"
out=$("${PSQL[@]}" -U ap_app -c "SELECT complexity_band(0.3), sanitizer_excluded_codes('{unquoted_module_declarations}'),
                                   (sanitize_typescript('const a = “x”;')).changes_made" 2>&1)
is "$out" "0.3-0.4|{TS1443,TS2819}|{smart_double_quotes}" "the pure helpers work for a role without grants"
q "DROP OWNED BY ap_app" >/dev/null
q "DROP ROLE ap_app" >/dev/null

done_testing
