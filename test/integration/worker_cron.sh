#!/usr/bin/env bash
# pg_cron (SPEC 4.5): schedule_auto_improvement('* * * * *') leads to an
# improvement_runs row with trigger cron within about a minute;
# unschedule_auto_improvement() removes the job.  (Slow: pg_cron runs jobs
# at the start of a minute.)
source "$(dirname "$0")/../tap.sh"
source "$AP_ROOT/test/worker_lib.sh"

wk_start_mock '{"default": "text"}'
wk_start_cluster "shared_preload_libraries = 'adaptive_prompts,pg_cron'" "cron.database_name = 'postgres'" \
	"cron.host = '$WK_DIR'"
ok $? "a cluster with the worker and pg_cron starts" || { note <"$WK_LOG"; done_testing; exit 1; }
wq "CREATE EXTENSION pg_cron" >/dev/null
wq "CREATE EXTENSION adaptive_prompts" >/dev/null

job=$(wq "SELECT schedule_auto_improvement('* * * * *')")
[[ $job =~ ^[0-9]+$ ]]
ok $? "schedule_auto_improvement returns the pg_cron job id ($job)"
is "$(wq "SELECT schedule || '|' || command || '|' || database FROM cron.job WHERE jobid = $job")" \
	"* * * * *|SELECT public.run_auto_improvement('cron')|postgres" "the job runs run_auto_improvement('cron') here"
is "$(wq "SELECT schedule_auto_improvement('*/5 * * * *') = $job")" t "scheduling again changes the same job"
wq "SELECT schedule_auto_improvement('* * * * *')" >/dev/null
wk_wait "SELECT count(*) > 0 FROM improvement_runs WHERE trigger = 'cron'" t 75
ok $? "an improvement_runs row with trigger cron appears within about a minute"
is "$(wq "SELECT status FROM cron.job_run_details WHERE jobid = $job ORDER BY runid LIMIT 1")" succeeded \
	"pg_cron records the run as succeeded"
is "$(wq "SELECT unschedule_auto_improvement()")" t "unschedule_auto_improvement() removes it"
is "$(wq "SELECT unschedule_auto_improvement()")" f "and returns false when there is none"

# From another database: a clear error whose hint is the statement to run.
wq "CREATE DATABASE other" >/dev/null
out=$("${PSQL[@]}" -h "$WK_DIR" -p "$WK_PORT" -U "$AP_CLUSTER_USER" -d other -v VERBOSITY=verbose \
	-c "SET client_min_messages = error" -c "CREATE EXTENSION adaptive_prompts" \
	-c "SELECT schedule_auto_improvement('0 3 * * 0')" 2>&1)
[[ $out == *55000* && $out == *"SELECT cron.schedule_in_database('adaptive_prompts auto-improvement in other', '0 3 * * 0', 'SELECT public.run_auto_improvement(''cron'')', 'other');"* ]]
ok $? "from another database: 55000 with the cron.schedule_in_database statement as hint" || note "$out"

done_testing
