// ts_syntax.js TYPESCRIPT_DIR [--accepted] FILE...   (FILE "-": read the
// file names from standard input, one per line)
//
// Parses each file with TypeScript's own parser (createSourceFile; .tsx
// files as ScriptKind.TSX, .d.ts as declarations, everything else as
// ScriptKind.TS) and prints its path and the codes of the syntactic
// diagnostics it reports ("TS1127 TS1002 ..." or "-" for none):
//   path<TAB>codes<TAB>first message
// With --accepted it prints only the paths of the files without any
// syntactic diagnostic, one per line, and on standard error the number of
// files accepted and rejected.
// Used by fix_check.sh and corpus_check.sh.  TYPESCRIPT_DIR is an unpacked
// `typescript` package.
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const tsDir = args.shift();
const acceptedOnly = args[0] === '--accepted';
if (acceptedOnly) args.shift();
let files = args;
if (files.length === 1 && files[0] === '-') {
  files = fs.readFileSync(0, 'utf8').split('\n').filter((f) => f !== '');
}
if (!tsDir || files.length === 0) {
  console.error('usage: node ts_syntax.js TYPESCRIPT_DIR [--accepted] FILE...');
  process.exit(2);
}
const ts = require(path.resolve(tsDir, 'lib', 'typescript.js'));

let accepted = 0;
let rejected = 0;
const out = [];
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const isTsx = /\.tsx$/i.test(file);
  const isDeclaration = /\.d\.[cm]?ts$/i.test(file);
  const source = ts.createSourceFile(
    isTsx ? 'input.tsx' : isDeclaration ? 'input.d.ts' : 'input.ts', text,
    ts.ScriptTarget.Latest, /*setParentNodes*/ false,
    isTsx ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const diagnostics = source.parseDiagnostics;
  if (acceptedOnly) {
    if (diagnostics.length === 0) {
      accepted++;
      out.push(file);
    } else {
      rejected++;
    }
    continue;
  }
  const codes = diagnostics.map((d) => 'TS' + d.code);
  const first = diagnostics.length
    ? ts.flattenDiagnosticMessageText(diagnostics[0].messageText, ' ') : '';
  out.push(file + '\t' + (codes.length ? codes.join(' ') : '-') + '\t' + first);
}
if (out.length) process.stdout.write(out.join('\n') + '\n');
if (acceptedOnly) console.error(`accepted ${accepted}\nrejected ${rejected}`);
