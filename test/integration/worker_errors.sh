#!/usr/bin/env bash
# Every answer of the mock Messages API ends as SPEC 5 says: retried after
# the scripted delay (checked from the mock's request log) and then done, or
# failed with the API's error type and message; the worker stays up, no job
# is lost, and no job has two results or two versions.
source "$(dirname "$0")/../tap.sh"
source "$AP_ROOT/test/worker_lib.sh"

words=$(python3 -c 'print(" ".join(["word"] * 250))')
wk_start_mock "$(
	cat <<JSON
{"default": "text",
 "TS2001": "text",
 "TS2002": "keep",
 "TS2003": {"scenario": "429", "retry_after": 2, "failures": 1},
 "TS2004": {"scenario": "529", "failures": 1},
 "TS2005": {"scenario": "500", "failures": 2},
 "TS2006": "400",
 "TS2007": "401",
 "TS2008": "413",
 "TS2009": "huge",
 "TS2010": "malformed",
 "TS2011": {"scenario": "slow", "seconds": 30},
 "TS2012": {"scenario": "no_retry", "status": 500},
 "TS2013": "non_text_blocks",
 "TS2014": "null_usage",
 "TS2015": "max_tokens",
 "TS2016": "refusal",
 "TS2017": {"scenario": "text", "text": "$words"},
 "TS2018": {"scenario": "text", "text": "   "},
 "TS2019": {"scenario": "error", "status": 400, "type": "invalid_request_error", "should_retry": true},
 "TS2020": {"scenario": "429", "retry_after_ms": 1500, "retry_after": null, "failures": 1}}
JSON
)"
ok $? "the mock API listens"
wk_start_cluster "adaptive_prompts.request_timeout = 2" "adaptive_prompts.max_attempts = 3" \
	"adaptive_prompts.max_concurrent_requests = 8"
ok $? "a cluster with the worker starts" || { note <"$WK_LOG"; done_testing; exit 1; }
wq "CREATE EXTENSION adaptive_prompts" >/dev/null
pid_before=$(wk_worker_pid)

for i in $(seq -w 1 20); do wk_enqueue "TS20$i" >/dev/null; done
wk_wait "SELECT count(*) FROM improvement_jobs WHERE status IN ('queued', 'running')" 0 60
ok $? "all 20 jobs end (none stays queued or running)"

# code -> status:outcome:attempts:error_type
expect() {
	local code=$1 expected=$2 name=$3
	is "$(wq "SELECT concat_ws(':', status, outcome, attempts, error_type) FROM improvement_jobs WHERE error_code = '$code'")" \
		"$expected" "$code $name"
}
expect TS2001 "done:version_created:1" "a text answer becomes a version"
expect TS2002 "done:kept_as_is:1" "KEEP_AS_IS ends the job with no change"
expect TS2003 "done:version_created:2:rate_limit_error" "429 with retry-after is retried, then done"
expect TS2004 "done:version_created:2:overloaded_error" "529 is retried with backoff, then done"
expect TS2005 "done:version_created:3:api_error" "500 twice, then 200: done on the third attempt"
expect TS2006 "failed:1:invalid_request_error" "400 fails at once with the API's error type"
expect TS2007 "failed:1:authentication_error" "401 fails at once"
expect TS2008 "failed:1:request_too_large" "a non-JSON 413 fails at once as request_too_large"
expect TS2010 "failed:1:invalid_response" "malformed JSON fails"
expect TS2011 "failed:3:timeout" "an answer slower than request_timeout is retried, then fails as a timeout"
expect TS2012 "failed:1:api_error" "x-should-retry: false is not retried"
expect TS2013 "done:version_created:1" "non-text content blocks are skipped"
expect TS2014 "done:version_created:1" "null usage fields are tolerated"
expect TS2015 "done:answer_rejected:1" "stop_reason max_tokens creates no version"
expect TS2016 "done:answer_rejected:1" "stop_reason refusal creates no version"
expect TS2017 "done:answer_rejected:1" "an answer over max_enhancement_words creates no version"
expect TS2018 "done:answer_rejected:1" "an empty answer creates no version"
expect TS2019 "failed:3:invalid_request_error" "x-should-retry: true retries even a 400, up to max_attempts"
expect TS2020 "done:version_created:2:rate_limit_error" "429 with retry-after-ms is retried, then done"
expect TS2009 "failed:1:response_too_large" "a body over 1 MiB is refused and the job fails"

is "$(wq "SELECT last_error FROM improvement_jobs WHERE error_code = 'TS2006'")" \
	"messages.0.content: prompt is too long" "the API's error message is stored"
is "$(wq "SELECT http_status || ':' || (request_id IS NOT NULL)::text FROM improvement_jobs WHERE error_code = 'TS2006'")" \
	"400:true" "with the HTTP status and the request id"
