// `svc train`: runs the PyTorch trainer (python/svc_py/train.py) as a child process and turns its
// JSON-line events (start, step, checkpoint, progress, result, error) into callbacks. With nproc > 1
// it runs `python -m torch.distributed.run --standalone --nproc_per_node N -m svc_py.train ...`
// (DistributedDataParallel, gloo on CPU). The dataset and config are checked here first so common
// mistakes fail in milliseconds instead of after PyTorch has loaded.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SvcError, type SvcErrorCode } from '../errors.js';
import { pythonExecutable, repoRoot } from '../paths.js';
import { PYTHON_INSTALL_HINT, pythonPackageDir } from '../python.js';
import { resolveModelConfig } from './config.js';
import { readDatasetManifest } from './preprocess.js';

export interface TrainOptions {
  datasetDir: string;
  runDir: string;
  /** 'tiny' | 'standard' | config.json path (ignored on --resume when the run has a config). */
  config: string;
  /** Stop after this many steps in total. */
  steps: number;
  resume?: boolean;
  checkpointEvery?: number;
  logEvery?: number;
  nproc?: number;
  batchSize?: number;
  threads?: number;
  seed?: number;
  onEvent?: (event: TrainEvent) => void;
  signal?: AbortSignal;
}

export type TrainLosses = Partial<Record<'mel' | 'kl' | 'fm' | 'gen' | 'disc' | 'lf0', number>>;

export type TrainEvent =
  | { event: 'start'; step: number; total: number; parameters: { generator: number; discriminator: number }; clips: { train: number; val: number }; device: string; world_size: number }
  | { event: 'step'; step: number; total: number; losses: TrainLosses; steps_per_s: number; eta_s: number | null; lr: number }
  | { event: 'checkpoint'; step: number; path: string }
  | { event: 'progress'; message: string; step?: number };

export interface TrainResult {
  run: string;
  step: number;
  steps_per_s: number;
  history: Array<{ step: number; losses: TrainLosses }>;
}

const KNOWN_CODES = new Set<string>(['FILE_NOT_FOUND', 'INVALID_ARGUMENT', 'INVALID_AUDIO', 'MODEL_INVALID', 'PYTHON_UNAVAILABLE', 'INTERNAL']);

/** Checks dataset ↔ config before anything heavy starts. */
export async function checkTrainInputs(options: Pick<TrainOptions, 'datasetDir' | 'runDir' | 'config' | 'resume'>): Promise<void> {
  const manifest = await readDatasetManifest(options.datasetDir);
  const runConfig = join(options.runDir, 'config.json');
  const configName = options.resume && existsSync(runConfig) ? runConfig : options.config;
  const settings = resolveModelConfig(configName);
  const mismatches: string[] = [];
  if (manifest.sampling_rate !== settings.samplingRate) mismatches.push(`sampling rate ${manifest.sampling_rate} Hz vs ${settings.samplingRate} Hz`);
  if (manifest.hop_length !== settings.hopLength) mismatches.push(`hop ${manifest.hop_length} vs ${settings.hopLength} samples`);
  if (manifest.encoder.dim !== settings.sslDim) mismatches.push(`content encoder ${manifest.encoder.name} gives ${manifest.encoder.dim}-d rows vs ssl_dim ${settings.sslDim} (${settings.speechEncoder})`);
  if (mismatches.length) {
    throw new SvcError('MODEL_INVALID', `dataset ${options.datasetDir} was made for another model than config ${settings.name}: ${mismatches.join('; ')}`, {
      hint: `preprocess the recordings again with --config ${options.config}${manifest.encoder.dim !== settings.sslDim ? ` and a ${settings.sslDim}-d encoder` : ''}, or train with the config the dataset was made for (${manifest.config})`,
    });
  }
}

