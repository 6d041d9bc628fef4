#!/usr/bin/env python3
"""Run the examples of README.md and docs/*.md and compare their output.

TAP output (prove reads it).  Usage:

    test/docs/run_docs.py [FILE.md ...]     (default: README.md docs/*.md)

The cluster is the one of PGHOST, PGPORT and PGUSER (a superuser).  Each
file gets a fresh database, and every block of the file runs in order in
one psql session on it, as a reader would paste them.  Roles the file
creates are dropped afterwards (roles are cluster-wide), then the
database.

How a page marks its examples (docs/README of the convention is the
"Tested examples" section of README.md):

  ```sql           runs.  Output the page shows is written as `-- ` comment
                   lines directly after the statement that prints it (no
                   blank line between), in psql's aligned format; the
                   header and its ---+--- line may be left out.  Comments
                   after a blank line are ordinary comments.  A statement
                   with no output shown must not fail; an expected error is
                   shown as its `-- ERROR:  ...` line (with DETAIL/HINT
                   lines if the page wants them checked).
  ```sql norun     shown, not run (it needs a server setting, a restart,
                   or another database).
  ```js run        (or javascript) written to a file and run with node, with
                   node-postgres (`pg`) resolvable and PGHOST, PGPORT,
                   PGUSER, PGDATABASE set to the file's database; its
                   standard output is compared with the next ```text block
                   (prose may come between), if one comes before any other
                   block.
  other languages  not run (shell, postgresql.conf, diagrams).

In expected output, `...` inside a line matches any text, a line that is
only `...` matches any number of lines, and `<uuid>` matches a UUID.
Spacing is not compared (column widths change with masked values).
"""

import os
import queue
import re
import subprocess
import sys
import tempfile
import threading

PSQL = os.environ.get("AP_PSQL", "/usr/lib/postgresql/15/bin/psql")
NODE = os.environ.get("AP_NODE", "node")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEGMENT_TIMEOUT = 300

FENCE = re.compile(r"^(\s*)(```+)\s*([^`]*)$")
STATEMENT_END = re.compile(r"(;\s*$)|(^\s*\\)|(\\g\w*\s*(\S+)?\s*$)")
PSQL_PREFIX = re.compile(r"^psql:[^:]*:\d+: ")
SEPARATOR = re.compile(r"^[-+]+$")
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


class Block:
    def __init__(self, lang, flags, line, lines):
        self.lang = lang
        self.flags = flags
        self.line = line        # 1-based line of the first content line
        self.lines = lines
        self.output = None      # a following ```text block (lines)


def parse_blocks(path):
    """Fenced blocks of a markdown file, in order."""
    blocks = []
    with open(path, encoding="utf-8") as f:
        text = f.read().split("\n")
    i = 0
    while i < len(text):
        m = FENCE.match(text[i])
        if not m:
            i += 1
            continue
        indent, fence, info = m.group(1), m.group(2), m.group(3).split()
        lang = info[0].lower() if info else ""
        start = i + 1
        j = start
        while j < len(text) and text[j].strip() != fence:
            j += 1
        lines = [l[len(indent):] if l.startswith(indent) else l.lstrip()
                 for l in text[start:j]]
        block = Block(lang, info[1:], start + 1, lines)
        # The first ```text block after a `js run` block (before any
        # other block) is its expected output.
        if lang == "text" and blocks and blocks[-1].lang in ("js", "javascript") \
                and blocks[-1].output is None:
            blocks[-1].output = lines
        else:
            blocks.append(block)
        i = j + 1
    return blocks


def sql_segments(block):
    """Split a sql block into (first line, sql lines, expected lines or None)."""
    segments = []
    current = []
    current_line = block.line
    lines = block.lines
    i = 0
    while i < len(lines):
        line = lines[i]
        current.append(line)
        i += 1
        if statement_end(line) and i < len(lines) and lines[i].startswith("--"):
            expected = []
            while i < len(lines) and lines[i].startswith("--"):
                out = lines[i]
                expected.append(out[3:] if out.startswith("-- ") else out[2:])
                i += 1
            # The output belongs to the last statement; what comes before
            # it runs first, with nothing shown.
            split = 0
            for k in range(len(current) - 2, -1, -1):
                if statement_end(current[k]):
                    split = k + 1
                    break
            if any(l.strip() and not l.lstrip().startswith("--")
                   for l in current[:split]):
                segments.append((current_line, current[:split], None))
            segments.append((current_line + split, current[split:], expected))
            current = []
            current_line = block.line + i
    if any(l.strip() for l in current):
        segments.append((current_line, current, None))
    return segments


def code_part(line):
    """A line without its trailing -- comment (outside quotes)."""
    quoted = False
    for k, ch in enumerate(line):
        if ch == "'":
            quoted = not quoted
        elif not quoted and line.startswith("--", k):
            return line[:k]
    return line


def statement_end(line):
    return line.strip() and not line.lstrip().startswith("--") \
        and STATEMENT_END.search(code_part(line).rstrip()) is not None


def normalize(line):
    line = " ".join(line.split())
    if line.startswith("-[ RECORD "):
        return line.split("]")[0] + "]"
    if SEPARATOR.match(line.replace(" ", "")) and "-" in line:
        return "---"
    return line


def without_headers(lines):
    """Drop each table's header line and its ---+--- line."""
    out = []
    for line in lines:
        if normalize(line) == "---":
            if out:
                out.pop()
            continue
        out.append(line)
    return out


def line_pattern(expected):
    pattern = re.escape(normalize(expected))
    pattern = pattern.replace(re.escape("<uuid>"), UUID)
    pattern = pattern.replace(re.escape("..."), ".*")
    return re.compile("^" + pattern + "$")


