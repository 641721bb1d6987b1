// The benchmark harness (`svc bench` = `npm run bench`): runs every bench file of a folder in one
// process, prints machine info and one table (group, name, value, unit, note), turns a failing or
// malformed bench into an ERROR row and exit status 1, honours --only, --quick and --json.
// Uses tiny fixture benches in a temp folder, so it checks the harness, not anyone's speed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable, formatValue, summarizeTimes } from '../bench/lib.js';
import { makeTempDir, runSvc } from './helpers/index.js';

const temp = makeTempDir('svc-bench-');

// .mts: the temp folder has no package.json, and the fixtures must load as ES modules.
writeFileSync(
  join(temp.dir, 'alpha.bench.mts'),
  `export async function run(ctx) {
    const t = await ctx.timeIt(() => { let s = 0; for (let i = 0; i < 1000; i++) s += Math.sqrt(i); return s; }, { minMs: 50, minRuns: 5 });
    return [
      { group: 'alpha', name: 'sqrt loop', value: t.medianMs, unit: 'ms', note: 'median' },
      { group: 'alpha', name: 'timed runs', value: t.runs, unit: 'runs' },
      { group: 'alpha', name: 'quick flag', value: ctx.quick ? 1 : 0, unit: 'bool', note: ctx.sharedDataDir },
    ];
  }\n`,
);
writeFileSync(join(temp.dir, 'beta.bench.mts'), `export async function run() { throw new Error('model file missing: beta.onnx'); }\n`);
writeFileSync(join(temp.dir, 'gamma.bench.mts'), `export async function run() { return [{ group: 'gamma', name: 'no value', unit: 'ms' }]; }\n`);

test.after(() => temp.cleanup());

function tableLines(stdout: string): string[] {
  const lines = stdout.split('\n');
  const header = lines.findIndex((l) => /^group\s+name\s+value\s+unit\s+note$/.test(l));
  assert.ok(header >= 0, `table header in:\n${stdout}`);
  return lines.slice(header + 2).filter((l) => l.trim() !== '');
}

test('quick run of a folder: machine info, one table for all benches, ERROR rows, exit 1, JSON report', async () => {
  const jsonPath = join(temp.dir, 'report.json');
  const result = await runSvc(['bench', '--dir', temp.dir, '--quick', '--json', jsonPath]);
  assert.is(result.code, 1, 'a failing bench makes the run fail');
  assert.match(result.stdout, /^cpu: .+ \(\d+ cores\)/m);
  assert.match(result.stdout, new RegExp(`node ${process.version.replace(/\./g, '\\.')}; onnxruntime-node \\d+\\.\\d+`));
  const rows = tableLines(result.stdout);
  assert.is(rows.length, 5, rows.join('\n'));
  assert.match(rows[0], /^alpha\s+sqrt loop\s+[\d.]+\s+ms\s+median$/);
  assert.match(rows[1], /^alpha\s+timed runs\s+2\s+runs$/, 'quick mode: 2 timed runs');
  assert.match(rows[2], /^alpha\s+quick flag\s+1\s+bool/);
  assert.match(rows[3], /^beta\s+ERROR\s+-\s+model file missing: beta\.onnx$/);
  assert.match(rows[4], /^gamma\s+ERROR\s+-\s+bad row: value must be a number$/);
  assert.match(result.stderr, /2 failure\(s\)/);

  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.is(report.quick, true);
  assert.is(report.rows.length, 5);
  assert.is(report.rows[3].value, null, 'NaN is written as null');
  assert.equal(report.failures.map((f: { area: string }) => f.area), ['beta', 'gamma']);
  assert.type(report.machine.cores, 'number');
  assert.ok(report.machine.cores >= 1);
});

test('--only runs just the named bench (full timing loop) and exits 0', async () => {
  const result = await runSvc(['bench', '--dir', temp.dir, '--only', 'alpha']);
  assert.is(result.code, 0, result.stderr);
  const rows = tableLines(result.stdout);
  assert.is(rows.length, 3);
  assert.ok(rows.every((r) => r.startsWith('alpha')));
  const runs = Number(/timed runs\s+(\d+)/.exec(rows[1])?.[1]);
  assert.ok(runs >= 5, `without --quick at least minRuns (5) timed runs, got ${runs}`);
  assert.match(rows[2], /quick flag\s+0/);
});

test('--only with an unknown name says which benches exist', async () => {
  const result = await runSvc(['bench', '--dir', temp.dir, '--only', 'delta']);
  assert.is(result.code, 2);
  assert.match(result.stderr, /no bench named delta .*available: alpha, beta, gamma/);
});

test('--list on the real bench folder lists bench files (npm run bench uses the same harness)', async () => {
  const result = await runSvc(['bench', '--list']);
  assert.is(result.code, 0, result.stderr);
  for (const line of result.stdout.trim().split('\n').filter(Boolean)) assert.match(line, /^[\w-]+\t.+\.bench\.(ts|mts|js|mjs)$/);
});

test('table helpers: 3 significant digits, aligned columns, timing statistics', () => {
  assert.is(formatValue(0.012345), '0.0123');
  assert.is(formatValue(12.345), '12.3');
  assert.is(formatValue(123456.7), '123457');
  assert.is(formatValue(Number.NaN), '-');
  const table = formatTable([
    { group: 'a', name: 'x', value: 1.5, unit: 'ms' },
    { group: 'long-group', name: 'y', value: 1500, unit: 'x', note: 'n' },
  ]).split('\n');
  assert.is(table.length, 4);
  // Values are right-aligned: both end at the same column.
  const end = (line: string, value: string): number => line.indexOf(value) + value.length;
  assert.is(end(table[2], '1.50'), end(table[3], '1500'));
  const stats = summarizeTimes([4, 1, 3, 2, 10]);
  assert.equal([stats.runs, stats.minMs, stats.medianMs, stats.maxMs, stats.meanMs, stats.p90Ms], [5, 1, 3, 10, 4, 10]);
});

test.run();
