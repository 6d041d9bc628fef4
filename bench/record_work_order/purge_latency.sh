#!/usr/bin/env bash
# record_work_order's latency tail while expired rows are purged (issue 14):
# today's in-band ledger purge against the background worker's purge.
#
# One throwaway cluster (shared_preload_libraries with the worker), one
# database "bench", record_work_order with work_order_id (record.sql) at 8
# clients, -M prepared, synchronous_commit = off, autovacuum on.  Two modes,
# alternated, each round after a restart that switches the worker's database:
#   inband  adaptive_prompts.database = 'postgres' (no extension there): no
#           worker serves "bench", so record_work_order purges the ledger in
#           band (up to 2,048 expired rows every 1,024 calls of a backend);
#           the log is purged by a pg_cron-like loop in the shell running
#           fold_rollups() then purge_log(10000) every NAPTIME seconds;
#   worker  adaptive_prompts.database = 'bench': the worker folds, then
#           purges up to 10,000 log and 10,000 ledger rows every cycle
#           (adaptive_prompts.naptime = NAPTIME); the in-band purge is skipped.
#   none    the baseline: as inband, but nothing expires (work_order_retention
#           30 days, log_retention 0 = keep forever) and no loop: no purge.
# inband and worker purge the log alike and differ only in where the ledger
# is purged (and the worker's other periodic work).
#
# Before each round the ledger (work_orders) and the log (proposer_failures)
# are topped up with rows back-dated two days, beyond their retention (1 hour:
# nothing recorded during the run expires), so that both purges have work
# for the whole measurement; the expired rows left are counted before and
# after the measured run: that difference is what the purges removed.  The
# bench fails when a purge removed nothing or ran out of expired rows.
#
# While measuring, a psql session samples the wait events of the backends
# running record_work_order every 0.2 s, and log_lock_waits (deadlock_timeout
# = 50ms) logs lock waits longer than 50 ms.
#
#   bench/record_work_order/purge_latency.sh [seconds per round (30)] [rounds per mode (3)]
#   NAPTIME=10 bench/record_work_order/purge_latency.sh    # the default naptime
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
source "$here/lib.sh"
seconds=${1:-30}
rounds=${2:-3}
clients=8
threads=${THREADS:-2}
warmup=${WARMUP:-5}
naptime=${NAPTIME:-1}
ledger_expired=${LEDGER_EXPIRED:-1500000}
log_expired=${LOG_EXPIRED:-500000}
export AP_EXTRA_CONF="synchronous_commit = off
shared_buffers = 256MB
autovacuum = on
autovacuum_naptime = 10s
log_min_messages = log
log_lock_waits = on
deadlock_timeout = 50ms
adaptive_prompts.naptime = $naptime
adaptive_prompts.failure_trigger = 0"
ap_setup
export PGDATABASE=bench
ap_psql -d postgres -c "CREATE DATABASE bench"
ap_psql -c "CREATE EXTENSION adaptive_prompts"
for p in 1 2 3 4; do
	ap_psql -c "SELECT register_proposer('model-$p', 0.$((p * 2)), $p)" \
		-c "SELECT register_prompt_version('model-$p', 'model-$p/v1', 'Write TypeScript.', activate => true)" >/dev/null
done
ap_psql -c "SELECT set_enhancement('TS2345', 'Check argument types.'), set_enhancement('TS2322', 'Check assignments.')" >/dev/null

q() { ap_psql -At -c "$1"; }
pgb() { "$AP_PG_BIN/pgbench" -n -M prepared -c $clients -j "$threads" "$@" 2>&1; }
expired_ledger() { q "SELECT count(*) FROM work_orders WHERE recorded_at < now() - interval '1 hour'"; }
expired_log() { q "SELECT count(*) FROM proposer_failures WHERE created_at < now() - interval '1 hour'"; }
worker_db() {
	q "SELECT coalesce(string_agg(datname, ','), '-') FROM pg_stat_activity
	    WHERE backend_type = 'adaptive_prompts worker'"
}

# Restart with the worker serving DB and the retentions given (seconds), and
# wait until the worker has connected.
restart_serving() {
	local db=$1
	ap_psql -d postgres -c "ALTER SYSTEM SET adaptive_prompts.database = '$db'" \
		-c "ALTER SYSTEM SET adaptive_prompts.work_order_retention = $2" \
		-c "ALTER SYSTEM SET adaptive_prompts.log_retention = $3" >/dev/null
	ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$AP_DATA" -l "$AP_TMP/server.log" -w -t 60 -m fast restart >/dev/null 9>&-
	for _ in $(seq 100); do
		[[ $(worker_db) == "$db" ]] && return 0
		sleep 0.1
	done
	echo "the worker did not connect to $db" >&2
	return 1
}

