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
