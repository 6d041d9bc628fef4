#!/usr/bin/env bash
# The worker's life (SPEC 5): pg_terminate_backend of the worker in the
# middle of a request -> restarted, the job completes; kill -9 -> the
# cluster's crash restart, no job lost or doubled; pg_ctl restart with
# queued jobs -> they resume; pg_ctl stop -m fast while a request hangs
# returns within seconds.  Also: a key file other users can read is
# refused, and SIGHUP reloads it.
source "$(dirname "$0")/../tap.sh"
source "$AP_ROOT/test/worker_lib.sh"

wk_start_mock '{"default": "text",
 "TS3001": {"scenario": "delay", "seconds": 3},
 "TS3002": {"scenario": "delay", "seconds": 3},
 "TS3004": {"scenario": "slow", "seconds": 60}}'
ok $? "the mock API listens"
wk_start_cluster "adaptive_prompts.request_timeout = 30"
ok $? "a cluster with the worker starts" || { note <"$WK_LOG"; done_testing; exit 1; }
wq "CREATE EXTENSION adaptive_prompts" >/dev/null

# requests_for CODE: requests the mock logged for CODE (a line is written
# when the answer is sent, or when the client went away).
requests_for() { grep -c "\"code\": \"$1\"" "$MOCK_LOG"; }

# 1. pg_terminate_backend in the middle of a request.
id=$(wk_enqueue TS3001)
wk_wait "SELECT status FROM improvement_jobs WHERE id = $id" running 20
pid=$(wk_worker_pid)
sleep 0.5
wq "SELECT pg_terminate_backend($pid)" >/dev/null
wk_wait "SELECT status || ':' || attempts FROM improvement_jobs WHERE id = $id" "done:2" 30
ok $? "after pg_terminate_backend mid-request the worker is restarted and the job completes (second attempt)"
new_pid=$(wk_worker_pid)
[[ -n $new_pid && $new_pid != "$pid" ]]
ok $? "by a new worker process ($pid -> $new_pid)"
is "$(wq "SELECT count(*) FROM enhancement_versions WHERE job_id = $id")" 1 "one version for the job"
is "$(requests_for TS3001)" 2 "the mock saw the interrupted request and the second one"
grep -q "terminating background worker \"adaptive_prompts worker\" due to administrator command" "$WK_LOG"
ok $? "the worker ended on SIGTERM as a background worker should"
grep -q 'requeued' "$WK_LOG"
ok $? "the restarted worker requeued the job it had left running"

# 2. kill -9 in the middle of a request: the postmaster restarts everything.
id=$(wk_enqueue TS3002)
wk_wait "SELECT status FROM improvement_jobs WHERE id = $id" running 20
pid=$(wk_worker_pid)
sleep 0.5
kill -9 "$pid"
sleep 1
wk_wait "SELECT status || ':' || attempts FROM improvement_jobs WHERE id = $id" "done:2" 40
ok $? "after kill -9 of the worker the cluster restarts and the job completes"
grep -q "terminated by signal 9" "$WK_LOG"
ok $? "the crash restart happened (expected after kill -9)"
is "$(wq "SELECT count(*) FROM enhancement_versions WHERE job_id = $id")" 1 "one version, nothing doubled"
is "$(wq "SELECT count(*) FROM improvement_jobs WHERE status NOT IN ('done')")" 0 "no job lost"

# 3. A key file other users can read is refused; jobs wait in the queue.
chmod 644 "$WK_KEY_FILE"
wq "SELECT pg_reload_conf()" >/dev/null
sleep 1.5
grep -q "the API key file is accessible by other users" "$WK_LOG"
ok $? "a key file of mode 0644 is refused with a LOG line"
wk_wait "SELECT state FROM worker_status()" "waiting for an API key" 10
ok $? "worker_status() says the worker waits for a key"
ids=$(for c in TS3101 TS3102 TS3103; do wk_enqueue $c; done | paste -sd,)
sleep 2
is "$(wq "SELECT count(*) FROM improvement_jobs WHERE id IN ($ids) AND status = 'queued'")" 3 "jobs wait in the queue"

# 4. pg_ctl restart with queued jobs: they resume.
chmod 600 "$WK_KEY_FILE"
wk_pg_ctl -m fast -w restart -l "$WK_LOG" >/dev/null
ok $? "pg_ctl restart"
wk_wait "SELECT count(*) FROM improvement_jobs WHERE id IN ($ids) AND status = 'done'" 3 20
ok $? "the queued jobs resume after the restart"

# 5. pg_ctl stop -m fast while a request hangs.
id=$(wk_enqueue TS3004)
wk_wait "SELECT status FROM improvement_jobs WHERE id = $id" running 20
sleep 1
start=$(date +%s.%N)
wk_pg_ctl -m fast -w -t 30 stop >/dev/null
stopped=$?
elapsed=$(python3 -c "print('%.2f' % ($(date +%s.%N) - $start))")
note "pg_ctl stop -m fast with a hanging request took ${elapsed}s"
ok $stopped "pg_ctl stop -m fast succeeds while a request hangs"
python3 -c "import sys; sys.exit(0 if $elapsed < 5 else 1)"
ok $? "and returns within 5 s"
wk_pg_ctl -l "$WK_LOG" -w start >/dev/null
wk_wait "SELECT status || ':' || attempts FROM improvement_jobs WHERE id = $id" "running:2" 20
ok $? "after the next start the hanging job is requeued and tried again"

done_testing
