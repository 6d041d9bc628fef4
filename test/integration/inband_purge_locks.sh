#!/usr/bin/env bash
# The in-band ledger purge (record_work_order's fallback while no worker
# serves the database) runs before the call locks any shared row: a purge
# that held the window's metrics row would make every concurrent caller of
# that proposer and band wait for it (bench/record_work_order/purge_latency.sh
# showed lock waits over 50 ms on proposer_success_metrics with the purge
# at the end of the call).
#
# The 1,024th call of a backend purges.  Here that purge is held up by a
# session that has locked work_orders in SHARE mode (the calls pass no
# work_order_id, so nothing else in them touches the ledger): while it
# waits, another session must be able to lock the caller's metrics row.
source "$(dirname "$0")/../tap.sh"
new_database ap_inband_purge
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT register_proposer('m', 0.5, 1)" >/dev/null

is "$(q "SELECT count(*) FROM pg_stat_activity
          WHERE backend_type = 'adaptive_prompts worker' AND datname = current_database()")" 0 \
	"no worker serves this database, so record_work_order purges in band"

q "INSERT INTO work_orders (work_order_id, recorded_at, proposer_name, outcome, complexity_band, logged)
   SELECT 'expired-' || g, now() - interval '30 days', 'm', 'failure', '0.5-0.6', true
     FROM generate_series(1, 10) g" >/dev/null
expired="SELECT count(*) FROM work_orders WHERE work_order_id LIKE 'expired-%'"

session_open
at_exit 'session_close 2>/dev/null'
caller=$(session_ask "SELECT pg_backend_pid();")
# last_line VALUE: wait (up to 30 s) until the session's last line is VALUE;
# print that line.
last_line() {
	for _ in $(seq 600); do
		[[ $(tail -n 1 "$TAP_SESSION_DIR/out") == "$1" ]] && break
		sleep 0.05
	done
	tail -n 1 "$TAP_SESSION_DIR/out"
}
echo "SELECT count(record_work_order('m', 0.55, 2, 1)) FROM generate_series(1, 1023);" >&3
is "$(last_line 1023)" 1023 "1,023 calls in one backend"
is "$(q "$expired")" 10 "the first 1,023 calls of a backend do not purge"

PGAPPNAME=ledger_locker "${PSQL[@]}" -c "BEGIN" -c "LOCK TABLE work_orders IN SHARE MODE" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
locker_job=$!
at_exit "kill $locker_job 2>/dev/null"
for _ in $(seq 600); do
	[[ $(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ledger_locker' AND wait_event = 'PgSleep'") == 1 ]] && break
	sleep 0.05
done

echo "SELECT (record_work_order('m', 0.55, 2, 1)).outcome;" >&3
waiting=""
for _ in $(seq 600); do
	waiting=$(q "SELECT l.relation::regclass FROM pg_locks l
	              WHERE l.pid = $caller AND NOT l.granted AND l.locktype = 'relation'")
	[[ -n $waiting ]] && break
	sleep 0.05
done
is "$waiting" work_orders "the 1,024th call's purge waits for the lock on work_orders"

out=$(q "SELECT last_seq FROM proposer_success_metrics
          WHERE proposer_name = 'm' AND complexity_band = '0.5-0.6' FOR UPDATE NOWAIT" 2>&1)
is "$out" 1023 "meanwhile its metrics row is not locked: the purge runs before the window is updated" || note "$out"

q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'ledger_locker'" >/dev/null
wait "$locker_job" 2>/dev/null
is "$(last_line failure)" failure "once the lock is released, the call completes"
is "$(q "$expired")" 0 "and its purge deleted the expired ledger rows"
is "$(q "SELECT last_seq FROM proposer_success_metrics WHERE proposer_name = 'm' AND complexity_band = '0.5-0.6'")" 1024 \
	"and the call was recorded in the window"

done_testing
