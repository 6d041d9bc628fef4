#!/usr/bin/env python3
"""The main job of adaptive_prompts, on a database that test/demo prepared.

A simulated pipeline (test/pipeline_sim.sql) reports work orders in rounds;
between rounds the learning loop acts as it would in production:
run_auto_improvement() queues jobs, the background worker asks the model
(the project's mock of the Anthropic API, or the real API) for texts, a
person approves the first ones, A/B tests decide whether each text goes
live, and the weekly threshold experiment decides whether the cheap model
may take harder work.  It ends with validation_report(), every decision
with its reason, and a picture of the run (gnuplot).

    test/demo.py [--rounds N] [--per-round N] [--png PATH] [--short]

Connection: the libpq environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PSQL = os.environ.get("AP_PSQL", "psql")

# Error codes of the simulation, in the order they are drawn.
CODES = ["TS1443", "TS2322", "TS2339", "TS2345", "TS7006"]

# A person's first text for TS1443: vague, so the loop rewrites it.
FIRST_TS1443_TEXT = "Be careful with module declarations."


def sql_literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def psql(sql, *, output=False, check=True):
    """Run SQL in one psql session; return its rows (tab-separated fields),
    or print them aligned when output is set."""
    args = [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1"]
    if not output:
        args += ["-At", "-F", "\t"]
    result = subprocess.run(args, input=sql, text=True,
                            stdout=None if output else subprocess.PIPE,
                            stderr=subprocess.PIPE)
    if check and result.returncode != 0:
        sys.stderr.write(result.stderr)
        raise SystemExit("psql failed: %s" % sql.strip().splitlines()[0])
    if output:
        return None
    return [line.split("\t") for line in result.stdout.splitlines() if line != ""]


def value(sql):
    rows = psql(sql)
    return rows[0][0] if rows and rows[0] else None


def has_function(name):
    return value("SELECT to_regproc(%s) IS NOT NULL" % sql_literal(name)) == "t"


class Demo:
    def __init__(self, args):
        self.args = args
        self.done = 0                  # work orders run so far
        self.round_rows = []           # data of the picture, one per round
        self.loop = has_function("run_auto_improvement")
        self.worker = has_function("worker_status")
        self.scenarios = args.scenarios
        self.approvals_required = 0
        self.switched_ts2339 = False
        self.started = time.monotonic()

    # ---- set-up ---------------------------------------------------------
    def set_up(self):
        psql("\\i %s\nCALL sim.register_proposers();" % os.path.join(HERE, "pipeline_sim.sql"))
        psql("SELECT set_enhancement('TS1443', %s, 5);" % sql_literal(FIRST_TS1443_TEXT))
        if self.loop:
            self.approvals_required = int(value("SHOW adaptive_prompts.approvals_required"))
        print("== Proposers registered (a cheap model for easy work, stronger ones for harder work)")
        psql("SELECT name, complexity_threshold AS threshold, cost_rank FROM proposers ORDER BY cost_rank;",
             output=True)
        print("== A person's first text for TS1443 is vague: %r" % FIRST_TS1443_TEXT)
        if self.loop:
            print("== The learning loop is on: run_auto_improvement() between rounds, the worker asks %s;"
                  % ("the real Anthropic API" if self.args.real_api else "the mock of the API on loopback"))
            print("   a person approves the automatic texts until %d have been approved; later ones go"
                  " straight to testing." % self.approvals_required)
        else:
            print("== NOTE: this build has no learning loop (run_auto_improvement and the worker are not"
                  " there yet):")
            print("   the pipeline, the threshold experiment, the report and the picture run without it.")
        print()

    # ---- one round --------------------------------------------------------
    def run_round(self, number):
        first = self.done + 1
        n = self.args.per_round
        psql("CALL sim.run(%d, %d, %d, %s);" % (first, n, self.args.per_transaction,
                                                 (number * 7919 % 10007) / 10007.0))
        self.done += n
        self.weekly_threshold_experiment(number)
        if self.loop and number % self.args.loop_every == 0:
            self.let_the_loop_act()
        self.collect(number, first, self.done)
        self.progress(number)

    def weekly_threshold_experiment(self, number):
        """From the second round on, every third of the run ("weekly"),
        propose raising gpt-4o-mini's threshold from 0.3 to 0.4 unless one is
        open or it was promoted."""
        every = max(3, self.args.rounds // 3)
        if number % every != 2:
            return
        threshold = float(value("SELECT complexity_threshold FROM proposers WHERE name = 'gpt-4o-mini'"))
        if threshold >= 0.4:
            return
        started = value("SELECT run_threshold_experiment('gpt-4o-mini', current => %s, proposed => 0.4,"
                        " sample_size => 30, confidence => 0.7) IS NOT NULL" % threshold)
        if started == "t":
            print("   round %d: the weekly threshold experiment starts: may gpt-4o-mini take 0.3-0.4?" % number)

    def let_the_loop_act(self):
        psql("SELECT count(*) FROM run_auto_improvement('manual');")
        self.wait_for_worker()
        self.approve_as_a_person()
        self.update_the_mock()

    def wait_for_worker(self):
        deadline = time.monotonic() + self.args.worker_timeout
        while time.monotonic() < deadline:
            open_jobs = int(value("SELECT count(*) FROM improvement_jobs WHERE status IN ('queued', 'running')"
                                  " AND next_attempt_at <= now() + interval '2 seconds'"))
            if open_jobs == 0:
                return
            time.sleep(0.2)
        print("   (the worker has not finished its jobs after %d s; going on)" % self.args.worker_timeout)

    def approve_as_a_person(self):
        """A reviewer reads the texts that wait for a person (the worker
        writes them while fewer than approvals_required automatic texts
        have been approved) and approves them, oldest first."""
        rows = psql("SELECT id, error_code, enhancement_text FROM enhancement_versions"
                    " WHERE status = 'pending_approval' ORDER BY id;")
        for version_id, code, text in rows:
            status = value("SELECT approve_enhancement(%s)" % version_id)
            print("   approved %s text %s (%s): %s" % (code, version_id, status, shorten(text, 70)))

    def update_the_mock(self):
        """The mock plays the model.  Its first text for TS2339 is vague;
        once a test rejected it, its next answer is a precise one.  Asked
        to improve a text of its own that is live, it answers KEEP_AS_IS
        (the texts are as good as it can write)."""
        if not self.scenarios or self.args.real_api:
            return
        with open(self.scenarios) as f:
            scenarios = json.load(f)
        changed = False
        if not self.switched_ts2339 and value(
                "SELECT count(*) FROM enhancement_versions WHERE error_code = 'TS2339'"
                " AND status = 'rejected'") != "0":
            scenarios["TS2339"] = {"scenario": "text", "text": PRECISE_TS2339}
            self.switched_ts2339 = changed = True
            print("   (TS2339's first text was rejected by its test; the mock's next answer is a precise one)")
        for (code,) in psql("SELECT error_code FROM prompt_enhancements WHERE active AND source = 'auto'"
                            " ORDER BY error_code;"):
            if scenarios.get(code) != "keep":
                scenarios[code] = "keep"
                changed = True
        if changed:
            tmp = self.scenarios + ".tmp"
            with open(tmp, "w") as f:
                json.dump(scenarios, f)
            os.rename(tmp, self.scenarios)

    # ---- what happened ----------------------------------------------------
    def collect(self, number, first, last):
        """Per round: each code's weighted rate per work order in the
        round's logged rows, and the success rate over all windows."""
        rows = psql("""
            WITH r AS (
                SELECT 1.0 / sample_rate AS weight, error_codes FROM proposer_failures
                 WHERE substr(work_order_id, 4)::bigint BETWEEN %d AND %d)
            SELECT c.code, coalesce(sum(r.weight) FILTER (WHERE c.code = ANY (r.error_codes)), 0) / sum(r.weight)
              FROM unnest(%s::text[]) c(code), r GROUP BY c.code ORDER BY c.code;
        """ % (first, last, sql_literal("{" + ",".join(CODES) + "}")))
        rates = {code: float(rate) for code, rate in rows}
        window = float(value("SELECT sum(successes)::float8 / sum(attempts) FROM proposer_success_metrics"))
        self.round_rows.append((number, last, rates, window))

    def progress(self, number):
        jobs = dict(psql("SELECT status, count(*) FROM improvement_jobs GROUP BY status;"))
        tests = value("SELECT count(*) FILTER (WHERE status IN ('running', 'watching')) || ' running, '"
                      " || count(*) FILTER (WHERE status NOT IN ('running', 'watching')) || ' decided'"
                      " FROM ab_tests")
        experiment = value("SELECT coalesce((SELECT CASE WHEN status = 'running'"
                           " THEN 'running ' || current_sample_count || '/' || test_sample_size"
                           " WHEN watching THEN 'promoted, watched ' || watch_sample_count || '/' || test_sample_size"
                           " END FROM threshold_experiments WHERE proposer_name = 'gpt-4o-mini'"
                           " AND (status = 'running' OR watching)),"
                           " 'gpt-4o-mini threshold ' || (SELECT complexity_threshold FROM proposers"
                           " WHERE name = 'gpt-4o-mini'))")
        line = "round %2d/%d  %5d work orders  jobs: %d queued, %d done, %d failed  A/B tests: %s  " \
               "threshold: %s  window success %.2f  (%.0f s)" % (
                   number, self.args.rounds, self.done,
                   int(jobs.get("queued", 0)) + int(jobs.get("running", 0)),
                   int(jobs.get("done", 0)), int(jobs.get("failed", 0)), tests, experiment,
                   self.round_rows[-1][3], time.monotonic() - self.started)
        print(line, flush=True)

    def events(self):
        """Promotions and rollbacks of enhancements and moves of the
        threshold, each at the number of work orders recorded by then."""
        return psql("""
            WITH e AS (
                SELECT changed_at AS at, subject || ' ' || action AS label,
                       CASE action WHEN 'promoted' THEN 'promoted' ELSE 'rolled_back' END AS kind
                  FROM version_history
                 WHERE kind = 'enhancement' AND action IN ('promoted', 'rolled_back')
                UNION ALL
                SELECT decided_at, 'threshold ' || old_threshold || ' -> ' || new_threshold, 'threshold'
                  FROM threshold_experiments WHERE status IN ('promoted', 'rolled_back')
                UNION ALL
                SELECT watch_ended_at, 'threshold back to ' || old_threshold, 'threshold'
                  FROM threshold_experiments WHERE status = 'rolled_back')
            SELECT (SELECT count(*) FROM work_orders w WHERE w.recorded_at <= e.at), kind, label
              FROM e ORDER BY e.at;
        """)

    def retries(self):
        """A retry of an already recorded work order changes nothing."""
        duplicates = value("SELECT count(*) FILTER (WHERE (record_work_order('gpt-4o-mini', 0.1, 1, 0,"
                           " work_order_id => 'wo-' || lpad(i::text, 7, '0'))).duplicate)"
                           " FROM generate_series(1, 100) i")
        print()
        print("== Retrying the first 100 work orders: %s of 100 were recognised as duplicates"
              " (idempotent by work_order_id)" % duplicates)

    def report(self):
        print()
        print("== Every decision, with its reason")
        print("-- texts (enhancement_versions)")
        for code, version, source, status, who, reason in psql(
                "SELECT error_code, version, source, status, coalesce(decided_by, ''),"
                " translate(coalesce(decision_reason, ''), E'\\n\\t', '  ') FROM enhancement_versions"
                " ORDER BY error_code, version;"):
            print("  %s v%s (%s) %s%s: %s" % (code, version, source, status,
                                             " by " + who if who else "", one_line(reason)))
        print("-- A/B tests (ab_tests)")
        for test_id, subject, candidate, incumbent, status, reason in psql(
                "SELECT id, subject, candidate, coalesce('v' || incumbent, 'no text'), status,"
                " translate(coalesce(decision_reason, ''), E'\\n\\t', chr(31) || ' ') FROM ab_tests ORDER BY id;"):
            print("  test %s of %s v%s against %s: %s" % (test_id, subject, candidate, incumbent, status))
            for line in reason.split("\x1f"):
                print("      " + line)
        print("-- threshold experiments (threshold_experiments)")
        for proposer, old, new, status, reason, watch in psql(
                "SELECT proposer_name, old_threshold, new_threshold, status,"
                " translate(coalesce(decision_reason, ''), E'\\n\\t', '  '),"
                " translate(coalesce(watch_reason, ''), E'\\n\\t', '  ')"
                " FROM threshold_experiments WHERE decision_rule <> 'manual'"
                " ORDER BY started_at;"):
            print("  %s %s -> %s: %s: %s%s" % (proposer, old, new, status, one_line(reason),
                                              ("; watch: " + one_line(watch)) if watch else ""))
        print()
        print("== validation_report()")
        rows = psql("SELECT metric, value, target, met, detail FROM validation_report();")
        print("%-36s %14s %12s  %s" % ("metric", "value", "target", "met"))
        for metric, v, target, met, _ in rows:
            print("%-36s %14s %12s  %s" % (metric, number(v), number(target),
                                          {"t": "yes", "f": "no"}.get(met, "")))
        print()
        for metric, _, _, _, detail in rows:
            print("  %s: %s" % (metric, detail))
        self.write_summary(rows)

    def write_summary(self, rows):
        """What the demo's test checks, next to the picture."""
        counts = psql("""
            SELECT (SELECT count(*) FROM enhancement_versions v
                     WHERE v.source = 'auto' AND v.approved_at IS NOT NULL
                       AND EXISTS (SELECT 1 FROM ab_tests t WHERE t.candidate_version_id = v.id
                                   AND t.status <> 'running')),
                   (SELECT count(*) FROM ab_tests WHERE kind = 'enhancement'
                     AND status IN ('promoted', 'watching', 'rolled_back')),
                   (SELECT count(*) FROM threshold_experiments
                     WHERE status IN ('promoted', 'rejected', 'rolled_back'));
        """)[0]
        summary = {
            "work_orders": self.done,
            "loop": self.loop,
            "approved_and_tested_auto_texts": int(counts[0]),
            "enhancements_promoted_by_test": int(counts[1]),
            "threshold_experiments_decided": int(counts[2]),
            "report": [{"metric": m, "value": None if v == "" else float(v),
                        "target": None if t == "" else float(t),
                        "met": {"t": True, "f": False}.get(met)} for m, v, t, met, _ in rows],
            "png": os.path.abspath(self.args.png),
        }
        directory = os.path.dirname(os.path.abspath(self.args.png))
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, "demo_summary.json")
        with open(path, "w") as f:
            json.dump(summary, f, indent=1)

    # ---- the picture --------------------------------------------------------
    def picture(self):
        if not shutil.which("gnuplot"):
            print("gnuplot is not installed: no picture")
            return
        directory = os.path.dirname(os.path.abspath(self.args.png))
        os.makedirs(directory, exist_ok=True)
        data = os.path.join(directory, "demo_rounds.dat")
        with open(data, "w") as f:
            f.write("# round work_orders window_success " + " ".join(CODES) + "\n")
            for number, last, rates, window in self.round_rows:
                f.write("%d %d %.4f %s\n" % (number, last, window,
                                             " ".join("%.4f" % rates.get(c, 0) for c in CODES)))
        events = self.events()
        colors = {"TS1443": "#1b9e77", "TS2322": "#d95f02", "TS2339": "#7570b3",
                  "TS2345": "#e7298a", "TS7006": "#66a61e"}
        arrows = []
        for i, (x, kind, label) in enumerate(events):
            x = int(x)
            code = label.split()[0]
            if kind == "threshold":
                color, width, dash = "black", 2, "dt 1"
            elif kind == "rolled_back":
                color, width, dash = "red", 2, "dt 2"
            else:
                color, width, dash = colors.get(code, "gray"), 2, "dt 3"
            arrows.append((x, color, width, dash, label, i))
        script = [
            "set terminal pngcairo size 1200,800 font 'DejaVu Sans,10'",
            "set output %s" % gp_string(self.args.png),
            "set multiplot layout 2,1 title 'adaptive\\_prompts demo: %d work orders in %d rounds%s' font ',13'"
            % (self.done, len(self.round_rows), "" if self.loop else " (no learning loop in this build)"),
            "set grid ytics",
            "set key outside right top",
            "set xrange [0:%d]" % self.done,
            "set lmargin 10",
            "set rmargin 34",
        ]
        # Top: each code's rate, with the moments marked and labelled.
        script.append("set title 'Rate of each error code per work order (weighted 1/sample\\_rate), per round'")
        script.append("set ylabel 'share of work orders'")
        script.append("set yrange [0:*]")
        script.append("set format x ''")
        for x, color, width, dash, label, i in arrows:
            script.append("set arrow from %d, graph 0 to %d, graph 1 nohead lc rgb '%s' lw %s %s"
                          % (x, x, color, width, dash))
            # A promotion is told by its code's colour; rollbacks and
            # threshold moves are rare enough to be labelled.
            if "promoted" not in label:
                script.append("set label %s at %d, graph 0.98 rotate by 90 right font ',8' tc rgb '%s'"
                              " offset -0.6,0" % (gp_string(label), x, color))
        plots = []
        for j, code in enumerate(CODES):
            plots.append("%s using 2:%d with linespoints lw 2 pt 7 ps 0.6 lc rgb '%s' title '%s'"
                         % (gp_string(data), 4 + j, colors[code], code))
        script.append("plot " + ", ".join(plots))
        # Bottom: the window success rate.
        script.append("unset label")
        script.append("set title 'Success rate over all rolling windows (window\\_size attempts per proposer and band)'")
        script.append("set ylabel 'success rate'")
        script.append("set xlabel 'work orders recorded'")
        script.append("set format x '%g'")
        script.append("set yrange [0:1]")
        script.append("plot %s using 2:3 with linespoints lw 2 pt 7 ps 0.6 lc rgb 'black' title 'windows', "
                      "NaN with lines lc rgb 'gray' dt 3 lw 1.5 title 'text promoted (in its code''s colour)', "
                      "NaN with lines lc rgb 'red' dt 2 lw 2 title 'text rolled back', "
                      "NaN with lines lc rgb 'black' dt 1 lw 2 title 'threshold moved'" % gp_string(data))
        script.append("unset multiplot")
        gp = os.path.join(directory, "demo.gp")
        with open(gp, "w") as f:
            f.write("\n".join(script) + "\n")
        subprocess.run(["gnuplot", gp], check=True)
        print()
        print("== The picture: %s (%d bytes; data %s, script %s)" % (
            self.args.png, os.path.getsize(self.args.png), data, gp))