seq_no=0
# Top the expired rows up to their targets, fold the new log rows (a row is
# folded by the second fold after it committed; purge_log never deletes a row
# not folded yet), then vacuum and checkpoint so that each round starts alike.
top_up() {
	local have
	seq_no=$((seq_no + 1))
	have=$(expired_ledger)
	if ((have < ledger_expired)); then
		q "INSERT INTO work_orders (work_order_id, recorded_at, proposer_name, outcome, complexity_band, logged)
		   SELECT 'old-$seq_no-' || g, now() - interval '2 days' - g * interval '1 ms',
		          'model-' || (1 + g % 4), 'failure', '0.5-0.6', true
		     FROM generate_series(1, $((ledger_expired - have))) g" >/dev/null
	fi
	have=$(expired_log)
	if ((have < log_expired)); then
		q "INSERT INTO proposer_failures (created_at, work_order_id, proposer_name, complexity_score,
		       complexity_band, initial_errors, final_errors, stalled, improvement_rate, outcome,
		       error_codes, prompt_enhancements_used, sample_rate)
		   SELECT now() - interval '2 days' - g * interval '1 ms', 'old-$seq_no-' || g,
		          'model-' || (1 + g % 4), 0.5, '0.5-0.6', 3, 3, false, 0, 'failure',
		          ARRAY['TS2345'], ARRAY['TS2345@1'], 1
		     FROM generate_series(1, $((log_expired - have))) g" >/dev/null
	fi
	q "SELECT fold_rollups()" >/dev/null
	q "SELECT fold_rollups()" >/dev/null
	q "VACUUM ANALYZE work_orders, proposer_failures" >/dev/null
	q "CHECKPOINT" >/dev/null
}

# pg_cron-like loop of the in-band mode: the log's fold and purge.
log_purge_loop() {
	while :; do
		"$AP_PG_BIN/psql" -X -q -At -c "SELECT fold_rollups()" -c "SELECT purge_log(10000)" >/dev/null 2>&1 || true
		sleep "$naptime"
	done
}

results=$(mktemp -d)
chmod 777 "$results"
cat >"$results/sample.sql" <<-'SQL'
	SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU')
	  FROM pg_stat_activity
	 WHERE datname = 'bench' AND state = 'active' AND pid <> pg_backend_pid()
	   AND query LIKE '%record_work_order%'
	\watch 0.2
SQL

# measure MODE ROUND: one measured run; appends a line to $results/summary.
measure() {
	local mode=$1 round=$2 dir=$results/$1.$2 tps l0 g0 l1 g1 loop_pid=0 sampler_pid log_from
	mkdir -p "$dir"
	chmod 777 "$dir"
	case $mode in
		worker) restart_serving bench 3600 3600 ;;
		inband) restart_serving postgres 3600 3600 ;;
		none) restart_serving postgres $((30 * 86400)) 0 ;;
	esac
	top_up
	pgb -T "$warmup" -f "$here/record.sql" >/dev/null
	[[ $mode == inband ]] && { log_purge_loop & loop_pid=$!; }
	"$AP_PG_BIN/psql" -X -At -f "$results/sample.sql" >"$dir/waits" 2>/dev/null &
	sampler_pid=$!
	log_from=$(($(stat -c %s "$AP_TMP/server.log") + 1))
	g0=$(expired_ledger)
	l0=$(expired_log)
	tps=$(cd "$dir" && pgb -T "$seconds" -l --log-prefix=tx -f "$here/record.sql" | tps_of)
	g1=$(expired_ledger)
	l1=$(expired_log)
	kill "$sampler_pid"
	((loop_pid)) && kill "$loop_pid"
	wait 2>/dev/null || true
	local lock_waits served
	lock_waits=$(tail -c +"$log_from" "$AP_TMP/server.log" | grep -c "still waiting for" || true)
	served=$(worker_db)
	cat "$dir"/tx.* | awk '{print $3}' | sort -n | awk -v mode="$mode" -v round="$round" -v tps="$tps" \
		-v gd=$((g0 - g1)) -v gl="$g1" -v ld=$((l0 - l1)) -v ll="$l1" -v lw="$lock_waits" -v srv="$served" '
		{ v[NR] = $1 }
		END {
			printf "%s %d %.0f %d %.0f %.0f %.0f %.0f %d %d %d %d %d %s\n", mode, round, tps, NR,
				v[int(NR * 0.50)], v[int(NR * 0.99)], v[int(NR * 0.999)], v[NR], gd, gl, ld, ll, lw, srv
		}' | tee -a "$results/summary" | awk '{
			printf "%-6s round %d: %6.0f tps, p50 %5d us, p99 %6d us, p99.9 %6d us, max %7d us; ledger -%d (%d left), log -%d (%d left); lock waits > 50 ms: %d; worker in: %s\n",
				$1, $2, $3, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }'
	echo "        hot-path wait events sampled: $(sort "$dir/waits" | grep . | uniq -c | sort -rn | head -5 | awk '{printf "%s %s, ", $2, $1}')"
	# What the lock waits over 50 ms waited for, and where.
	tail -c +"$log_from" "$AP_TMP/server.log" | awk '
		/still waiting for/ { w = $0; sub(/.*still waiting for /, "", w); sub(/ after .*/, "", w); want = 1; next }
		want && /CONTEXT:/ { c = $0; sub(/.*CONTEXT: +/, "", c); print w " / " c; want = 0; next }
		want && /(STATEMENT|LOG):/ { print w; want = 0 }' |
		sed -E 's/[0-9]+/N/g' | sort | uniq -c | sed 's/^/        lock wait: /'
	rm -f "$dir"/tx.*
}

