# node_pg.sh -- sourced by test/run.
#
#   node_pg_dir     prints a node_modules directory holding node-postgres
#                   (pg@$AP_NODE_PG_VERSION), installed once with npm into
#                   ${AP_CACHE_DIR:-/var/cache/adaptive_prompts}/npm and
#                   reused without network afterwards; prints the reason and
#                   returns 77 when npm is missing or the registry cannot be
#                   reached, 1 on other errors.
#
# The version is pinned so the example of docs/clients.md does not move
# under the tests: 8.23.1 is the newest pg at the time of writing.

AP_NODE_PG_VERSION=${AP_NODE_PG_VERSION:-8.23.1}

node_pg_dir() {
	local dir=${AP_CACHE_DIR:-/var/cache/adaptive_prompts}/npm/node-pg-$AP_NODE_PG_VERSION
	if [ -f "$dir/.complete" ]; then
		printf '%s\n' "$dir/node_modules"
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
		echo "node or npm unavailable"
		return 77
	fi
	mkdir -p "$dir" || return 1
	if ! (cd "$dir" && timeout 600 npm install --silent --no-audit --no-fund \
			--fetch-retries=2 --prefix "$dir" "pg@$AP_NODE_PG_VERSION") >"$dir.log" 2>&1 ||
	   [ ! -f "$dir/node_modules/pg/package.json" ]; then
		if ! timeout 60 npm ping >/dev/null 2>&1; then
			echo "npm registry unreachable (npm ping failed)"
			return 77
		fi
		echo "npm install pg@$AP_NODE_PG_VERSION failed:" >&2
		cat "$dir.log" >&2
		return 1
	fi
	touch "$dir/.complete"
	printf '%s\n' "$dir/node_modules"
}
