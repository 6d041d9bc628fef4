#!/usr/bin/env bash
# Decision rules of threshold experiments chosen by the reload-level
# setting adaptive_prompts.decision_rule (TAP output): the rule and its
# parameters are copied onto the experiment when it starts, a later reload
# does not change a running decision, and no session can SET the rule.
# The same for the watch rule (adaptive_prompts.watch_rule) and for the
# rule of A/B tests (adaptive_prompts.ab_decision_rule), copied onto
# ab_tests rows.
#
# Changes the cluster's configuration with ALTER SYSTEM and resets it at
# exit.  Needs PGHOST/PGPORT/PGUSER of a running cluster (test/run).

source "$(dirname "$0")/../tap.sh"

new_database ap_experiment_rules
at_exit 'ap_reset_config adaptive_prompts.decision_rule adaptive_prompts.sprt_delta adaptive_prompts.watch_rule adaptive_prompts.ab_decision_rule >/dev/null 2>&1'

# feed PATTERN [SCORE]: record work orders for 'mini' in order (S success,
# F failure) with record_work_order; prints the status after the last one.
feed() {
	q "SELECT (SELECT r.experiment_status FROM generate_series(1, length('$1')) AS i,
	          LATERAL record_work_order('mini', ${2:-0.35}, 1,
	                                    CASE substr('$1', i, 1) WHEN 'S' THEN 0 ELSE 1 END) AS r
	        ORDER BY i DESC LIMIT 1)"
}
started_rule() {
	q "SELECT decision_rule || ' ' || coalesce(sprt_delta::text, '-') || ' ' || coalesce(sprt_alpha::text, '-') || ' ' || coalesce(sprt_beta::text, '-')
	     FROM threshold_experiments WHERE id = '$1'"
}
abort() { q "SELECT abort_experiment('$1', 'next test')" >/dev/null; }

"${PSQL[@]}" -c "CREATE EXTENSION adaptive_prompts" \
	-c "SELECT register_proposer('mini', 0.3, 1)" \
	-c "SELECT register_proposer('strong', 0.9, 10)" >/dev/null

is "$(q "SET adaptive_prompts.decision_rule = 'wilson'" 2>&1 | sed -n 's/^ERROR: *//p')" \
	'parameter "adaptive_prompts.decision_rule" cannot be changed now' \
	"no session can SET the decision rule (reload level)"

# ---------------------------------------------------------------------------
# wilson
# ---------------------------------------------------------------------------
set_config adaptive_prompts.decision_rule wilson
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(started_rule "$exp")" "wilson - - -" "the wilson rule is copied onto the experiment"
is "$(feed SSSSSSSSSSSSSSSSSSSSSFFFF)" running "21 successes and 4 failures: still running"
is "$(feed F)" rejected "21/30 cannot pass the Wilson rule: the fifth failure rejects"
is "$(q "SELECT current_sample_count || ' ' || (decision_reason ~ 'rule wilson: 26 of 30 successes needed') FROM threshold_experiments WHERE id = '$exp'")" \
	"26 true" "rejected at 26 samples with the rule in the reason"
is "$(q "SELECT complexity_threshold FROM proposers WHERE name = 'mini'")" 0.3 "the threshold is unchanged"
is "$(q "SELECT propose_threshold_increase('mini', 0.4, 30, 1.0)" 2>&1 | sed -n 's/^ERROR: *//p')" \
	"confidence 1 can never be reached with sample_size 30 under decision rule wilson" \
	"a confidence the Wilson bound can never reach is refused"

exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(feed SSSSSSSSSSSSSSSSSSSSSSSSSSFFFF)" promoted "26/30 passes the Wilson rule"
abort "$exp"

# ---------------------------------------------------------------------------
# sprt
# ---------------------------------------------------------------------------
set_config adaptive_prompts.decision_rule sprt
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(started_rule "$exp")" "sprt 0.1 0.05 0.2" "the sprt rule and its parameters are copied onto the experiment"
is "$(feed SSSSSSSSS)" running "nine straight successes: still running"
is "$(feed S)" promoted "the tenth straight success crosses the upper boundary"
abort "$exp"
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(feed FFF)" rejected "three straight failures cross the lower boundary"
is "$(q "SELECT propose_threshold_increase('mini', 0.4, 30, 0.95)" 2>&1 | sed -n 's/^ERROR: *//p')" \
	"confidence 0.95 cannot be tested by the sequential test" \
	"the SPRT refuses a confidence whose upper hypothesis exceeds 1"
