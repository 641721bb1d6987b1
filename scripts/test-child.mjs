#!/usr/bin/env node
// Runs ONE uvu test file and reports its counts through uvu's own API, not its printed text: with
// UVU_DEFER set, `test.run()` queues each suite's runner in globalThis.UVU_QUEUE instead of running
// it; this script awaits those runners (each resolves to [errors | true, passed, skipped, total], as
// uvu's exec() reads them) and writes the totals as JSON to the file named by SVC_TEST_RESULT.
// Usage (from scripts/run-tests.mjs): node --import tsx scripts/test-child.mjs test/x.test.ts
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2];
const resultPath = process.env.SVC_TEST_RESULT;
globalThis.UVU_DEFER = 1;
globalThis.UVU_QUEUE = [[file]];
globalThis.UVU_INDEX = 0;

const result = { total: 0, passed: 0, skipped: 0, failures: [] };
const save = () => { if (resultPath) writeFileSync(resultPath, JSON.stringify(result)); };

await import(pathToFileURL(resolve(file)).href);
for (const group of globalThis.UVU_QUEUE) {
  group.shift(); // the file name
  for (const runSuite of group) {
    const [errors, passed, skipped, total] = await runSuite();
    result.total += total;
    result.passed += passed;
    result.skipped += skipped;
    if (errors !== true) result.failures.push(errors);
  }
}
save();
if (result.failures.length) {
  process.stdout.write('\n' + result.failures.join('\n') + '\n');
  process.exitCode = 1;
}
process.stdout.write(`\n  ${result.passed} of ${result.total} passed (${result.skipped} skipped)\n`);
