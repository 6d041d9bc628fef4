#!/usr/bin/env bash
# The API key (SPEC 5, 7): it appears in no table, no dump, no server log
# line and no error, with log_statement = all and log_min_messages = debug5;
# a non-superuser cannot learn it, read the key file or the job queue.
# https:// to a server with a self-signed certificate is refused, and
# http:// to an address that is not loopback is refused before connecting.
source "$(dirname "$0")/../tap.sh"
source "$AP_ROOT/test/worker_lib.sh"

wk_start_mock '{"default": "text", "TS4002": "401", "TS4003": "400"}'
ok $? "the mock API listens"
wk_start_cluster "log_statement = 'all'" "log_min_messages = debug5" "log_min_error_statement = debug5" \
	"adaptive_prompts.max_attempts = 1"
ok $? "a cluster with the worker starts (log_statement = all, log_min_messages = debug5)" ||
	{ note <"$WK_LOG"; done_testing; exit 1; }
wq "CREATE EXTENSION adaptive_prompts" >/dev/null

for c in TS4001 TS4002 TS4003; do wk_enqueue $c >/dev/null; done
wk_wait "SELECT count(*) FROM improvement_jobs WHERE status IN ('done', 'failed')" 3 20
ok $? "three jobs answered (a text, a 401 and a 400)"
is "$(grep -c '"key_ok": true' "$MOCK_LOG")" 3 "the key reached the API"

# A non-superuser with the writer grants of the README.
wq "CREATE ROLE ap_app LOGIN" >/dev/null
wq "GRANT USAGE ON SCHEMA public TO ap_app" >/dev/null
wq "GRANT EXECUTE ON FUNCTION record_work_order(text, float8, integer, integer, boolean, text[], jsonb, text, text[], text[], text),
          build_enhanced_prompt(text, text[], text), get_active_prompt_version(text, text), route_work_order(float8, text) TO ap_app" >/dev/null
app() { "${PSQL[@]}" -h "$WK_DIR" -p "$WK_PORT" -U ap_app -d postgres -c "$1" 2>&1; }
out=$(app "SHOW adaptive_prompts.api_key_file")
[[ $out == *"must be superuser"* || $out == *"permission denied"* || $out == *"pg_read_all_settings"* ]]
ok $? "a non-superuser cannot see adaptive_prompts.api_key_file" || note "$out"
out=$(app "SELECT pg_read_file('$WK_KEY_FILE')")
[[ $out == *"permission denied"* ]]
ok $? "nor read the key file" || note "$out"
out=$(app "SELECT * FROM improvement_jobs")
[[ $out == *"permission denied"* ]]
ok $? "nor the job queue" || note "$out"
out=$(app "SELECT * FROM worker_status()")
[[ $out == *"permission denied"* ]]
ok $? "nor worker_status()" || note "$out"
out=$(app "SELECT run_auto_improvement()")
[[ $out == *"permission denied"* ]]
ok $? "nor start a run" || note "$out"
out=$(app "SELECT coalesce(setting, '<hidden>') FROM pg_settings WHERE name = 'adaptive_prompts.api_key_file'")
[[ $out != *"$WK_KEY_FILE"* ]]
ok $? "pg_settings hides the key file's path from it" || note "$out"

# https:// with a self-signed certificate, http:// to a non-loopback address.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
	-keyout "$WK_DIR/tls.key" -out "$WK_DIR/tls.crt" >/dev/null 2>&1
python3 "$AP_ROOT/test/mock_anthropic.py" --port 0 --port-file "$WK_DIR/tls.port" \
	--log "$WK_DIR/tls.log" --scenarios "$WK_DIR/scenarios.json" --api-key "$WK_KEY" \
	--tls-cert "$WK_DIR/tls.crt" --tls-key "$WK_DIR/tls.key" >/dev/null 2>&1 &
tls_pid=$!
at_exit "kill $tls_pid 2>/dev/null"
for _ in $(seq 100); do [[ -s $WK_DIR/tls.port ]] && break; sleep 0.05; done
wq "ALTER SYSTEM SET adaptive_prompts.api_url = 'https://127.0.0.1:$(cat "$WK_DIR/tls.port")/v1/messages'" >/dev/null
wq "SELECT pg_reload_conf()" >/dev/null
sleep 1
id=$(wk_enqueue TS4004)
wk_wait "SELECT status || ':' || error_type FROM improvement_jobs WHERE id = $id" "failed:connection_error" 20
ok $? "https:// to a server with a self-signed certificate is refused"
is "$(cat "$WK_DIR/tls.log" 2>/dev/null | grep -c '"code": "TS4004"')" 0 "no request reached it"

wq "ALTER SYSTEM SET adaptive_prompts.api_url = 'http://192.0.2.1/v1/messages'" >/dev/null
wq "SELECT pg_reload_conf()" >/dev/null
sleep 1
id=$(wk_enqueue TS4005)
wk_wait "SELECT status || ':' || error_type FROM improvement_jobs WHERE id = $id" "failed:url_refused" 20
ok $? "http:// to an address that is not loopback is refused before connecting"

# Where the key must not be.  (The query carries it as base64, so that the
# query itself is no hit.)
key64=$(printf %s "$WK_KEY" | base64 -w0)
out=$(wq "SELECT count(*) FROM (
            SELECT to_jsonb(t)::text AS row FROM improvement_jobs t UNION ALL
            SELECT to_jsonb(t)::text FROM improvement_runs t UNION ALL
            SELECT to_jsonb(t)::text FROM enhancement_versions t UNION ALL
            SELECT to_jsonb(t)::text FROM worker_status() t UNION ALL
            SELECT coalesce(setting, '') FROM pg_settings UNION ALL
            SELECT coalesce(query, '') FROM pg_stat_activity) r
          WHERE strpos(row, convert_from(decode('$key64', 'base64'), 'UTF8')) > 0")
is "$out" 0 "the key is in no table, setting or session activity"
"$AP_PG_BIN/pg_dump" -h "$WK_DIR" -p "$WK_PORT" -U "$AP_CLUSTER_USER" -d postgres >"$WK_DIR/dump.sql" 2>&1
ok $? "pg_dump of the database"
grep -q "improvement_jobs" "$WK_DIR/dump.sql"
ok $? "the dump holds the job queue"
! grep -qF "$WK_KEY" "$WK_DIR/dump.sql"
ok $? "the key is not in the dump"
wk_pg_ctl -m fast -w stop >/dev/null
! grep -qF "$WK_KEY" "$WK_LOG"
ok $? "the key is in no server log line ($(wc -l <"$WK_LOG") lines at debug5)" ||
	grep -F "$WK_KEY" "$WK_LOG" | head -3 | sed "s/$WK_KEY/<KEY>/g" | note
[[ $(wc -l <"$WK_LOG") -gt 1000 ]]
ok $? "(the log really is verbose)"
! grep -qF "$WK_KEY" "$WK_DATA/postgresql.auto.conf" "$WK_DATA/postgresql.conf"
ok $? "nor in the configuration files"

done_testing
