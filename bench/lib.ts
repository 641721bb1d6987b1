// Shared pieces of the benchmark harness: the contract between bench/index.ts and each
// bench/<area>.bench.ts (BenchRow, BenchContext), a timing loop, machine facts and the table
// printer. Benches import types and small helpers from here; nothing here knows any area.
import { readFileSync } from 'node:fs';
import { cpus, totalmem, platform, arch, release } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { repoRoot } from '../src/paths.js';

/** One measured figure. `group` is the area (by convention the bench file's name, e.g. "dsp"). */
export interface BenchRow {
  group: string;
  name: string;
  value: number;
  unit: string;
  note?: string;
}

export interface TimeItOptions {
  /** Keep running until this much time has been spent in `fn` (milliseconds). Default 1000. */
  minMs?: number;
  /** ... and at least this many timed runs. Default 5. */
  minRuns?: number;
  /** Never more than this many timed runs. Default 10000. */
  maxRuns?: number;
  /** Untimed runs first (JIT, caches, lazy model loads). Default 1. */
  warmupRuns?: number;
}

export interface Timing {
  runs: number;
  meanMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** 90th percentile of the runs (the tail that a real-time budget has to survive). */
  p90Ms: number;
  totalMs: number;
}

export interface BenchContext {
  /** ../shared/data beside the checkout (real speech, singing, small models). */
  sharedDataDir: string;
  /** Path under sharedDataDir. */
  shared(...parts: string[]): string;
  /** Smoke mode (`--quick`): few runs, short inputs; figures are indicative only. */
  quick: boolean;
  /** Times `fn` (see TimeItOptions); in quick mode runs are cut to 1 warm-up + 2 timed runs. */
  timeIt(fn: () => unknown, options?: TimeItOptions): Promise<Timing>;
  /** Progress line on stderr (the table goes to stdout). */
  log(message: string): void;
}

function percentile(sortedMs: number[], fraction: number): number {
  if (sortedMs.length === 0) return NaN;
  const index = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil(fraction * sortedMs.length) - 1));
  return sortedMs[index];
}

/** Statistics of a list of run times (milliseconds). */
export function summarizeTimes(timesMs: number[]): Timing {
  const sorted = [...timesMs].sort((a, b) => a - b);
  const totalMs = sorted.reduce((s, x) => s + x, 0);
  return {
    runs: sorted.length,
    meanMs: sorted.length ? totalMs / sorted.length : NaN,
    medianMs: percentile(sorted, 0.5),
    minMs: sorted.length ? sorted[0] : NaN,
    maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
    p90Ms: percentile(sorted, 0.9),
    totalMs,
  };
}

/** Runs `fn` (sync or async) until both minMs and minRuns are reached; returns run statistics. */
export async function timeIt(fn: () => unknown, options: TimeItOptions = {}): Promise<Timing> {
  const minMs = options.minMs ?? 1000;
  const minRuns = Math.max(1, options.minRuns ?? 5);
  const maxRuns = Math.max(minRuns, options.maxRuns ?? 10_000);
  const warmupRuns = Math.max(0, options.warmupRuns ?? 1);
  for (let i = 0; i < warmupRuns; i++) await fn();
  const times: number[] = [];
  let spentMs = 0;
  while (times.length < maxRuns && (times.length < minRuns || spentMs < minMs)) {
    const t0 = performance.now();
    await fn();
    const dt = performance.now() - t0;
    times.push(dt);
    spentMs += dt;
  }
  return summarizeTimes(times);
}

/** Options that --quick imposes on every timeIt call: enough to prove the code runs, no more. */
export function quickTimeItOptions(options: TimeItOptions = {}): TimeItOptions {
  return { ...options, minMs: 0, minRuns: Math.min(options.minRuns ?? 2, 2), maxRuns: 2, warmupRuns: Math.min(options.warmupRuns ?? 1, 1) };
}

/** Real-time factor: processing time / audio duration (below 1 = faster than real time). */
export function realTimeFactor(processingMs: number, audioSeconds: number): number {
  return processingMs / (audioSeconds * 1000);
}

/**
 * Feeds `samples` to a stream in chunks of `chunkMs` (as a live input delivers them), timing each process()
 * call, then flushes and disposes it: total and 90th-percentile milliseconds per chunk.
 */
export async function timeStreamChunks(stream: { process(chunk: Float32Array): Promise<unknown>; flush(): Promise<unknown>; dispose(): Promise<void> }, samples: Float32Array, sampleRate: number, chunkMs = 20): Promise<{ totalMs: number; p90Ms: number }> {
  const chunk = Math.round((sampleRate * chunkMs) / 1000);
  const perChunk: number[] = [];
  try {
    for (let pos = 0; pos + chunk <= samples.length; pos += chunk) {
      const t0 = performance.now();
      await stream.process(samples.subarray(pos, pos + chunk));
      perChunk.push(performance.now() - t0);
    }
    await stream.flush();
  } finally {
    await stream.dispose();
  }
  const sorted = [...perChunk].sort((a, b) => a - b);
  return { totalMs: perChunk.reduce((a, b) => a + b, 0), p90Ms: sorted[Math.floor(0.9 * (sorted.length - 1))] ?? 0 };
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  onnxruntime: string;
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'not installed';
  }
}

/** What the figures depend on: CPU, core count, Node and onnxruntime-node versions. */
export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model?.trim() || 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    onnxruntime: `onnxruntime-node ${packageVersion('onnxruntime-node')}`,
  };
}

/** Number for a table cell: 3 significant digits, no exponent for everyday magnitudes. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return Number.isNaN(value) ? '-' : String(value);
  const abs = Math.abs(value);
  if (Number.isInteger(value) && abs < 1e7) return String(value);
  if (abs >= 1e7 || abs < 1e-4) return value.toExponential(2);
  if (abs >= 1000) return Math.round(value).toString();
  const digits = Math.max(0, 2 - Math.floor(Math.log10(abs)));
  return value.toFixed(Math.min(digits, 6));
}

/** Plain-text table, one row per figure; columns group, name, value (right-aligned), unit, note. */
export function formatTable(rows: BenchRow[]): string {
  const header = ['group', 'name', 'value', 'unit', 'note'];
  const cells = rows.map((r) => [r.group, r.name, formatValue(r.value), r.unit, r.note ?? '']);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]): string =>
    row
      .map((cell, c) => (c === 2 ? cell.padStart(widths[c]) : c === row.length - 1 ? cell : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w, c) => (c === widths.length - 1 ? '-'.repeat(Math.max(4, Math.min(w, 40))) : '-'.repeat(w))).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** Machine facts as header lines above the table. */
export function formatMachineInfo(info: MachineInfo): string {
  return [
    `cpu: ${info.cpuModel} (${info.cores} cores), ${info.memoryGiB} GiB`,
    `os: ${info.os}; node ${info.node}; ${info.onnxruntime}`,
  ].join('\n');
}

/** Problems with a row returned by a bench, or [] when it is well-formed. */
export function rowProblems(row: unknown): string[] {
  if (typeof row !== 'object' || row === null) return ['row is not an object'];
  const r = row as Record<string, unknown>;
  const problems: string[] = [];
  for (const key of ['group', 'name', 'unit'] as const) {
    if (typeof r[key] !== 'string') problems.push(`${key} must be a string`);
  }
  if (typeof r.value !== 'number') problems.push('value must be a number');
  if (r.note !== undefined && typeof r.note !== 'string') problems.push('note must be a string when given');
  return problems;
}
