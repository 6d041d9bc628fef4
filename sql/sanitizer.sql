-- sanitize_typescript and sanitizer_excluded_codes.
-- The background worker serves another database; its WARNING is not tested here.
SET client_min_messages = error;
CREATE EXTENSION adaptive_prompts;
RESET client_min_messages;

-- Valid TypeScript comes back unchanged, smart quotes inside strings included.
SELECT sanitized = code AS unchanged, changes_made
  FROM (SELECT $ts$const s = 'It’s “fine” — really';  // a `backtick` in a comment
const t = `multi
line ${s}`;
const r = /[“”]/g;
declare module Foo.Bar { }
$ts$ AS code) c, sanitize_typescript(code);

-- Each fix, reported once by name.
SELECT (sanitize_typescript($ts$const a = “hello”;$ts$)).*;
SELECT (sanitize_typescript($ts$const a = ‘hello’ + ‘world’;$ts$)).*;
SELECT (sanitize_typescript($ts$const n = 5 — 3;$ts$)).*;
SELECT (sanitize_typescript($ts$declare module @scope/pkg {
  export const x: number;
}$ts$)).*;
SELECT (sanitize_typescript($ts$declare module `my-lib` { }$ts$)).*;
SELECT (sanitize_typescript($ts$const msg = `unterminated ${1 + 1}$ts$)).*;
SELECT (sanitize_typescript($ts$const a = “It’s” – 'x';$ts$)).*;

-- Idempotent.
SELECT s2.sanitized = s1.sanitized AS idempotent, s2.changes_made
  FROM sanitize_typescript($ts$declare module my-lib { const a = “x”; const b = `open$ts$) s1,
       LATERAL sanitize_typescript(s1.sanitized) s2;

SELECT sanitize_typescript(NULL) IS NULL AS null_gives_null;
SELECT sanitize_typescript('x', NULL) IS NULL AS null_kind_gives_null;

-- TSX: JSX text and attribute strings stay, code inside {...} is fixed.
SELECT sanitized = code AS unchanged, changes_made
  FROM (SELECT $ts$const a = <p title="It’s – “x”">1 – 2, “Hello”, it’s ‘fine’ — ok</p>;
const f = <T,>(x: T) => x;
$ts$ AS code) c, sanitize_typescript(code, tsx => true);
SELECT (sanitize_typescript($ts$const a = <p>{n – 1} – {“x”}</p>;$ts$, true)).*;
SELECT (sanitize_typescript($ts$const a = <div>{`count: ${n}$ts$, true)).*;
-- The same text as .ts: <p> is a type assertion and the text is code.
SELECT (sanitize_typescript($ts$const a = <p>“Hello” – 1</p>;$ts$)).*;
SELECT (sanitize_typescript($ts$const a = <p>“Hello” – 1</p>;$ts$, false)).*;

-- Large values, stored compressed inline and out of line: unchanged ones
-- come back equal, a changed one is fixed.
CREATE TEMP TABLE big (id int, code text);
CREATE TEMP TABLE big_external (id int, code text);
ALTER TABLE big_external ALTER COLUMN code SET STORAGE EXTERNAL;
INSERT INTO big VALUES (1, repeat('const a = <p>It’s – ok</p>; ', 5000)),
                       (2, repeat('const a = “x”; ', 5000));
INSERT INTO big_external SELECT * FROM big;
SELECT b.id, s.sanitized = b.code AS unchanged, s.changes_made,
       octet_length(s.sanitized) - octet_length(b.code) AS growth
  FROM big b, sanitize_typescript(b.code, true) s ORDER BY b.id;
SELECT b.id, s.sanitized = b.code AS unchanged, s.changes_made,
       octet_length(s.sanitized) - octet_length(b.code) AS growth
  FROM big_external b, sanitize_typescript(b.code, true) s ORDER BY b.id;

-- Codes that the changes account for.
SELECT sanitizer_excluded_codes('{unquoted_module_declarations}');
SELECT sanitizer_excluded_codes('{smart_double_quotes,unicode_dashes}');
SELECT sanitizer_excluded_codes('{}');
SELECT sanitizer_excluded_codes(NULL) IS NULL AS null_gives_null;

-- record_work_order uses the same map.
SELECT register_proposer('m', 0.5, 1);
SELECT outcome FROM record_work_order('m', 0.4, 3, 2,
    error_codes => '{TS1127,TS2345,TS1160}',
    sanitizer_changes => (sanitize_typescript($ts$const a = “x”;$ts$)).changes_made);
SELECT error_codes, excluded_error_codes FROM proposer_failures;

DROP EXTENSION adaptive_prompts;
