#!/usr/bin/env bash
# record_work_order caches "no experiment is open" per backend; a session
# that cached it must still count work orders of an experiment that another
# session starts later, and stop counting once it is decided.
source "$(dirname "$0")/../tap.sh"
new_database ap_activity
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT register_proposer('m', 0.3, 1)" >/dev/null
q "SELECT register_proposer('strong', 0.9, 9)" >/dev/null

session_open
ask() { session_ask "$1"; }

is "$(ask "SELECT coalesce((record_work_order('m', 0.35, 1, 0)).experiment_status, 'none');")" none \
	"no experiment: the long-lived session caches that nothing is open"
id=$(q "SELECT propose_threshold_increase('m', 0.4, 3)")
is "$(ask "SELECT (record_work_order('m', 0.35, 1, 0)).experiment_status;")" running \
	"an experiment started by another session is counted by the long-lived one"
is "$(q "SELECT sample_count FROM threshold_experiment_progress WHERE experiment_id = '$id'")" 1 "the count is 1"
ask "SELECT (record_work_order('m', 0.35, 1, 0)).experiment_status;" >/dev/null
is "$(ask "SELECT (record_work_order('m', 0.35, 1, 0)).experiment_status;")" promoted \
	"the third success promotes"
q "SELECT abort_experiment('$id', 'test over')" >/dev/null
is "$(ask "SELECT coalesce((record_work_order('m', 0.35, 1, 0)).experiment_status, 'none');")" none \
	"after the watch is aborted the long-lived session counts nothing"
is "$(q "SELECT current_sample_count || '/' || watch_sample_count FROM threshold_experiments WHERE id = '$id'")" "3/0" \
	"and the experiment's counts stayed exact"

# The same for A/B tests: the session cached "no test open" while reporting
# prompt versions; a prompt test started elsewhere is then counted.
q "SELECT register_prompt_version('m', 'm/v1', 'Write TypeScript.', activate => true)" >/dev/null
q "SELECT register_prompt_version('m', 'm/v2', 'Write strict TypeScript.')" >/dev/null
ask "SELECT (record_work_order('m', 0.2, 1, 0, prompt_version => 'm/v1', work_order_id => 'before-test')).outcome;" >/dev/null
q "SELECT start_prompt_test('m/v2', 30)" >/dev/null
version=$(ask "SELECT version FROM get_active_prompt_version('m', 'wo-ab-1');")
ask "SELECT (record_work_order('m', 0.2, 1, 0, prompt_version => '$version', work_order_id => 'wo-ab-1')).outcome;" >/dev/null
is "$(q "SELECT candidate_work_orders + incumbent_work_orders FROM ab_test_progress WHERE status = 'running'")" 1 \
	"a prompt test started by another session is counted by the long-lived one"

session_close
done_testing