def lines_match(expected, actual):
    """Match with `...` lines standing for any number of lines."""
    memo = {}

    def match(i, j):
        if (i, j) in memo:
            return memo[(i, j)]
        if i == len(expected):
            result = j == len(actual)
        elif expected[i].strip() == "...":
            result = match(i + 1, j) or (j < len(actual) and match(i, j + 1))
        else:
            result = j < len(actual) and \
                line_pattern(expected[i]).match(normalize(actual[j])) is not None \
                and match(i + 1, j + 1)
        memo[(i, j)] = result
        return result

    return match(0, 0)


def compare(expected, actual):
    expected = [l for l in expected if l.strip()]
    actual = [l for l in actual if l.strip()]
    if not any(normalize(l) == "---" for l in expected):
        actual = without_headers(actual)
    return lines_match(expected, actual)


class Psql:
    """One psql session; run() feeds a segment and returns its output."""

    def __init__(self, database):
        env = dict(os.environ, PGDATABASE=database)
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", PSQL, "-X", "-q", "-d", database],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, text=True, bufsize=1)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.count = 0
        self.run(["\\pset footer off", "\\set VERBOSITY default"])

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def run(self, sql_lines):
        self.count += 1
        marker = "@@docs segment %d done@@" % self.count
        self.proc.stdin.write("\n".join(sql_lines) + "\n\\echo '" + marker + "'\n")
        self.proc.stdin.flush()
        out = []
        while True:
            try:
                line = self.lines.get(timeout=SEGMENT_TIMEOUT)
            except queue.Empty:
                out.append("(timed out after %d s)" % SEGMENT_TIMEOUT)
                return out
            if line is None:
                out.append("(psql exited)")
                return out
            if line == marker:
                return out
            out.append(PSQL_PREFIX.sub("", line))

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def admin(database, sql):
    return subprocess.run(
        [PSQL, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
        check=True, capture_output=True, text=True).stdout


class Tap:
    def __init__(self):
        self.count = 0
        self.failed = 0

    def result(self, ok, name, diag=None):
        self.count += 1
        if not ok:
            self.failed += 1
        print("%s %d - %s" % ("ok" if ok else "not ok", self.count, name))
        sys.stdout.flush()
        if not ok and diag:
            # On standard error, as Test::More does, so that prove shows it.
            print("# failed: " + name, file=sys.stderr)
            for line in diag:
                print("# " + line, file=sys.stderr)
            sys.stderr.flush()


def show(label, lines):
    return [label] + ["    " + l for l in lines]


def run_node(block, database, tap, name):
    node_path = os.environ.get("AP_NODE_PATH")
    if not node_path and os.environ.get("AP_NODE_SKIP"):
        tap.count += 1
        print("ok %d - %s # SKIP %s" % (tap.count, name, os.environ["AP_NODE_SKIP"]))
        return
    if not node_path:
        tap.result(False, name + " (node-postgres)",
                   ["AP_NODE_PATH is not set: test/run docs installs pg from npm"])
        return
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "example.js")
        with open(script, "w", encoding="utf-8") as f:
            f.write("\n".join(block.lines) + "\n")
        env = dict(os.environ, PGDATABASE=database, NODE_PATH=node_path)
        try:
            proc = subprocess.run([NODE, script], env=env, capture_output=True,
                                  text=True, timeout=SEGMENT_TIMEOUT)
            out = proc.stdout.split("\n")
            err = proc.stderr.split("\n")
            code = proc.returncode
        except subprocess.TimeoutExpired:
            out, err, code = [], ["timed out"], -1
    if code != 0:
        tap.result(False, name + " runs", show("exit status %d; stderr:" % code, err)
                   + show("stdout:", out))
        return
    if block.output is None:
        tap.result(True, name + " runs")
        return
    tap.result(compare(block.output, out), name + " output",
               show("expected:", block.output) + show("got:", out))


def run_file(path, number, tap):
    rel = os.path.relpath(path, ROOT)
    database = "ap_docs_%d" % number
    admin("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % database)
    admin("postgres", "CREATE DATABASE %s" % database)
    roles_before = set(admin("postgres", "SELECT rolname FROM pg_roles").split())
    psql = Psql(database)
    try:
        for block in parse_blocks(path):
            name = "%s:%d" % (rel, block.line)
            if block.lang in ("js", "javascript") and "run" in block.flags:
                run_node(block, database, tap, name)
                continue
            if block.lang != "sql" or "norun" in block.flags:
                continue
            for line, sql, expected in sql_segments(block):
                out = psql.run(sql)
                seg = "%s:%d" % (rel, line)
                if expected is None:
                    errors = [l for l in out if l.startswith(("ERROR:", "FATAL:"))
                              or l.startswith("(psql exited)") or l.startswith("(timed out")]
                    tap.result(not errors, seg + " runs", show("got:", out))
                else:
                    tap.result(compare(expected, out), seg + " output",
                               show("expected:", expected) + show("got:", out))
    finally:
        psql.close()
        roles_after = set(admin("postgres", "SELECT rolname FROM pg_roles").split())
        for role in sorted(roles_after - roles_before):
            admin(database, 'DROP OWNED BY "%s" CASCADE' % role)
            admin("postgres", 'DROP ROLE "%s"' % role)
        admin("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % database)


def main(argv):
    files = argv or [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
        if f.endswith(".md"))
    tap = Tap()
    for number, path in enumerate(files, 1):
        print("# " + os.path.relpath(path, ROOT))
        run_file(os.path.abspath(path), number, tap)
    print("1..%d" % tap.count)
    return 1 if tap.failed or tap.count == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
