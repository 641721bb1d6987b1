// `svc train`: runs the PyTorch trainer (python/svc_py/train/) as a child process and turns its
// JSON-line events (start, step, checkpoint, progress, result, error) into callbacks. With nproc > 1
// it runs `python -m svc_py.torchrun --standalone --nproc_per_node N -m svc_py.train ...` (torchrun)
// (DistributedDataParallel, gloo on CPU). The dataset and config are checked here first so common
// mistakes fail in milliseconds instead of after PyTorch has loaded.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SvcError } from '../errors.js';
import { shippedModelsDir } from '../paths.js';
import { runPythonModule } from '../python.js';
import { resolveModelConfig } from './config.js';
import { readDatasetManifest } from './preprocess.js';
import { removeStaleTempFiles } from '../io/temp-files.js';

export interface TrainOptions {
  datasetDir: string;
  runDir: string;
  /** 'small' | 'tiny' | 'standard' | config.json path (ignored on --resume when the run has a config); 'auto' = the dataset's. */
  config: string;
  /** Stop after this many steps in total; default FINE_TUNE_STEPS from a base, SCRATCH_STEPS from random weights. */
  steps?: number;
  resume?: boolean;
  /**
   * Pretrained weights to start from (fine-tuning, as so-vits-svc users start from its G_0.pth/D_0.pth):
   * a folder with G_0.pth/D_0.pth, a run folder or a G_<n>.pth file; 'auto' (default) = the shipped
   * base of --config small or tiny, nothing otherwise; 'none' = random initialisation.
   */
  base?: string;
  checkpointEvery?: number;
  logEvery?: number;
  nproc?: number;
  batchSize?: number;
  threads?: number;
  seed?: number;
  onEvent?: (event: TrainEvent) => void;
  signal?: AbortSignal;
}

export type TrainLosses = Partial<Record<'mel' | 'kl' | 'fm' | 'gen' | 'disc' | 'lf0' | 'stft', number>>;

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


/** The tiny config's pretrained base, trained once on CC BY / public-domain speech (models/sovits_tiny_base/README.md). */
export const TINY_BASE_DIR = join(shippedModelsDir, 'sovits_tiny_base');

/** The small config's multi-speaker base (models/sovits_small_base/README.md): the default voice's starting point. */
export const SMALL_BASE_DIR = join(shippedModelsDir, 'sovits_small_base');

/**
 * The fine-tune recipe's length: steps from a pretrained base that make a voice of ~2 minutes of
 * speech within ~15 minutes of one CPU core (small config, batch 4 × 0.4 s; models/sovits_small_base/README.md
 * has the measured rate and the quality benchmark's figures for it).
 */
export const FINE_TUNE_STEPS = 300;
/** Default length of a run from random weights (no base). */
export const SCRATCH_STEPS = 10000;

/** --base auto|none|PATH → the path the trainer starts from, or undefined for random weights. */
export function resolveBase(base: string | undefined, config: string): string | undefined {
  if (base === undefined || base === 'auto') {
    const shipped = config === 'tiny' ? TINY_BASE_DIR : config === 'small' ? SMALL_BASE_DIR : undefined;
    return shipped && existsSync(join(shipped, 'G_0.pth')) ? shipped : undefined;
  }
  if (base === 'none') return undefined;
  if (!existsSync(base)) {
    throw new SvcError('FILE_NOT_FOUND', `--base ${base}: no such file or folder`, {
      hint: "pass a folder with so-vits-svc's pretrained G_0.pth and D_0.pth, a run folder, a G_<step>.pth file, 'auto' or 'none'",
    });
  }
  return resolve(base);
}

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
export async function train(requested: TrainOptions): Promise<TrainResult> {
  // --config auto: the config the dataset was preprocessed for (its manifest says which).
  const options = requested.config === 'auto' ? { ...requested, config: (await readDatasetManifest(requested.datasetDir)).config } : requested;
  const nproc = options.nproc ?? 1;
  if (!Number.isInteger(nproc) || nproc < 1 || nproc > 64) throw new SvcError('INVALID_ARGUMENT', `--nproc must be an integer from 1 to 64, got ${nproc}`);
  await checkTrainInputs(options);
  // Checkpoints, plots and samples a killed earlier run was writing (G_20.pth.tmp-PID, …) go first.
  removeStaleTempFiles(resolve(options.runDir), { subfolders: ['val'] });
  const base = resolveBase(options.base, options.config);
  const steps = options.steps ?? (base ? FINE_TUNE_STEPS : SCRATCH_STEPS);
  const trainerArgs = ['--dataset', resolve(options.datasetDir), '--out', resolve(options.runDir), '--config', options.config, '--steps', String(steps)];
  if (options.resume) trainerArgs.push('--resume');
  if (base) trainerArgs.push('--base', base);
  if (options.checkpointEvery) trainerArgs.push('--checkpoint-every', String(options.checkpointEvery));
  if (options.logEvery) trainerArgs.push('--log-every', String(options.logEvery));
  if (options.batchSize) trainerArgs.push('--batch-size', String(options.batchSize));
  if (options.threads) trainerArgs.push('--threads', String(options.threads));
  if (options.seed !== undefined) trainerArgs.push('--seed', String(options.seed));
  const launcher = nproc > 1 ? ['-m', 'svc_py.torchrun', '--standalone', '--nnodes', '1', '--nproc_per_node', String(nproc)] : [];
  return runPythonModule<TrainResult>('train', trainerArgs, {
    launcher,
    env: { OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? '1' },
    signal: options.signal,
    // torchrun stops its workers on SIGTERM; a SIGKILL would orphan them.
    killSignal: 'SIGTERM',
    onEvent: (event) => options.onEvent?.(event as unknown as TrainEvent),
    failureHint: `checkpoints so far are in ${options.runDir}; continue with --resume`,
  });
}
