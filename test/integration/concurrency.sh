#!/usr/bin/env bash
# Concurrency: 4 pgbench clients x 2,500 work orders on one (proposer, band),
# then spread over many keys.  No errors, no deadlocks, and afterwards the
# window and metrics invariants hold for every key.
source "$(dirname "$0")/../tap.sh"
new_database ap_concurrency
q "CREATE EXTENSION adaptive_prompts" >/dev/null
for p in 0 1 2 3 4 5 6 7; do q "SELECT register_proposer('p$p', 0.$p, $p)" >/dev/null; done
q "SELECT register_proposer('hot', 0.3, 1)" >/dev/null

dir=$(mktemp -d)
cat >"$dir/one_key.sql" <<'SQL'
\set n random(1, 1000000000)
\set final random(0, 3)
SELECT record_work_order('hot', 0.35, 3, :final, error_codes => '{TS2345}',
                         work_order_id => 'one-' || :client_id || '-' || :n);
SQL
cat >"$dir/many_keys.sql" <<'SQL'
\set n random(1, 1000000000)
\set p random(0, 7)
\set score random(0, 1000)
\set final random(0, 4)
SELECT record_work_order('p' || :p, :score / 1000.0, 4, :final,
                         stalled => (:n % 13 = 0), work_order_id => 'many-' || :client_id || '-' || :n);
SQL

invariants() {
	q "SELECT count(*) FROM proposer_success_metrics m
	     LEFT JOIN (SELECT proposer_name, complexity_band, count(*)::int n,
	                       (count(*) FILTER (WHERE was_success))::int s,
	                       avg(improvement_rate) imp, max(seq) mx, min(seq) mn, count(DISTINCT slot) slots
	                  FROM proposer_attempts GROUP BY 1, 2) a USING (proposer_name, complexity_band)
	    WHERE a.n IS NULL OR m.attempts <> a.n OR m.successes <> a.s OR a.n > 50
	       OR abs(m.success_rate - a.s::float8 / a.n) > 1e-12
	       OR abs(m.avg_improvement_rate - a.imp) > 1e-9
	       OR m.last_seq <> a.mx OR a.mx - a.mn + 1 <> a.n OR a.slots <> a.n"
}

for script in one_key many_keys; do
	pgbench -n -c 4 -j 2 -t 2500 -f "$dir/$script.sql" >"$dir/$script.log" 2>&1
	ok $? "$script: pgbench 4 clients x 2,500 work orders ran without errors"
	grep -E "number of (failed|transactions actually processed)" "$dir/$script.log" | sed 's/^/# /'
	! grep -qiE "deadlock|ERROR" "$dir/$script.log"; ok $? "$script: no deadlock or error reported"
	is "$(invariants)" 0 "$script: every window holds <= 50 contiguous attempts and equals its metrics"
done

total=$(q "SELECT sum(last_seq) FROM proposer_success_metrics")
ledger=$(q "SELECT count(*) FROM work_orders")
is "$total" "$ledger" "every recorded work order took exactly one window step (ids that repeated were duplicates)"
is "$(q "SELECT count(*) FROM proposer_failures WHERE outcome = 'failure'")" \
   "$(q "SELECT count(*) FROM work_orders WHERE outcome = 'failure'")" "every failure was logged exactly once"
rm -rf "$dir"
done_testing
