// ts_syntax.js TYPESCRIPT_DIR FILE...
//
// Prints, for each file, its path and the codes of the syntactic diagnostics
// TypeScript's parser reports for it ("TS1127 TS1002 ..." or "-" for none):
//   path<TAB>codes<TAB>first message
// Used by fix_check.sh.  TYPESCRIPT_DIR is an unpacked `typescript` package.
'use strict';
const fs = require('fs');
const path = require('path');

const [tsDir, ...files] = process.argv.slice(2);
if (!tsDir || files.length === 0) {
  console.error('usage: node ts_syntax.js TYPESCRIPT_DIR FILE...');
  process.exit(2);
}
const ts = require(path.resolve(tsDir, 'lib', 'typescript.js'));

for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const isDeclaration = file.endsWith('.d.ts');
  const source = ts.createSourceFile(
    isDeclaration ? 'input.d.ts' : 'input.ts', text,
    ts.ScriptTarget.Latest, /*setParentNodes*/ false, ts.ScriptKind.TS);
  const diagnostics = source.parseDiagnostics;
  const codes = diagnostics.map((d) => 'TS' + d.code);
  const first = diagnostics.length
    ? ts.flattenDiagnosticMessageText(diagnostics[0].messageText, ' ') : '';
  console.log(file + '\t' + (codes.length ? codes.join(' ') : '-') + '\t' + first);
}
