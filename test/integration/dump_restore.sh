#!/usr/bin/env bash
# pg_dump keeps the extension's data: a dump restored into a new database
# has the same rows, the identity sequences continue, and the seeded rows of
# sanitizer_error_map are not duplicated.
source "$(dirname "$0")/../tap.sh"
new_database ap_dump_source
q "CREATE EXTENSION adaptive_prompts" >/dev/null
q "SELECT register_proposer('m', 0.3, 1)" >/dev/null
q "SELECT count(record_work_order('m', (i % 10) / 10.0, 3, i % 3, work_order_id => 'wo-' || i)) FROM generate_series(1, 300) i" >/dev/null
q "SELECT set_enhancement('TS2345', 'Check argument types against the parameter types.', 7)" >/dev/null
q "INSERT INTO sanitizer_error_map (change, error_code) VALUES ('unicode_dashes', 'TS1109')" >/dev/null
q "SELECT propose_threshold_increase('m', 0.4, 10)" >/dev/null

snapshot() {
	"${PSQL[@]}" -d "$1" -c "SELECT (SELECT count(*) FROM proposer_failures) || ' ' || (SELECT count(*) FROM work_orders)
	    || ' ' || (SELECT sum(last_seq) FROM proposer_success_metrics) || ' ' || (SELECT count(*) FROM proposer_attempts)
	    || ' ' || (SELECT count(*) FROM sanitizer_error_map) || ' ' || (SELECT count(*) FROM enhancement_versions)
	    || ' ' || (SELECT count(*) FROM threshold_experiments) || ' ' || (SELECT max(id) FROM proposer_failures)"
}
before=$(snapshot ap_dump_source)

dump=$(mktemp)
pg_dump -d ap_dump_source -f "$dump"
ok $? "pg_dump succeeds"
"${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS ap_dump_target" -c "CREATE DATABASE ap_dump_target" >/dev/null
at_exit 'drop_database ap_dump_target; rm -f "$dump"'
"${PSQL[@]}" -d ap_dump_target -f "$dump" >/dev/null 2>"$dump.err"
ok $? "the dump restores without errors"
[[ -s $dump.err ]] && sed 's/^/# /' "$dump.err" | head -5
rm -f "$dump.err"

is "$(snapshot ap_dump_target)" "$before" "every table has the same rows after restore (seeded map rows not duplicated)"
next_before=$("${PSQL[@]}" -d ap_dump_source -c "SELECT (SELECT max(id) FROM proposer_failures) + 1")
"${PSQL[@]}" -d ap_dump_target -c "SELECT record_work_order('m', 0.5, 2, 2, work_order_id => 'after-restore')" >/dev/null
is "$("${PSQL[@]}" -d ap_dump_target -c "SELECT id FROM proposer_failures WHERE work_order_id = 'after-restore'")" "$next_before" \
	"the log's identity sequence continues after restore"
is "$("${PSQL[@]}" -d ap_dump_target -c "SELECT (record_work_order('m', 0.1, 3, 0, work_order_id => 'wo-1')).duplicate")" t \
	"the idempotency ledger survives the restore"
done_testing
