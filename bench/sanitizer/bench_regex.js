// bench_regex.js FILE...
//
// Times the notes' regex sanitizer (regex_sanitizer.js) over the files, in
// the same way as `ts_sanitize --bench`: every file once to warm up the JIT,
// then whole rounds over all files until AP_BENCH_MIN_SECONDS (default 2)
// have passed.  Prints the same key/value lines.
'use strict';
const fs = require('fs');
const { sanitizeTypeScript } = require('./regex_sanitizer.js');

const paths = process.argv.slice(2);
if (paths.length === 0) {
  console.error('usage: node bench_regex.js FILE...');
  process.exit(2);
}
// Read as UTF-8 text, as the sanitizer receives a string; bytes are the
// files' sizes on disk, the same count the C benchmark uses.
const texts = paths.map((p) => fs.readFileSync(p, 'utf8'));
const bytes = paths.reduce((n, p) => n + fs.statSync(p).size, 0);
const minSeconds = Number(process.env.AP_BENCH_MIN_SECONDS || 2);
const verbose = process.env.AP_BENCH_VERBOSE === '1';

let changed = 0;
const counts = {};
for (let w = 0; w < 3; w++) {
  changed = 0;
  for (let i = 0; i < texts.length; i++) {
    const r = sanitizeTypeScript(texts[i]);
    if (r.sanitized !== texts[i] || r.changes_made.length > 0) {
      changed++;
      if (w === 0) {
        for (const c of r.changes_made) counts[c] = (counts[c] || 0) + 1;
        if (verbose) console.error(paths[i] + ': ' + r.changes_made.join(','));
      }
    }
  }
}

let sink = 0;
let rounds = 0;
const start = process.hrtime.bigint();
let elapsed = 0;
do {
  for (let i = 0; i < texts.length; i++) sink += sanitizeTypeScript(texts[i]).sanitized.length;
  rounds++;
  elapsed = Number(process.hrtime.bigint() - start) / 1e9;
} while (elapsed < minSeconds);

console.log('files ' + texts.length);
console.log('bytes ' + bytes);
console.log('changed_files ' + changed);
for (const c of Object.keys(counts).sort()) console.log('changes ' + c + ' ' + counts[c]);
console.log('iterations ' + rounds);
console.log('seconds ' + elapsed.toFixed(6));
console.log('MB_per_s ' + (bytes * rounds / elapsed / 1e6).toFixed(1));
if (sink < 0) console.log(sink);