set_config adaptive_prompts.sprt_delta 0.05
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(started_rule "$exp")" "sprt 0.05 0.05 0.2" "sprt_delta is copied when the experiment starts"

# ---------------------------------------------------------------------------
# A reload does not change a running decision
# ---------------------------------------------------------------------------
set_config adaptive_prompts.sprt_delta 0.1
# The running experiment keeps delta 0.05: with p0 0.65 and p1 0.75 ten
# straight successes are not yet enough (10 log(0.75/0.65) < log 16).
is "$(feed SSSSSSSSSS)" running "a running SPRT keeps the delta it started with"
abort "$exp"

set_config adaptive_prompts.decision_rule threshold
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(started_rule "$exp")" "threshold - - -" "the default rule is copied onto the experiment"
set_config adaptive_prompts.decision_rule wilson
is "$(feed SSSSSSSSSSSSSSSSSSSSSFFFFFFFFF)" promoted \
	"21/30 promotes an experiment started under the threshold rule after a reload to wilson"
abort "$exp"

set_config adaptive_prompts.decision_rule sprt
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
set_config adaptive_prompts.decision_rule threshold
is "$(feed SSSSSSSSSS)" promoted "an experiment started under sprt still decides at the tenth success after a reload"
abort "$exp"

# ---------------------------------------------------------------------------
# Watch rules, and the rules of A/B tests
# ---------------------------------------------------------------------------
set_config adaptive_prompts.watch_rule end_of_watch
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(q "SELECT watch_rule || ' ' || coalesce(watch_p_good::text, '-') FROM threshold_experiments WHERE id = '$exp'")" \
	"below_bar -" "watch_rule end_of_watch is copied onto the experiment as below_bar"
set_config adaptive_prompts.watch_rule sequential
is "$(feed SSSSSSSSSSSSSSSSSSSSSSSSSSSSSS)" promoted "30/30 promotes"
is "$(feed FFFFF 0.4)" promoted \
	"five straight watched failures do not end a below_bar watch started before the reload"
abort "$exp"
exp=$(q "SELECT propose_threshold_increase('mini', 0.4)")
is "$(q "SELECT watch_rule || ' ' || round(watch_p_good::numeric, 2) || ' ' || round(watch_p_bad::numeric, 2) FROM threshold_experiments WHERE id = '$exp'")" \
	"sprt 0.75 0.55" "watch_rule sequential is copied as sprt with its rates"
is "$(feed SSSSSSSSSSSSSSSSSSSSSSSSSSSSSS)" promoted "30/30 promotes"
is "$(feed FFFFF 0.4)" rolled_back "five straight watched failures end an sprt watch at once"

is "$(q "SET adaptive_prompts.ab_decision_rule = 'fixed_alpha'" 2>&1 | sed -n 's/^ERROR: *//p')" \
	'parameter "adaptive_prompts.ab_decision_rule" cannot be changed now' \
	"no session can SET the A/B rule (reload level)"
set_config adaptive_prompts.ab_decision_rule fixed_alpha
set_config adaptive_prompts.watch_rule end_of_watch
q "SELECT register_prompt_version('mini', 'mini/v1', 'One.', NULL, true)" >/dev/null
q "SELECT register_prompt_version('mini', 'mini/v2', 'Two.')" >/dev/null
q "SELECT start_prompt_test('mini/v2', 30)" >/dev/null
is "$(q "SELECT decision_rule || ' ' || watch_rule FROM ab_tests WHERE subject = 'mini' AND status = 'running'")" \
	"fixed_alpha fixed_alpha" "an A/B test copies the rules in force when it starts"
q "SELECT abort_ab_test(id, 'next test') FROM ab_tests WHERE subject = 'mini' AND status = 'running'" >/dev/null
set_config adaptive_prompts.ab_decision_rule lan_demets_obf
set_config adaptive_prompts.watch_rule sequential
q "SELECT start_prompt_test('mini/v2', 30)" >/dev/null
is "$(q "SELECT decision_rule || ' ' || watch_rule FROM ab_tests WHERE subject = 'mini' AND status = 'running'")" \
	"lan_demets_obf lan_demets_pocock" "the defaults: group-sequential test, sequential watch"

done_testing
