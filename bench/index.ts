// The benchmark harness behind `npm run bench` and `svc bench`: finds bench/*.bench.ts, runs each
// one's `run(ctx)` in this process one after another, and prints one table of all figures with the
// machine they were measured on. A bench that throws becomes an ERROR row and a non-zero exit; the
// others still run. Usage: node --import tsx bench/index.ts [--only A,B] [--quick] [--json FILE] [--dir DIR] [--list]
import { mkdirSync, readdirSync, renameSync, unlinkSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { sharedDataDir } from '../src/paths.js';
import {
  type BenchContext,
  type BenchRow,
  type MachineInfo,
  formatMachineInfo,
  formatTable,
  machineInfo,
  quickTimeItOptions,
  rowProblems,
  timeIt,
} from './lib.js';

export interface BenchOptions {
  /** Areas to run (file names without .bench.ts); empty = all. */
  only: string[];
  quick: boolean;
  /** Write {machine, rows, failures} as JSON here too. */
  jsonPath?: string;
  /** Folder holding the *.bench.ts files (default: this folder). */
  benchDir: string;
}

export interface BenchFailure {
  area: string;
  file: string;
  error: string;
}

export interface BenchReport {
  machine: MachineInfo;
  startedAt: string;
  quick: boolean;
  rows: BenchRow[];
  failures: BenchFailure[];
  /** Wall time of each area's run(), milliseconds. */
  areaMs: Record<string, number>;
}

const BENCH_SUFFIX = /\.bench\.(ts|mts|js|mjs)$/;

/** Bench files in `dir` as [area, absolute path], sorted by area. */
export function discoverBenches(dir: string): Array<{ area: string; file: string }> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new Error(`bench folder not found: ${dir}`);
  }
  return readdirSync(dir)
    .filter((f) => BENCH_SUFFIX.test(f))
    .sort()
    .map((f) => ({ area: f.replace(BENCH_SUFFIX, ''), file: join(dir, f) }));
}

function makeContext(quick: boolean): BenchContext {
  return {
    sharedDataDir,
    shared: (...parts: string[]) => join(sharedDataDir, ...parts),
    quick,
    timeIt: (fn, options) => timeIt(fn, quick ? quickTimeItOptions(options) : options),
    log: (message: string) => process.stderr.write(`bench: ${message}\n`),
  };
}

function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0].slice(0, 200);
}

/** Runs the selected benches one after another and collects their rows. */
export async function runBenchmarks(options: BenchOptions): Promise<BenchReport> {
  const all = discoverBenches(options.benchDir);
  const selected = options.only.length ? all.filter((b) => options.only.includes(b.area)) : all;
  const unknown = options.only.filter((name) => !all.some((b) => b.area === name));
  if (unknown.length) {
    const known = all.map((b) => b.area).join(', ') || '(none)';
    throw new Error(`no bench named ${unknown.join(', ')} in ${options.benchDir}; available: ${known}`);
  }
  const ctx = makeContext(options.quick);
  const report: BenchReport = {
    machine: machineInfo(),
    startedAt: new Date().toISOString(),
    quick: options.quick,
    rows: [],
    failures: [],
    areaMs: {},
  };
  for (const { area, file } of selected) {
    ctx.log(`${area} ...`);
    const t0 = performance.now();
    try {
      const mod = (await import(pathToFileURL(file).href)) as { run?: (ctx: BenchContext) => Promise<BenchRow[]> };
      if (typeof mod.run !== 'function') throw new Error(`${basename(file)} does not export run(ctx)`);
      const rows = await mod.run(ctx);
      if (!Array.isArray(rows)) throw new Error(`run() returned ${typeof rows}, expected an array of rows`);
      for (const row of rows) {
        const problems = rowProblems(row);
        if (problems.length) {
          report.failures.push({ area, file, error: `bad row ${JSON.stringify(row)}: ${problems.join('; ')}` });
          report.rows.push({ group: area, name: 'ERROR', value: NaN, unit: '', note: `bad row: ${problems.join('; ')}` });
        } else {
          report.rows.push(row);
        }
      }
    } catch (error) {
      report.failures.push({ area, file, error: oneLine(error) });
      report.rows.push({ group: area, name: 'ERROR', value: NaN, unit: '', note: oneLine(error) });
    }
    report.areaMs[area] = performance.now() - t0;
    ctx.log(`${area} done in ${(report.areaMs[area] / 1000).toFixed(1)} s`);
  }
  return report;
}

/** Writes the report as JSON atomically (temp file + rename). NaN values become null. */
export function writeReportJson(report: BenchReport, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
    renameSync(tmp, path);
  } catch (error) {
    if (existsSync(tmp)) unlinkSync(tmp);
    throw error;
  }
}

const USAGE = `usage: npm run bench -- [options]   (or: svc bench [options])
  --only A,B     run only these benches (bench/<A>.bench.ts ...); see --list
  --quick        smoke mode: 1 warm-up + 2 timed runs, short inputs; figures are indicative only
  --json FILE    also write the report (machine info, rows, failures) as JSON to FILE
  --dir DIR      folder with *.bench.ts files (default: bench/ of this checkout)
  --list         print the available benches and exit`;

export function parseBenchArgs(argv: string[]): BenchOptions & { list: boolean; help: boolean } {
  const options = { only: [] as string[], quick: false, jsonPath: undefined as string | undefined, benchDir: dirname(fileURLToPath(import.meta.url)), list: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--list') options.list = true;
    else if (arg === '--help' || arg === '-h') options.help = true;
    else if (arg === '--only') options.only.push(...value().split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg === '--json') options.jsonPath = resolve(value());
    else if (arg === '--dir') options.benchDir = resolve(value());
    else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

export async function benchMain(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parseBenchArgs>;
  try {
    options = parseBenchArgs(argv);
  } catch (error) {
    console.error(`bench: ${oneLine(error)}\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.list) {
    for (const { area, file } of discoverBenches(options.benchDir)) console.log(`${area}\t${file}`);
    return 0;
  }
  let report: BenchReport;
  try {
    report = await runBenchmarks(options);
  } catch (error) {
    console.error(`bench: ${oneLine(error)}`);
    return 2;
  }
  console.log(formatMachineInfo(report.machine));
  console.log(`started ${report.startedAt}${report.quick ? ' (quick: smoke figures, not for comparison)' : ''}`);
  console.log('');
  console.log(report.rows.length ? formatTable(report.rows) : '(no rows)');
  if (options.jsonPath) {
    writeReportJson(report, options.jsonPath);
    console.error(`bench: wrote ${options.jsonPath}`);
  }
  if (report.failures.length) {
    console.error(`bench: ${report.failures.length} failure(s):`);
    for (const f of report.failures) console.error(`  ${f.area}: ${f.error}`);
    return 1;
  }
  return 0;
}

const invokedDirectly = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  // Exit explicitly: a bench that leaves a handle open (a timer, a session) must not hang the run.
  process.exit(await benchMain(process.argv.slice(2)));
}
