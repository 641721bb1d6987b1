#!/usr/bin/env node
// Test runner: type-checks src, test and bench (tsconfig.check.json), then runs each test/*.test.ts file (uvu) in its own Node
// process so that one crashing file cannot hide the others, and ends with `N passed, N failed`.
// Usage: npm test [-- FILTER...]   (FILTER: substrings of test file names)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

if (filters.length === 0) {
  const t0 = Date.now();
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.check.json'], { cwd: root, encoding: 'utf8' });
  const ok = tsc.status === 0;
  console.log(`${ok ? 'ok  ' : 'FAIL'} typecheck (tsc: src, test, bench) ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (!ok) { console.log(tsc.stdout + tsc.stderr); failed++; failures.push('typecheck'); } else passed++;
}

const resultDir = mkdtempSync(join(tmpdir(), 'svc-tests-'));
for (const file of files) {
  const t0 = Date.now();
  const resultPath = join(resultDir, `${file}.json`);
  const run = spawnSync(process.execPath, ['--import', 'tsx', join('scripts', 'test-child.mjs'), join('test', file)], {
    cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, FORCE_COLOR: '0', SVC_TEST_RESULT: resultPath },
    timeout: Number(process.env.SVC_TEST_FILE_TIMEOUT_MS ?? 30 * 60 * 1000),
  });
  const out = (run.stdout ?? '') + (run.stderr ?? '');
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  // Counts come from uvu's runners (scripts/test-child.mjs), never from parsing what uvu printed.
  const result = existsSync(resultPath) ? JSON.parse(readFileSync(resultPath, 'utf8')) : undefined;
  if (!result) {
    failed++;
    failures.push(file);
    console.log(`FAIL ${file}: crashed before reporting (exit ${run.status}${run.signal ? ', ' + run.signal : ''}) ${secs}s`);
    console.log(out.split('\n').slice(-60).join('\n'));
    continue;
  }
  const { passed: pass, skipped: skip, total } = result;
  // A file whose tests all passed but that then exits non-zero (a crash in teardown) counts one failure.
  const fileFailed = total - pass - skip + (run.status !== 0 && total === pass + skip ? 1 : 0);
  passed += pass;
  skipped += skip;
  failed += fileFailed;
  console.log(`${fileFailed ? 'FAIL' : 'ok  '} ${file}: ${pass} passed, ${fileFailed} failed${skip ? `, ${skip} skipped` : ''} ${secs}s`);
  if (fileFailed) { failures.push(file); console.log(out.split('\n').slice(-80).join('\n')); }
  else if (process.env.SVC_TEST_VERBOSE) console.log(out);
}
rmSync(resultDir, { recursive: true, force: true });

if (failures.length) console.log(`failed files: ${failures.join(', ')}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed ? 1 : 0;
