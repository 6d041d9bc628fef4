# Helpers for the integration tests of the background worker (sourced after
# test/tap.sh).  Each test runs its own small cluster, so that it can set
# postmaster-level settings, restart, crash and stop the server without
# touching test/run's cluster, and its own mock of the Messages API
# (test/mock_anthropic.py) on a free loopback port.
#
#   wk_start_mock '{"default": "text", ...}'   scenarios (see the mock)
#   wk_start_cluster [CONF_LINE...]             initdb + start; the worker
#                                               serves database postgres
#   wq SQL                                      one statement on that cluster
#   wk_wait SQL EXPECTED [SECONDS]              poll until SQL returns EXPECTED
#   wk_pg_ctl ARGS...                           pg_ctl on that cluster
#   wk_worker_pid                               pid of the worker, or ""
#   wk_mock_log                                 the mock's request log (JSON lines)
#   wk_set_scenarios JSON                       change the scenarios (read per request)
#
# Set by them: WK_DIR (temporary directory), WK_DATA, WK_PORT, WK_LOG
# (server log), MOCK_PORT, MOCK_LOG, WK_KEY (the API key the mock expects),
# WK_KEY_FILE.

WK_DIR=$(mktemp -d /tmp/ap_worker_test.XXXXXX)
chmod 755 "$WK_DIR"
chown "$AP_CLUSTER_USER" "$WK_DIR"
WK_DATA=$WK_DIR/data
WK_LOG=$WK_DIR/server.log
WK_PORT=$(ap_free_port)
# A recognisable key: the tests look for it everywhere it must not be.
WK_KEY="sk-ant-test-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
WK_KEY_FILE=$WK_DIR/api_key
MOCK_PID=

wk_cleanup() {
	if [[ -d $WK_DATA ]]; then
		ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$WK_DATA" -m immediate -w stop >/dev/null 2>&1
	fi
	[[ -n $MOCK_PID ]] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
	[[ -n ${WK_KEEP_LOG:-} ]] && cp "$WK_LOG" "$WK_KEEP_LOG" 2>/dev/null && cp "$MOCK_LOG" "$WK_KEEP_LOG.mock" 2>/dev/null
	rm -rf "$WK_DIR"
}
at_exit wk_cleanup

wk_set_scenarios() {
	printf '%s\n' "$1" >"$WK_DIR/scenarios.json.tmp" && mv "$WK_DIR/scenarios.json.tmp" "$WK_DIR/scenarios.json"
}

wk_start_mock() {
	wk_set_scenarios "${1:-{\"default\": \"text\"\}}"
	MOCK_LOG=$WK_DIR/mock.log
	: >"$MOCK_LOG"
	python3 "$AP_ROOT/test/mock_anthropic.py" --port 0 --port-file "$WK_DIR/mock.port" \
		--log "$MOCK_LOG" --scenarios "$WK_DIR/scenarios.json" --api-key "$WK_KEY" \
		>"$WK_DIR/mock.out" 2>&1 &
	MOCK_PID=$!
	for _ in $(seq 100); do
		[[ -s $WK_DIR/mock.port ]] && break
		sleep 0.05
	done
	MOCK_PORT=$(cat "$WK_DIR/mock.port" 2>/dev/null)
	[[ -n $MOCK_PORT ]]
}

wk_mock_log() { cat "$MOCK_LOG"; }

# The key file: the cluster user's, mode 0600.
wk_write_key_file() {
	printf '%s\n' "$WK_KEY" >"$WK_KEY_FILE"
	chown "$AP_CLUSTER_USER" "$WK_KEY_FILE"
	chmod 600 "$WK_KEY_FILE"
}

wk_pg_ctl() { ap_as_owner "$AP_PG_BIN/pg_ctl" -D "$WK_DATA" "$@" 9>&-; }

# wk_start_cluster [CONF_LINE...]: extra lines go to postgresql.conf.
wk_start_cluster() {
	local line
	wk_write_key_file
	ap_as_owner "$AP_PG_BIN/initdb" -D "$WK_DATA" -A trust -U "$AP_CLUSTER_USER" \
		--no-sync -E UTF8 --locale=C.UTF-8 >"$WK_DIR/initdb.log" 2>&1 || return 1
	cat >>"$WK_DATA/postgresql.conf" <<-CONF
		port = $WK_PORT
		listen_addresses = ''
		unix_socket_directories = '$WK_DIR'
		shared_preload_libraries = 'adaptive_prompts'
		fsync = off
		log_line_prefix = '%m [%p] %q%a '
		adaptive_prompts.database = 'postgres'
		adaptive_prompts.api_url = 'http://127.0.0.1:$MOCK_PORT/v1/messages'
		adaptive_prompts.api_key_file = '$WK_KEY_FILE'
		adaptive_prompts.naptime = 1
		adaptive_prompts.failure_trigger = 0
		adaptive_prompts.approvals_required = 2
		adaptive_prompts.request_timeout = 10
	CONF
	for line; do
		printf '%s\n' "$line" >>"$WK_DATA/postgresql.conf"
	done
	wk_pg_ctl -l "$WK_LOG" -w -t 60 start >/dev/null
}

wq() { "${PSQL[@]}" -h "$WK_DIR" -p "$WK_PORT" -U "$AP_CLUSTER_USER" -d postgres -c "$1"; }

# wk_wait SQL EXPECTED [SECONDS]: true once SQL returns EXPECTED.
wk_wait() {
	local sql=$1 expected=$2 seconds=${3:-30} i
	for ((i = 0; i < seconds * 10; i++)); do
		[[ $(wq "$sql" 2>/dev/null) == "$expected" ]] && return 0
		sleep 0.1
	done
	echo "# waited ${seconds}s for [$sql] = [$expected], last: [$(wq "$sql" 2>&1)]"
	return 1
}

wk_worker_pid() {
	wq "SELECT pid FROM pg_stat_activity WHERE backend_type = 'adaptive_prompts worker'" 2>/dev/null
}

# wk_seed_failures CODE COUNT: COUNT failed work orders with CODE.
wk_seed_failures() {
	wq "SELECT count(record_work_order('seed-model', 0.5, 2, 2, false, ARRAY['$1'],
	      jsonb_build_array(jsonb_build_object('code', '$1', 'message', 'Sample message ' || g || ' of $1.'))))
	    FROM generate_series(1, $2) g" >/dev/null
}

# wk_enqueue CODE [KIND]: a job inserted directly (bypassing the analysis);
# an improve job is made from the code's live text.
wk_enqueue() {
	if [[ ${2:-create} == improve ]]; then
		wq "INSERT INTO improvement_jobs (kind, error_code, context)
		    SELECT 'improve', '$1', jsonb_build_object('error_code', '$1', 'current_text', e.enhancement_text,
		           'current_version', e.version, 'priority', e.priority, 'times_used', 12,
		           'error_reduction_rate', 0.1, 'recent_failures', jsonb_build_array('Sample message of $1.'))
		    FROM prompt_enhancements e WHERE e.error_code = '$1' RETURNING id"
	else
		wq "INSERT INTO improvement_jobs (kind, error_code, context)
		    VALUES ('create', '$1', jsonb_build_object('error_code', '$1', 'occurrence_count', 7,
		            'samples', jsonb_build_array('Sample message of $1.'))) RETURNING id"
	fi
}
