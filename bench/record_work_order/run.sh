#!/usr/bin/env bash
# Benchmark of record_work_order (issue 2).  One run, on a throwaway cluster:
#   (a) a single-row INSERT of a minimal work order (the practical limit),
#   (b) record_work_order with realistic arguments,
#   (c) the PL/pgSQL port of the notes' Components 5-6 (baseline.sql).
# Each workload is warmed up with 50,000 calls, then measured for the same
# duration in alternating rounds; the median TPS of the rounds is reported.
# Then the window tables are measured after 100k and 1M work orders of (b)
# with autovacuum on, and the storage per 1,000 work orders.
#
#   bench/record_work_order/run.sh [seconds per round (20)] [rounds (3)]
#   BENCH_STORAGE=0 bench/record_work_order/run.sh 10 1   # throughput only
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../test/lib.sh"
source "$here/lib.sh"
seconds=${1:-20}
rounds=${2:-3}
clients=2
export AP_EXTRA_CONF="synchronous_commit = off
shared_buffers = 256MB
autovacuum = on
autovacuum_naptime = 10s"
ap_setup
export PGDATABASE=bench
ap_psql -d postgres -c "CREATE DATABASE bench"
ap_psql -c "CREATE EXTENSION adaptive_prompts" -f "$here/baseline.sql" >/dev/null
for p in 1 2 3 4; do
	ap_psql -c "SELECT register_proposer('model-$p', 0.$((p * 2)), $p)" \
		-c "SELECT register_prompt_version('model-$p', 'model-$p/v1', 'Write TypeScript.', activate => true)" >/dev/null
done
ap_psql -c "SELECT set_enhancement('TS2345', 'Check argument types.'), set_enhancement('TS2322', 'Check assignments.')" >/dev/null

pgb() { "$AP_PG_BIN/pgbench" -n -M prepared -c $clients -j $clients "$@" 2>&1; }
window_bytes() {
	ap_psql -At -c "SELECT pg_total_relation_size('proposer_attempts') + pg_total_relation_size('proposer_success_metrics')"
}

echo "warming up: 50,000 calls of each workload"
for w in insert record baseline_call; do
	pgb -t $((50000 / clients)) -f "$here/$w.sql" >/dev/null
done
declare -A tps
for w in insert record baseline_call; do tps[$w]=""; done
for r in $(seq "$rounds"); do
	for w in insert record baseline_call; do
		t=$(pgb -T "$seconds" -f "$here/$w.sql" | tps_of)
		tps[$w]+="$t "
		printf 'round %d %-14s %10.0f tps\n' "$r" "$w" "$t"
	done
done
a=$(tr ' ' '\n' <<<"${tps[insert]}" | grep . | median)
b=$(tr ' ' '\n' <<<"${tps[record]}" | grep . | median)
c=$(tr ' ' '\n' <<<"${tps[baseline_call]}" | grep . | median)

echo
echo "== record_work_order benchmark ($clients clients, synchronous_commit = off, $rounds x ${seconds}s rounds, median)"
printf '(a) single-row INSERT              %10.0f tps\n' "$a"
printf '(b) record_work_order              %10.0f tps\n' "$b"
printf '(c) PL/pgSQL Components 5-6        %10.0f tps\n' "$c"
printf 'b/c = %.2f   (target >= 2)\n' "$(echo "$b / $c" | bc -l)"
printf 'b/a = %.2f   (aim >= 0.5)\n' "$(echo "$b / $a" | bc -l)"

# Latency of (b) from pgbench's per-transaction log: the tail shows what the
# in-band ledger purge and the lap recount cost the callers that run them.
latency_dir=$(mktemp -d)
chmod 777 "$latency_dir"
(cd "$latency_dir" && pgb -T "$seconds" -l --log-prefix=record -f "$here/record.sql" >/dev/null)
cat "$latency_dir"/record.* | awk '{print $3}' | sort -n | awk '
	{ v[NR] = $1 }
	END {
		printf "(b) latency over %d calls: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
			NR, v[int(NR * 0.50)], v[int(NR * 0.99)], v[int(NR * 0.999)], v[NR]
	}'
rm -rf "$latency_dir"
[[ ${BENCH_STORAGE:-1} == 0 ]] && exit 0

# Storage: the (b) stream from zero in a fresh database, measured at 100k
# and at 1M work orders.
export PGDATABASE=bench_storage
ap_psql -d postgres -c "CREATE DATABASE bench_storage"
ap_psql -c "CREATE EXTENSION adaptive_prompts" -f "$here/baseline.sql" >/dev/null
for p in 1 2 3 4; do
	ap_psql -c "SELECT register_proposer('model-$p', 0.$((p * 2)), $p)" \
		-c "SELECT register_prompt_version('model-$p', 'model-$p/v1', 'Write TypeScript.', activate => true)" >/dev/null
done
ap_psql -c "SELECT set_enhancement('TS2345', 'Check argument types.'), set_enhancement('TS2322', 'Check assignments.')" >/dev/null
recorded() { ap_psql -At -c "SELECT count(*) FROM work_orders"; }
top_up() {
	local target=$1 have
	have=$(recorded)
	if ((have < target)); then pgb -t $(((target - have) / clients)) -f "$here/record.sql" >/dev/null; fi
	sleep 12 # let autovacuum visit, as it would in production
}
top_up 100000
n100k=$(recorded)
w100k=$(window_bytes)
top_up 1000000
n1m=$(recorded)
w1m=$(window_bytes)
storage=$(ap_psql -At -c "SELECT pg_total_relation_size('proposer_failures') + pg_total_relation_size('work_orders')
                               + pg_total_relation_size('proposer_attempts') + pg_total_relation_size('proposer_success_metrics')")
logged=$(ap_psql -At -c "SELECT count(*) FROM proposer_failures")

echo
echo "== storage of the (b) stream, autovacuum on"
printf 'window tables after %d work orders: %d bytes\n' "$n100k" "$w100k"
printf 'window tables after %d work orders: %d bytes  (ratio %.2f, target <= 1.5)\n' "$n1m" "$w1m" "$(echo "$w1m / $w100k" | bc -l)"
printf 'storage per 1,000 work orders (log + ledger + windows): %.0f bytes (%.3f MB; target < 1 MB); %d of %d logged\n' \
	"$(echo "$storage * 1000 / $n1m" | bc -l)" "$(echo "$storage * 1000 / $n1m / 1048576" | bc -l)" "$logged" "$n1m"
