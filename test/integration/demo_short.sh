#!/usr/bin/env bash
# The README's main job in its short mode (test/demo --short, on its own
# throwaway cluster with the worker and the mock of the API): the report's
# rows are there with values, an automatic text went through approval and
# its A/B test, a threshold experiment was decided, and the picture is a
# PNG that gnuplot drew.
source "$(dirname "$0")/../tap.sh"
out=$(mktemp -d)
at_exit "rm -rf $out"

# test/run holds the lock and has installed the extension.
AP_NESTED=1 "$AP_ROOT/test/demo" --short --png "$out/demo.png" >"$out/demo.log" 2>&1
status=$?
ok $status "test/demo --short runs to its end" || tail -n 40 "$out/demo.log" | note

summary=$out/demo_summary.json
[[ -s $summary ]]
ok $? "the demo wrote its summary" || exit 1

# check NAME PYTHON-EXPRESSION: the expression over the summary (s) and the
# report's rows by metric (r) is true.
check() {
	python3 - "$summary" "$2" <<-'PY'
		import json, sys
		s = json.load(open(sys.argv[1]))
		r = {row["metric"]: row for row in s["report"]}
		sys.exit(0 if eval(sys.argv[2]) else 1)
	PY
	ok $? "$1"
}

check "every Phase 3 and loop metric has a row" \
	'all(m in r for m in ["ts1443_reduction", "ts1443_sanitizer_fixed_share", "success_rate_band_0.3-0.4",
	     "threshold_promotions", "threshold_experiments_decided", "storage_bytes_per_1000_work_orders",
	     "window_stability", "enhancements_created", "enhancements_approved", "enhancements_promoted",
	     "enhancements_rolled_back", "enhancements_rejected"])'
check "and each of them has a value" 'all(row["value"] is not None for m, row in r.items() if not m.startswith("rate_reduction:"))'
check "storage per 1,000 work orders is under its target (1 MB)" \
	'r["storage_bytes_per_1000_work_orders"]["met"] is True'
check "at least one threshold experiment was decided" 's["threshold_experiments_decided"] >= 1'
if grep -q '"loop": true' "$summary"; then
	check "an automatic text was approved and went through its A/B test" 's["approved_and_tested_auto_texts"] >= 1'
	check "the report counts the worker's texts and the approvals" \
		'r["enhancements_created"]["value"] >= 1 and r["enhancements_approved"]["value"] >= 1'
	check "a targeted code has its rate before and after" \
		'any(m.startswith("rate_reduction:") and row["value"] is not None for m, row in r.items())'
else
	echo "ok $((TAP_COUNT + 1)) # skip this build has no learning loop (no worker)"
	TAP_COUNT=$((TAP_COUNT + 1))
fi

# The picture: the PNG signature, an IHDR of the size asked for, and more
# than a blank canvas.
python3 - "$out/demo.png" <<-'PY'
	import struct, sys
	data = open(sys.argv[1], "rb").read()
	assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
	assert data[12:16] == b"IHDR"
	width, height = struct.unpack(">II", data[16:24])
	assert (width, height) == (1200, 800), (width, height)
	assert len(data) > 30000, len(data)
PY
ok $? "the picture is a 1200x800 PNG of more than 30 kB" || ls -l "$out" | note
grep -q "The picture: $out/demo.png" "$out/demo.log"
ok $? "the demo prints where the picture is"
note "$(grep -E '^(round|done in)' "$out/demo.log" | tail -n 2)"

done_testing
