// `svc eval` logic: pairs files of two folders (or two files) by name, scores each pair
// (src/eval/metrics.ts) and averages. Model evaluation converts each source file with the real
// `svc convert --model` (a child process of this same CLI, so eval measures exactly what users
// get) and scores converted vs source (pitch following, voicing) and, when a folder of the target
// speaker's parallel recordings is given, converted vs target (MCD).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { SvcError } from '../errors.js';
import { readMono } from '../audio/io.js';
import { AUDIO_EXTENSIONS } from '../offline/preprocess.js';
import { scorePair, type PairScores, type ScoreOptions } from './metrics.js';

export * from './metrics.js';

export interface PairResult extends PairScores {
  name: string;
  reference: string;
  test: string;
}

export interface EvalReport {
  pairs: PairResult[];
  /** Means over pairs (NaN entries skipped). */
  mean: { mcdDb: number; f0RmseCents: number; f0Correlation: number; voicingAgreement: number };
  unmatched: string[];
}

async function audioFiles(path: string): Promise<Map<string, string>> {
  if (!existsSync(path)) throw new SvcError('FILE_NOT_FOUND', `not found: ${path}`, { hint: 'pass an audio file or a folder of them' });
  const map = new Map<string, string>();
  if (statSync(path).isFile()) {
    map.set(basename(path, extname(path)), path);
    return map;
  }
  for (const name of (await readdir(path)).sort()) {
    if (AUDIO_EXTENSIONS.includes(extname(name).toLowerCase())) map.set(basename(name, extname(name)), join(path, name));
  }
  if (map.size === 0) throw new SvcError('INVALID_ARGUMENT', `${path} holds no ${AUDIO_EXTENSIONS.join('/')} files`, { hint: 'pass a folder of recordings' });
  return map;
}

function meanOf(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
}

export function summarize(pairs: PairResult[], unmatched: string[]): EvalReport {
  return {
    pairs,
    mean: {
      mcdDb: meanOf(pairs.map((p) => p.mcdDb)),
      f0RmseCents: meanOf(pairs.map((p) => p.f0RmseCents)),
      f0Correlation: meanOf(pairs.map((p) => p.f0Correlation)),
      voicingAgreement: meanOf(pairs.map((p) => p.voicingAgreement)),
    },
    unmatched,
  };
}

/** Scores every file of `testPath` against the same-named file of `referencePath` (files or folders). */
export async function evaluatePaths(referencePath: string, testPath: string, options: ScoreOptions & { onPair?: (p: PairResult) => void } = {}): Promise<EvalReport> {
  const references = await audioFiles(referencePath);
  const tests = await audioFiles(testPath);
  const bothFiles = references.size === 1 && tests.size === 1 && statSync(referencePath).isFile() && statSync(testPath).isFile();
  const names = bothFiles ? [[...references.keys()][0]!] : [...references.keys()].filter((n) => tests.has(n));
  if (names.length === 0) {
    throw new SvcError('INVALID_ARGUMENT', `no file names in common between ${referencePath} and ${testPath}`, { hint: 'parallel files must share their names (e.g. arctic_a0001.wav in both folders)' });
  }
  const pairs: PairResult[] = [];
  for (const name of names) {
    const reference = references.get(name)!;
    const test = bothFiles ? [...tests.values()][0]! : tests.get(name)!;
    const scores = await scorePair(await readMono(reference), await readMono(test), options);
    const pair = { name, reference, test, ...scores };
    options.onPair?.(pair);
    pairs.push(pair);
  }
  const unmatched = bothFiles ? [] : [...references.keys(), ...tests.keys()].filter((n) => !(references.has(n) && tests.has(n)));
  return summarize(pairs, [...new Set(unmatched)]);
}

/** Runs this CLI's `convert` subcommand (same node flags, same entry point) on one file. */
function runConvert(args: string[]): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const entry = process.argv[1];
    if (!entry) return reject(new SvcError('INTERNAL', 'cannot find the svc entry point to run convert'));
    const child = spawn(process.execPath, [...process.execArgv, entry, 'convert', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise();
      else reject(new SvcError('INTERNAL', `svc convert ${args.join(' ')} failed: ${stderr.trim().split('\n').slice(-3).join(' ')}`));
    });
  });
}

export interface ModelEvalOptions extends ScoreOptions {
  model: string;
  speaker?: string;
  /** Semitones passed to convert --pitch (and removed from the f0 error). */
  pitchSemitones?: number;
  /** Folder of the target speaker's recordings of the same sentences (for MCD). */
  targetPath?: string;
  /** Keep the converted files here instead of a temporary folder. */
  keepDir?: string;
  onPair?: (p: PairResult & { targetMcdDb?: number }) => void;
}

export interface ModelEvalReport extends EvalReport {
  /** Converted vs target (parallel) MCD, when a target folder was given. */
  target?: EvalReport;
}

/** Converts every source file with the model and scores the conversions. */
export async function evaluateModel(sourcePath: string, options: ModelEvalOptions): Promise<ModelEvalReport> {
  const sources = await audioFiles(sourcePath);
  const outDir = options.keepDir ?? mkdtempSync(join(tmpdir(), 'svc-eval-'));
  try {
    for (const [name, path] of sources) {
      const args = [path, join(outDir, `${name}.wav`), '--model', options.model];
      if (options.speaker !== undefined) args.push('--speaker', options.speaker);
      if (options.pitchSemitones) args.push('--pitch', String(options.pitchSemitones));
      await runConvert(args);
    }
    const pitchOffsetSemitones = options.pitchSemitones ?? 0;
    const report: ModelEvalReport = await evaluatePaths(sourcePath, outDir, { ...options, alignment: 'time', pitchOffsetSemitones, onPair: options.onPair });
    if (options.targetPath) report.target = await evaluatePaths(options.targetPath, outDir, { ...options, alignment: 'dtw', pitchOffsetSemitones: 0, onPair: undefined });
    return report;
  } finally {
    if (!options.keepDir) rmSync(outDir, { recursive: true, force: true });
  }
}
