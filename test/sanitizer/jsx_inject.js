// jsx_inject.js TYPESCRIPT_DIR OUT_DIR < list of .tsx files
//
// For each .tsx file: finds, with TypeScript's parser, every JSX text and
// every JSX attribute string, and writes to OUT_DIR a copy of the file with
// dashes, smart quotes and an apostrophe (“a” – it’s ‘b’ —) added at the
// end of each of them.  A copy is kept only when it still parses without
// errors: then it is valid TSX whose only non-ASCII punctuation in JSX is
// text the sanitizer must leave alone.  Prints "files N" and
// "insertions M".  Used by corpus_check.sh.
'use strict';
const fs = require('fs');
const path = require('path');

const [tsDir, outDir] = process.argv.slice(2);
const ts = require(path.resolve(tsDir, 'lib', 'typescript.js'));
const added = ' \u201ca\u201d \u2013 it\u2019s \u2018b\u2019 \u2014 ';
const files = fs.readFileSync(0, 'utf8').split('\n').filter((f) => f !== '');

let kept = 0;
let insertions = 0;
for (const file of files) {
  const text = fs.readFileSync(file, 'utf8');
  const source = ts.createSourceFile('input.tsx', text, ts.ScriptTarget.Latest,
    /*setParentNodes*/ true, ts.ScriptKind.TSX);
  const at = [];
  const walk = (node) => {
    if (node.kind === ts.SyntaxKind.JsxText && !node.containsOnlyTriviaWhiteSpaces) {
      at.push(node.end);
    } else if (ts.isJsxAttribute(node) && node.initializer &&
               ts.isStringLiteral(node.initializer)) {
      at.push(node.initializer.end - 1);
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  if (at.length === 0) continue;
  at.sort((a, b) => b - a);
  let changed = text;
  for (const pos of at) changed = changed.slice(0, pos) + added + changed.slice(pos);
  const check = ts.createSourceFile('input.tsx', changed, ts.ScriptTarget.Latest,
    false, ts.ScriptKind.TSX);
  if (check.parseDiagnostics.length !== 0) continue;
  kept++;
  insertions += at.length;
  fs.writeFileSync(path.join(outDir, kept + '.tsx'), changed);
}
console.log('files ' + kept + '\ninsertions ' + insertions);
