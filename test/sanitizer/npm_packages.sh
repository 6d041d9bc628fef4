# npm_packages.sh -- sourced by corpus_check.sh and fix_check.sh.
#
# Fetches pinned npm packages with `npm pack` into
# ${AP_CACHE_DIR:-/var/cache/adaptive_prompts}/npm and unpacks them there
# once; later runs use the cache and need no network.
#
#   npm_package_dir SPEC    prints the unpacked package directory of SPEC
#                           (e.g. typescript@6.0.3); when npm is missing or
#                           the registry cannot be reached it prints the
#                           reason instead and returns 77; 1 on other errors.
#
# The versions are pinned so the corpus does not move under the tests:
# typescript 6.0.3 is the last release that ships lib/*.d.ts and the
# JavaScript compiler API (7.x is the native port); @types/node 26.6.7 is
# the newest at the time of writing.  Override with AP_TYPESCRIPT_VERSION
# and AP_TYPES_NODE_VERSION.
#
# AP_SOURCE_PACKAGES lists the packages (pinned, the newest at the time of
# writing) that ship their TypeScript and TSX sources (src/*.ts, *.tsx)
# besides their declarations: React and React Native component libraries.
# corpus_check.sh runs the sanitizer over all their .ts and .tsx files.

AP_TYPESCRIPT_VERSION=${AP_TYPESCRIPT_VERSION:-6.0.3}
AP_TYPES_NODE_VERSION=${AP_TYPES_NODE_VERSION:-26.6.7}
AP_SOURCE_PACKAGES=${AP_SOURCE_PACKAGES:-"native-base@3.4.28
@blueprintjs/core@6.20.0
react-native-paper@5.15.4
@react-spectrum/s2@1.7.1
react-native-screens@4.30.1
react-native-svg@15.16.1
react-native-gesture-handler@3.5.0
react-native-reanimated@4.8.0
@gorhom/bottom-sheet@5.2.14
@react-navigation/stack@7.12.1
@react-navigation/elements@2.9.45
@react-navigation/bottom-tabs@7.21.0
@tanstack/react-query@5.108.4
@shopify/flash-list@2.3.2"}
npm_cache_dir=${AP_CACHE_DIR:-/var/cache/adaptive_prompts}/npm

npm_package_dir() {
	spec=$1
	# typescript@6.0.3 -> typescript-6.0.3 ; @types/node@26.6.7 -> types-node-26.6.7
	base=$(printf '%s' "$spec" | sed -e 's/^@//' -e 's#/#-#' -e 's/@/-/')
	dir=$npm_cache_dir/unpacked/$base
	if [ -f "$dir/.complete" ]; then
		printf '%s\n' "$dir"
		return 0
	fi
	if ! command -v npm >/dev/null 2>&1; then
		echo "npm unavailable"
		return 77
	fi
	mkdir -p "$npm_cache_dir/tarballs" "$npm_cache_dir/unpacked" || return 1
	tarball=$npm_cache_dir/tarballs/$base.tgz
	if [ ! -s "$tarball" ]; then
		log=$npm_cache_dir/npm-pack-$base.log
		if ! (cd "$npm_cache_dir/tarballs" &&
			  timeout 600 npm pack --silent --fetch-retries=2 "$spec") >"$log" 2>&1 ||
		   [ ! -s "$tarball" ]; then
			rm -f "$tarball"
			if ! timeout 60 npm ping >/dev/null 2>&1; then
				echo "npm registry unreachable (npm ping failed)"
				return 77
			fi
			echo "npm pack $spec failed:" >&2
			cat "$log" >&2
			return 1
		fi
	fi
	tmp=$dir.tmp.$$
	rm -rf "$tmp" && mkdir -p "$tmp" &&
		tar -xzf "$tarball" -C "$tmp" || { rm -rf "$tmp"; return 1; }
	# npm tarballs hold one top directory (package/, or node/ for @types)
	top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	rm -rf "$dir" && mv "$top" "$dir" && rm -rf "$tmp" && touch "$dir/.complete" ||
		return 1
	printf '%s\n' "$dir"
}