/** Trains; resolves with the trainer's result (final step, speed, first and last losses). */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const nproc = options.nproc ?? 1;
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > 64) throw new SvcError('INVALID_ARGUMENT', `--nproc must be an integer from 1 to 64, got ${nproc}`);
  await checkTrainInputs(options);
  const trainerArgs = ['--dataset', resolve(options.datasetDir), '--out', resolve(options.runDir), '--config', options.config, '--steps', String(options.steps)];
  if (options.resume) trainerArgs.push('--resume');
  if (options.checkpointEvery) trainerArgs.push('--checkpoint-every', String(options.checkpointEvery));
  if (options.logEvery) trainerArgs.push('--log-every', String(options.logEvery));
  if (options.batchSize) trainerArgs.push('--batch-size', String(options.batchSize));
  if (options.threads) trainerArgs.push('--threads', String(options.threads));
  if (options.seed !== undefined) trainerArgs.push('--seed', String(options.seed));
  const args = nproc > 1
    ? ['-m', 'svc_py.torchrun', '--standalone', '--nnodes', '1', '--nproc_per_node', String(nproc), '-m', 'svc_py.train', ...trainerArgs]
    : ['-m', 'svc_py.train', ...trainerArgs];

  return new Promise<TrainResult>((resolvePromise, rejectPromise) => {
    let settled = false;
    let result: TrainResult | undefined;
    let failure: SvcError | undefined;
    let buffer = '';
    let stderrTail = '';
    // The child stays in our process group, so a Ctrl-C or a kill of the group stops it too.
    const child = spawn(pythonExecutable, args, {
      cwd: repoRoot,
      env: { ...process.env, PYTHONPATH: [pythonPackageDir, process.env.PYTHONPATH].filter(Boolean).join(':'), PYTHONUNBUFFERED: '1', OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const killChild = (): void => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    };
    process.once('exit', killChild);
    const onAbort = (): void => finish(new SvcError('INTERNAL', 'training was cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    function finish(error?: SvcError, value?: TrainResult): void {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      process.removeListener('exit', killChild);
      killChild();
      if (error) rejectPromise(error);
      else resolvePromise(value!);
    }
    const handleLine = (line: string): void => {
      if (!line.trim()) return;
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(line) as Record<string, unknown>;
      } catch {
        stderrTail = (stderrTail + line + '\n').slice(-4000); // torchrun's own chatter
        return;
      }
      if (event.event === 'result') {
        if (typeof event.run === 'string') result = event as unknown as TrainResult; // other ranks report only {rank}
      } else if (event.event === 'error') {
        if (!failure) {
          const code = typeof event.code === 'string' && KNOWN_CODES.has(event.code) ? (event.code as SvcErrorCode) : 'INTERNAL';
          failure = new SvcError(code, String(event.message ?? 'training failed'), event.hint ? { hint: String(event.hint) } : {});
        }
      } else if (event.event === 'start' || event.event === 'step' || event.event === 'checkpoint' || event.event === 'progress') {
        options.onEvent?.(event as unknown as TrainEvent);
      }
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        handleLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      finish(new SvcError('PYTHON_UNAVAILABLE', `cannot run Python at ${pythonExecutable} (${error.code ?? error.message})`, { hint: PYTHON_INSTALL_HINT }));
    });
    child.on('close', (code, signal) => {
      handleLine(buffer);
      if (failure) return finish(failure);
      if (code === 0 && result) return finish(undefined, result);
      if (/No module named '?(torch|torchaudio|numpy)/.test(stderrTail)) {
        return finish(new SvcError('PYTHON_UNAVAILABLE', `${pythonExecutable} lacks PyTorch, which svc train needs`, { hint: PYTHON_INSTALL_HINT }));
      }
      const tail = stderrTail.trim().split('\n').filter((l) => !/Warning|warn\(/.test(l)).slice(-6).join('\n');
      finish(new SvcError('INTERNAL', `the trainer stopped without a result (exit ${code ?? signal})${tail ? `:\n${tail}` : ''}`, {
        hint: `checkpoints so far are in ${options.runDir}; continue with --resume`,
      }));
    });
  });
}

/** The loss history a run has written with its latest checkpoint (RUN/losses.json), or []. */
export function readLossHistory(runDir: string): Array<{ step: number; losses: TrainLosses }> {
  const path = join(runDir, 'losses.json');
  if (!existsSync(path)) return [];
  return JSON.parse(readFileSync(path, 'utf8')) as Array<{ step: number; losses: TrainLosses }>;
}