is "$(wq "SELECT outcome_reason FROM improvement_jobs WHERE error_code = 'TS2015'")" \
	"the answer was cut off at adaptive_prompts.max_tokens (1000)" "a rejected answer says why"
is "$(wq "SELECT stop_reason FROM improvement_jobs WHERE error_code = 'TS2016'")" refusal "stop_reason is kept"
is "$(wq "SELECT (input_tokens IS NULL AND output_tokens IS NULL AND cache_read_input_tokens IS NULL)::text
          FROM improvement_jobs WHERE error_code = 'TS2014'")" true "null usage is stored as NULL"
is "$(wq "SELECT enhancement_text FROM enhancement_versions v JOIN improvement_jobs j ON j.id = v.job_id
          WHERE j.error_code = 'TS2013'")" "Check types before assigning. Narrow unions with type guards." \
	"the text blocks are concatenated"

# Never two versions for one job; one version per version_created job.
is "$(wq "SELECT count(*) FROM (SELECT job_id FROM enhancement_versions GROUP BY job_id HAVING count(*) > 1) d")" 0 \
	"no job has two versions"
is "$(wq "SELECT (SELECT count(*) FROM enhancement_versions WHERE job_id IS NOT NULL)
              = (SELECT count(*) FROM improvement_jobs WHERE outcome = 'version_created')")" t \
	"exactly one version per job that created one"
is "$(wq "SELECT count(*) FROM enhancement_versions v JOIN improvement_jobs j ON j.id = v.job_id
          WHERE j.outcome IS DISTINCT FROM 'version_created'")" 0 "and none for the others"

# The mock saw as many requests per code as the job counted attempts.
mismatch=$(python3 - "$MOCK_LOG" <<'PY' | sort >"$WK_DIR/mock_counts"
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("code"):
        c[e["code"]] += 1
for code, n in c.items():
    print("%s:%d" % (code, n))
PY
)
wq "SELECT error_code || ':' || attempts FROM improvement_jobs ORDER BY 1" | sort >"$WK_DIR/db_counts"
diff "$WK_DIR/mock_counts" "$WK_DIR/db_counts" >/dev/null
ok $? "the mock saw exactly the attempts each job counted" || diff "$WK_DIR/mock_counts" "$WK_DIR/db_counts" | note

# The scripted delays, from the request log: gap between attempts of a code.
gap() {
	python3 - "$MOCK_LOG" "$1" "$2" <<'PY'
import json, sys
times = [json.loads(l)["epoch"] for l in open(sys.argv[1]) if json.loads(l).get("code") == sys.argv[2]]
n = int(sys.argv[3])
print("%.2f" % (times[n] - times[n - 1]))
PY
}
g=$(gap TS2003 1)
note "TS2003 retry-after 2 s: second attempt after ${g}s"
python3 -c "import sys; sys.exit(0 if 2.0 <= $g < 3.5 else 1)"
ok $? "retry-after: 2 is honoured (2 s <= gap < 3.5 s)"
g=$(gap TS2020 1)
note "TS2020 retry-after-ms 1500: second attempt after ${g}s"
python3 -c "import sys; sys.exit(0 if 1.5 <= $g < 3.0 else 1)"
ok $? "retry-after-ms: 1500 is honoured (1.5 s <= gap < 3 s)"
g1=$(gap TS2005 1)
g2=$(gap TS2005 2)
note "TS2005 backoff without retry-after: ${g1}s then ${g2}s"
python3 -c "import sys; sys.exit(0 if 0.37 <= $g1 < 1.5 and 0.75 <= $g2 < 2.5 else 1)"
ok $? "without retry-after the backoff is 0.5 s then 1 s, less up to 25% jitter"

# cancel_job of a running job: its answer is discarded, its tokens counted.
# (request_timeout is 2 s here: the answer comes after 1.5 s.)
wk_set_scenarios '{"default": {"scenario": "delay", "seconds": 1.5}}'
id=$(wk_enqueue TS2101)
wk_wait "SELECT status FROM improvement_jobs WHERE id = $id" running 10
is "$(wq "SELECT cancel_job($id)")" t "cancel_job cancels a running job"
sleep 3
is "$(wq "SELECT status || ':' || coalesce(outcome, '-') || ':' || (answered_at IS NOT NULL)::text FROM improvement_jobs WHERE id = $id")" \
	"cancelled:-:true" "its answer is discarded when it arrives, but its usage is recorded"
is "$(wq "SELECT count(*) FROM enhancement_versions WHERE job_id = $id")" 0 "and no version is created"
grep -q "the answer to job $id (TS2101) was discarded" "$WK_LOG"
ok $? "the worker logs that it discarded the answer"

is "$(wk_worker_pid)" "$pid_before" "the worker stayed up (same pid) through every answer"
is "$(wq "SELECT failed FROM worker_status()")" 8 "worker_status() counts the failed jobs"
is "$(wq "SELECT last_error IS NOT NULL FROM worker_status()")" t "and shows the last error"

done_testing
