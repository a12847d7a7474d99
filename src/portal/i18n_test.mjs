// The portal's translation tables, checked without a browser (run by ctest with plain node):
// - Kiswahili and English have exactly the same keys, none empty, with the same {placeholders};
// - every key the code uses exists, and every key in the tables is used.
// Keys in the code are the single-quoted literals shaped like a key ('nav.systems'), and the
// data-i18n* attributes of index.html; the code writes every key out in full (labels.js).
// Usage: node i18n_test.mjs SRC_DIR (src/portal).
import {readdirSync, readFileSync, statSync} from 'node:fs';
import {join, relative} from 'node:path';
import {pathToFileURL} from 'node:url';

const dir = process.argv[2] || new URL('.', import.meta.url).pathname;
const failures = [];
const fail = (m) => failures.push(m);

const en = (await import(pathToFileURL(join(dir, 'assets/i18n/en.js')))).default;
const sw = (await import(pathToFileURL(join(dir, 'assets/i18n/sw.js')))).default;

const placeholders = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
for (const [name, table, other] of [['en', en, sw], ['sw', sw, en]]) {
  for (const [k, v] of Object.entries(table)) {
    if (!(k in other)) fail(`key ${k} is in ${name} only`);
    if (typeof v !== 'string' || !v.trim()) fail(`key ${k} is empty in ${name}`);
  }
}
for (const k of Object.keys(en)) {
  if (k in sw && placeholders(en[k]) !== placeholders(sw[k])) {
    fail(`key ${k}: placeholders differ: en {${placeholders(en[k])}} sw {${placeholders(sw[k])}}`);
  }
}

function files(d) {
  return readdirSync(d).flatMap((f) => {
    const p = join(d, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const used = new Map();  // key -> first file using it
const KEY = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
for (const file of files(join(dir, 'assets')).concat([join(dir, 'index.html')])) {
  const rel = relative(dir, file);
  if (rel.startsWith(join('assets', 'i18n') + '/')) continue;
  const text = readFileSync(file, 'utf8');
  const found = [];
  if (file.endsWith('.js')) {
    for (const m of text.matchAll(/'((?:[^'\\\n]|\\.)*)'/g)) {
      if (KEY.test(m[1])) found.push(m[1]);
    }
    // A key built at run time would escape this test: t() takes a literal (or a variable
    // holding one), never a concatenation or a template.
    for (const m of text.matchAll(/\bt\(\s*([^'),\s][^,)]*)/g)) {
      if (/['`+]/.test(m[1])) fail(`${rel}: t(${m[1]}...) builds a key at run time`);
    }
  } else if (file.endsWith('.html')) {
    for (const m of text.matchAll(/data-i18n(?:-label|-placeholder)?="([^"]+)"/g)) found.push(m[1]);
  }
  for (const k of found) if (!used.has(k)) used.set(k, rel);
}
for (const [k, file] of used) {
  if (!(k in en)) fail(`${file} uses key ${k}, which the tables lack`);
}
for (const k of Object.keys(en)) {
  if (!used.has(k)) fail(`key ${k} is in the tables but no code uses it`);
}

if (failures.length) {
  for (const f of failures) console.error('FAIL ' + f);
  process.exit(1);
}
console.log(`ok: ${Object.keys(en).length} keys in en and sw, ${used.size} used`);