echo "== $clients clients, -j $threads, ${seconds}s per round, $rounds rounds per mode, naptime ${naptime}s,"
echo "   expired rows topped up to $ledger_expired (ledger) and $log_expired (log) before each round"
for r in $(seq "$rounds"); do
	# Alternate which mode goes first, so that neither always follows the other.
	if ((r % 2)); then order="inband worker none"; else order="worker none inband"; fi
	for mode in $order; do measure "$mode" "$r"; done
done

# Fail when a purge did not run, or ran out of expired rows (then it idled
# for part of the run and the numbers understate it).
status=0
while read -r mode round _ _ _ _ _ _ gd gl ld ll _ srv; do
	[[ $mode == none ]] && continue
	if ((gd <= 0 || ld <= 0)); then
		echo "FAIL: $mode round $round: a purge removed nothing (ledger $gd, log $ld)" >&2
		status=1
	fi
	if ((gl == 0 || ll == 0)); then
		echo "FAIL: $mode round $round: the expired rows ran out (ledger $gl, log $ll left); raise LEDGER_EXPIRED / LOG_EXPIRED" >&2
		status=1
	fi
	want=postgres
	[[ $mode == worker ]] && want=bench
	if [[ $srv != "$want" ]]; then
		echo "FAIL: $mode round $round: the worker was in '$srv', not '$want'" >&2
		status=1
	fi
done <"$results/summary"

echo
echo "== median over rounds [min - max]"
printf '%-7s %-22s %-22s %-22s %-22s %-22s %-24s %-20s\n' mode tps "p50 (us)" "p99 (us)" "p99.9 (us)" "max (us)" "ledger rows purged" "log rows purged"
for mode in none inband worker; do
	line="$mode"
	for col in 3 5 6 7 8 9 11; do
		line+="|$(awk -v m="$mode" -v c="$col" '$1 == m { print $c }' "$results/summary" | sort -n |
			awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2;
			                          printf "%.0f [%.0f - %.0f]", m, a[1], a[NR] }')"
	done
	awk -F'|' '{ printf "%-7s %-22s %-22s %-22s %-22s %-22s %-24s %-20s\n", $1, $2, $3, $4, $5, $6, $7, $8 }' <<<"$line"
done

# What one purge costs the transaction that runs it (the in-band purge lands
# on one record_work_order call in 1,024 of a backend; the worker's batches
# run in its own transaction), timed alone on expired rows.
restart_serving postgres 3600 3600
top_up
echo 'SELECT purge_work_orders(2048);' >"$results/inband.sql"
echo 'SELECT purge_work_orders(10000);' >"$results/ledger.sql"
echo 'SELECT purge_log(10000);' >"$results/log.sql"
echo
echo "== one purge timed alone (20 calls each in one session after a first call that warms it,"
echo "   nothing else running in this cluster)"
for f in inband ledger log; do
	mkdir -p "$results/t.$f"
	chmod 777 "$results/t.$f"
	(cd "$results/t.$f" && "$AP_PG_BIN/pgbench" -n -c 1 -t 21 -l --log-prefix=tx -f "$results/$f.sql" >/dev/null 2>&1)
	# The first call of a session pays for its caches (40-120 ms here); the
	# in-band purge runs in a backend's 1,024th call, so it is left out.
	cat "$results/t.$f"/tx.* | awk 'NR > 1 {print $3}' | sort -n | awk -v f="$f" '
		{ v[NR] = $1 }
		END { printf "%-7s %-34s median %6.1f ms, max %6.1f ms\n", f,
			(f == "inband" ? "purge_work_orders(2048), in band" : f == "ledger" ? "purge_work_orders(10000), worker" : "purge_log(10000), worker"),
			v[int((NR + 1) / 2)] / 1000, v[NR] / 1000 }'
done
rm -rf "$results"
exit $status
