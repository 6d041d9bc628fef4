#!/usr/bin/env bash
# build_enhanced_prompt() and get_active_prompt_version() only read: on a
# hot standby they return what the primary returns, including the arms of
# running A/B tests, while writers fail there.
#
# Run by test/run (TAP output) with PGHOST, PGPORT and PGUSER set; starts
# a standby of test/run's cluster with pg_basebackup and stops it at exit.
source "$(dirname "$0")/../tap.sh"
export PGOPTIONS="-c client_min_messages=warning"

new_database ap_standby
standby_dir=$(mktemp -d /tmp/adaptive_prompts_standby.XXXXXX)
chown "$AP_CLUSTER_USER" "$standby_dir"
standby_port=$(ap_free_port)
# Runs before the database is dropped (at_exit runs the latest first).
at_exit 'ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$standby_dir/data" -m immediate -w stop >/dev/null 2>&1; rm -rf "$standby_dir"'
standby() { "${PSQL[@]}" -h "$standby_dir" -p "$standby_port" -c "$1"; }

"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION adaptive_prompts;
SELECT register_proposer('standby-model', 0.5, 1);
SELECT register_prompt_version('standby-model', 'standby-model/v1', 'Prompt one.', NULL, true);
SELECT register_prompt_version('standby-model', 'standby-model/v2', 'Prompt two.');
SELECT start_prompt_test('standby-model/v2', 30);
SELECT set_enhancement('TS2345', 'Check argument types.', 7);
SELECT set_enhancement('TS7006', 'Annotate parameters.', 5);
INSERT INTO enhancement_versions (error_code, version, enhancement_text, source, status)
VALUES ('TS2345', 2, 'Compare each argument with the declared type.', 'auto', 'pending_approval');
SELECT approve_enhancement(id) FROM enhancement_versions WHERE error_code = 'TS2345' AND version = 2;
SELECT (record_work_order('standby-model', 0.5, 2, 2, false, '{TS7006}')).outcome FROM generate_series(1, 3);
SELECT refresh_enhancement_stats();
SQL

ap_as_owner "$AP_PG_BIN/pg_basebackup" -D "$standby_dir/data" -R -X stream -c fast \
	-h "$PGHOST" -p "$PGPORT" -U "$PGUSER" >/dev/null 2>&1
cat >>"$standby_dir/data/postgresql.conf" <<CONF
port = $standby_port
unix_socket_directories = '$standby_dir'
listen_addresses = ''
CONF
ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$standby_dir/data" -l "$standby_dir/standby.log" -w -t 60 start >/dev/null 9>&-
if ! ok $? "a hot standby of the cluster is running"; then
	note <"$standby_dir/standby.log"
	done_testing
	exit 1
fi

# Wait until the standby has replayed everything the primary wrote.
target=$(q "SELECT pg_current_wal_lsn()")
for _ in $(seq 1 100); do
	[[ $(standby "SELECT pg_last_wal_replay_lsn() >= '$target'" 2>/dev/null) == t ]] && break
	sleep 0.1
done

query="SELECT string_agg(b.version || ' ' || b.used::text || ' ' || md5(b.prompt), E'\n' ORDER BY g)
         FROM generate_series(1, 40) g,
              build_enhanced_prompt('standby-model', CASE WHEN g % 2 = 0 THEN NULL ELSE '{TS2345,TS7006}' END::text[],
                                    'wo-' || g) b"
on_primary=$(q "$query")
on_standby=$(standby "$query" 2>&1)
[[ -n $on_primary && $on_primary == "$on_standby" ]]
ok $? "build_enhanced_prompt on the standby returns what it returns on the primary" ||
	diff <(echo "$on_primary") <(echo "$on_standby") | note

[[ $(echo "$on_standby" | cut -d' ' -f1 | sort -u | wc -l) == 2 &&
	$(echo "$on_standby" | grep -c 'TS2345@2') -gt 0 && $(echo "$on_standby" | grep -c 'TS2345@1') -gt 0 ]]
ok $? "including the arms of the running prompt and enhancement tests" || note "$on_standby"

query="SELECT string_agg(version || ' ' || md5(base_prompt), ',' ORDER BY g)
         FROM generate_series(1, 20) g, get_active_prompt_version('standby-model', 'wo-' || g)"
is "$(standby "$query" 2>&1)" "$(q "$query")" \
	"get_active_prompt_version on the standby returns what it returns on the primary"

writer=$(standby "SELECT set_enhancement('TS7006', 'x')" 2>&1)
[[ $writer == *"read-only transaction"* || $writer == *"recovery is in progress"* ]]
ok $? "a writer fails on the standby" || note "$writer"

# record_work_order writes directly into the window tables: on a standby it
# must refuse with 25006 before doing so, not fail inside the heap code.
recorder=$("${PSQL[@]}" -h "$standby_dir" -p "$standby_port" -v VERBOSITY=verbose \
	-c "SELECT record_work_order('standby-model', 0.5, 2, 2)" 2>&1)
[[ $recorder == *"ERROR:  25006:"* ]]
ok $? "record_work_order on the standby fails with 25006" || note "$recorder"

done_testing