PRECISE_TS2339 = (
    "Before reading a property, make sure the value's type declares it: narrow "
    "unknown or union values with a type guard ('id' in value, typeof checks) or "
    "use optional chaining on optional members, and add the property to the "
    "interface when it is really part of the shape.")


def one_line(text):
    return " ".join(text.split())


def number(text):
    if text == "":
        return ""
    x = float(text)
    return "%d" % x if x == int(x) and abs(x) >= 1 else "%.3f" % x


def gp_string(s):
    return "'" + s.replace("'", "''") + "'"


def shorten(text, width):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=18)
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--per-transaction", type=int, default=50)
    parser.add_argument("--loop-every", type=int, default=3,
                        help="rounds between two runs of run_auto_improvement()")
    parser.add_argument("--worker-timeout", type=int, default=60)
    parser.add_argument("--png", default=os.path.abspath("demo.png"))
    parser.add_argument("--scenarios", help="the mock's scenario file (the demo changes one answer)")
    parser.add_argument("--real-api", action="store_true")
    args = parser.parse_args()

    demo = Demo(args)
    demo.set_up()
    for number in range(1, args.rounds + 1):
        demo.run_round(number)
    demo.retries()
    demo.report()
    demo.picture()
    print("done in %.0f s" % (time.monotonic() - demo.started))


if __name__ == "__main__":
    main()
