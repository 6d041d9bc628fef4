#!/usr/bin/env bash
# The learning loop end to end (SPEC 4.5, 5): seeded failures ->
# run_auto_improvement() -> the worker asks the mock API -> versions
# pending approval -> a person approves -> testing -> the A/B test decides;
# once approvals_required (2 here) automatic texts were approved, the next
# goes straight to testing.  Also: the worker idles until CREATE EXTENSION,
# notices DROP EXTENSION and a new schema, and worker_status().
source "$(dirname "$0")/../tap.sh"
source "$AP_ROOT/test/worker_lib.sh"

wk_start_mock '{"default": "text"}'
ok $? "the mock API listens on 127.0.0.1:$MOCK_PORT"
wk_start_cluster
ok $? "a cluster with the worker starts" || { note <"$WK_LOG"; done_testing; exit 1; }

# Before CREATE EXTENSION the worker waits, and says so once.
wk_wait "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'adaptive_prompts worker'" 1 20
ok $? "the worker runs (pg_stat_activity names it)"
sleep 2.5
is "$(grep -c 'waiting for CREATE EXTENSION adaptive_prompts' "$WK_LOG")" 1 \
	"without the extension it logs one line and waits"

wq "CREATE EXTENSION adaptive_prompts" >/dev/null
wq "SELECT register_proposer('seed-model', 0.9, 1)" >/dev/null
wk_wait "SELECT state FROM worker_status()" idle 10
ok $? "after CREATE EXTENSION the worker serves the database (state idle)"
is "$(wq "SELECT pid = (SELECT pid FROM pg_stat_activity WHERE backend_type = 'adaptive_prompts worker')
            AND database = 'postgres' AND serves_this_database FROM worker_status()")" t \
	"worker_status() gives its pid and database"

# Three codes, each failing 6 times: three create jobs.
for code in TS1101 TS1102 TS1103; do wk_seed_failures "$code" 6; done
is "$(wq "SELECT string_agg(kind || ':' || error_code, ',' ORDER BY error_code) FROM run_auto_improvement()")" \
	"create:TS1101,create:TS1102,create:TS1103" "run_auto_improvement() enqueues a create job per frequent code"
is "$(wq "SELECT trigger || ':' || jobs_enqueued || ':' || create_jobs FROM improvement_runs")" "manual:3:3" \
	"and records the run"
is "$(wq "SELECT count(*) FROM run_auto_improvement()")" 0 "a second run enqueues nothing for codes with open jobs or pending texts"

wk_wait "SELECT count(*) FROM improvement_jobs WHERE status = 'done'" 3 20
ok $? "the worker answers the three jobs"
is "$(wq "SELECT count(*) FROM enhancement_versions WHERE source = 'auto' AND status = 'pending_approval'
            AND job_id IS NOT NULL AND decided_by = 'adaptive_prompts worker' AND created_by = 'adaptive_prompts worker'")" 3 \
	"each became a version pending approval, tied to its job, by the worker"
is "$(wq "SELECT bool_and(outcome = 'version_created' AND enhancement_version_id IS NOT NULL
                     AND input_tokens > 0 AND output_tokens > 0 AND request_id IS NOT NULL
                     AND model = 'claude-sonnet-4-5' AND attempts = 1 AND http_status = 200)
          FROM improvement_jobs")" t "jobs keep the outcome, the usage, the request id and the model"
is "$(wq "SELECT count(*) FROM improvement_runs WHERE finished_at IS NOT NULL")" 2 \
	"both runs have ended (the empty one at once)"
n=$(grep -c '"code": *"TS110[123]"' "$MOCK_LOG")
is "$n" 3 "the mock saw exactly one request per job"
is "$(grep -c '"key_ok": *true' "$MOCK_LOG")" 3 "each with the key from the key file" || wk_mock_log | note

# A person approves two: they are tested (no enhancement live: incumbent none).
out=$(wq "SELECT approve_enhancement(id) FROM enhancement_versions WHERE error_code IN ('TS1101', 'TS1102') ORDER BY id" 2>&1)
is "$(wq "SELECT string_agg(error_code || ':' || status, ',' ORDER BY error_code) FROM enhancement_versions WHERE source = 'auto'")" \
	"TS1101:testing,TS1102:testing,TS1103:pending_approval" "approved texts are in testing"
is "$(wq "SELECT count(*) FROM ab_tests WHERE kind = 'enhancement' AND status = 'running'")" 2 "their A/B tests run"

# The third automatic text goes straight to testing.
wk_seed_failures TS1104 6
is "$(wq "SELECT kind || ':' || error_code FROM run_auto_improvement()")" "create:TS1104" "a new code gets a job"
wk_wait "SELECT status FROM improvement_jobs WHERE error_code = 'TS1104'" done 20
ok $? "and is answered"
is "$(wq "SELECT v.status || ':' || v.decided_by || ':' || t.status || ':' || t.started_by
          FROM enhancement_versions v JOIN ab_tests t ON t.candidate_version_id = v.id
          WHERE v.error_code = 'TS1104'")" \
	"testing:adaptive_prompts worker:running:adaptive_prompts worker" \
	"after 2 approvals the next text goes straight to testing, started by the worker"
