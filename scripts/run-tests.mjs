#!/usr/bin/env node
// Test runner: type-checks src, test and bench (tsconfig.check.json), then runs each test/*.test.ts file (uvu) in its own Node
// process so that one crashing file cannot hide the others, and ends with `N passed, N failed`.
// Usage: npm test [-- FILTER...]   (FILTER: substrings of test file names)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = readdirSync(join(root, 'test'))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, '');

if (filters.length === 0) {
  const t0 = Date.now();
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json'], { cwd: root, encoding: 'utf8' });
  const ok = tsc.status === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} typecheck (tsc: src, test, bench) ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (!ok) { console.log(tsc.stdout + tsc.stderr); failed++; failures.push('typecheck'); } else passed++;
}

for (const file of files) {
  const t0 = Date.now();
  const run = spawnSync(process.execPath, ['--import', 'tsx', join('test', file)], {
    cwd: root, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' }, maxBuffer: 64 * 1024 * 1024,
    timeout: Number(process.env.SVC_TEST_FILE_TIMEOUT_MS ?? 20 * 60 * 1000),
  });
  const out = strip((run.stdout ?? '') + (run.stderr ?? ''));
  const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const pass = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? NaN);
  const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (Number.isNaN(total) || Number.isNaN(pass)) {
    failed++;
    failures.push(file);
    console.log(`FAIL ${file}: crashed or printed no totals (exit ${run.status}${run.signal ? ', ' + run.signal : ''}) ${secs}s`);
    console.log(out.split('\n').slice(-60).join('\n'));
    continue;
  }
  const fileFailed = total - pass - skip + (run.status !== 0 && total === pass + skip ? 1 : 0);
  passed += pass;
  skipped += skip;
  failed += fileFailed;
  console.log(`${fileFailed ? 'FAIL' : 'ok  '} ${file}: ${pass} passed, ${fileFailed} failed${skip ? `, ${skip} skipped` : ''} ${secs}s`);
  if (fileFailed) { failures.push(file); console.log(out.split('\n').slice(-80).join('\n')); }
  else if (process.env.SVC_TEST_VERBOSE) console.log(out);
}

if (failures.length) console.log(`failed files: ${failures.join(', ')}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed ? 1 : 0;