is "$(wq "SELECT decision_reason LIKE '%2 automatic texts were approved by a person%' FROM enhancement_versions WHERE error_code = 'TS1104'")" t \
	"and says why"

# The A/B test of TS1101 decides: the candidate lowers the code's rate.
wq "SELECT count(*) FROM generate_series(1, 200) g,
      LATERAL build_enhanced_prompt('seed-model', '{TS1101}', 'wo-' || g) b,
      LATERAL (SELECT (hashtext('r' || g) & 1023) / 1024.0 < CASE WHEN b.used = '{TS1101@1}' THEN 0.05 ELSE 0.6 END AS has_code) x,
      LATERAL record_work_order('seed-model', 0.5, 2, CASE WHEN x.has_code THEN 1 ELSE 0 END, false,
                                CASE WHEN x.has_code THEN '{TS1101}'::text[] ELSE '{}' END, '[]', b.version, b.used, '{}', 'wo-' || g) r" >/dev/null
is "$(wq "SELECT status IN ('promoted', 'watching', 'rejected') FROM ab_tests WHERE subject = 'TS1101'")" t \
	"the A/B test of an automatic text is decided"

# KEEP_AS_IS for an improve job: nothing changes.
wk_set_scenarios '{"default": "text", "TS1201": "keep"}'
wq "SELECT set_enhancement('TS1201', 'Check the types.')" >/dev/null
id=$(wk_enqueue TS1201 improve)
wk_wait "SELECT status || ':' || outcome FROM improvement_jobs WHERE id = $id" "done:kept_as_is" 20
ok $? "KEEP_AS_IS ends the job with outcome kept_as_is"
is "$(wq "SELECT count(*) FROM enhancement_versions WHERE error_code = 'TS1201'")" 1 "and creates no version"

# DROP EXTENSION is noticed; CREATE EXTENSION in another schema is served.
wq "DROP EXTENSION adaptive_prompts" >/dev/null
sleep 2
wq "CREATE SCHEMA learning" >/dev/null
wq "CREATE EXTENSION adaptive_prompts SCHEMA learning" >/dev/null
id=$(wq "INSERT INTO learning.improvement_jobs (kind, error_code, context)
      VALUES ('create', 'TS1301', '{\"error_code\": \"TS1301\", \"samples\": []}') RETURNING id")
wk_wait "SELECT status FROM learning.improvement_jobs WHERE id = $id" done 20
ok $? "after DROP and CREATE EXTENSION in another schema the worker serves the new one"
is "$(wq "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'adaptive_prompts worker'")" 1 \
	"the same worker, without a restart"
# The worker is connected to its own database only: dropping another is not blocked.
wq "CREATE DATABASE scratch" >/dev/null
wq "DROP DATABASE scratch" >/dev/null
ok $? "DROP DATABASE of another database is not blocked by the worker"

# A hot standby of this cluster: the worker does not run there.
sb=$WK_DIR/standby
sb_port=$(ap_free_port)
ap_as_owner "$AP_PG_BIN/pg_basebackup" -D "$sb" -R -X stream -c fast \
	-h "$WK_DIR" -p "$WK_PORT" -U "$AP_CLUSTER_USER" >/dev/null 2>&1
printf "port = %s\n" "$sb_port" >>"$sb/postgresql.conf"
ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$sb" -l "$WK_DIR/standby.log" -w -t 60 start >/dev/null 9>&-
ok $? "a hot standby of the cluster starts"
at_exit "ap_as_owner '$AP_PG_BIN/pg_ctl' -D '$sb' -m immediate -w stop >/dev/null 2>&1"
sleep 2
sbq() { "${PSQL[@]}" -h "$WK_DIR" -p "$sb_port" -U "$AP_CLUSTER_USER" -d postgres -c "$1"; }
is "$(sbq "SELECT pg_is_in_recovery()::text || ':' || count(*) FROM pg_stat_activity WHERE backend_type = 'adaptive_prompts worker'")" \
	"true:0" "no worker runs on the hot standby"
is "$(sbq "SELECT coalesce(pid::text, '-') || ':' || state FROM learning.worker_status()")" "-:not running" \
	"and worker_status() there says so"
ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$sb" -m fast -w stop >/dev/null

is "$(grep -c 'FATAL\|PANIC\|server process .* was terminated' "$WK_LOG")" 0 "no crash or FATAL in the server log" \
	|| grep 'FATAL\|PANIC\|terminated' "$WK_LOG" | note

done_testing
