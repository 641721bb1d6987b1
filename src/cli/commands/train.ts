// `svc train DATASET --out RUN`: trains a So-VITS-SVC model on a dataset from `svc preprocess`
// (python/svc_py/train/; docs/training.md). Shows step, losses, steps/s and ETA (a progress bar on
// a terminal, a line per logged step otherwise). Checkpoints G_<step>.pth/D_<step>.pth land in RUN;
// --resume continues from the newest; --nproc N trains N processes with torchrun (gloo on CPU).
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { FINE_TUNE_STEPS, SCRATCH_STEPS, train, type TrainEvent } from '../../offline/train.js';
import { parseNumberOption } from '../options.js';

interface TrainCliOptions {
  out: string;
  config: string;
  steps?: string;
  resume: boolean;
  base: string;
  checkpointEvery?: string;
  logEvery: string;
  nproc: string;
  batchSize?: string;
  threads?: string;
  seed: string;
}

function formatSeconds(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

export function register(program: Command): void {
  program
    .command('train')
    .description('Train a So-VITS-SVC model on a dataset made by `svc preprocess` (PyTorch; CPU or CUDA). Checkpoints, validation audio (val/step_N.wav) and loss curves (losses.png, losses.json) go to --out.')
    .argument('<dataset>', 'dataset folder written by `svc preprocess`')
    .requiredOption('--out <run>', 'run folder for checkpoints G_<step>.pth / D_<step>.pth, config.json, run.json, val/ and losses.png')
    .option('--config <config>', 'small (the default voice, 16 kHz, svc\'s phone encoder), tiny (16 kHz test model), standard (so-vits-svc 4.1, 44.1 kHz) or a so-vits-svc config.json; must match the dataset; auto = the one the dataset was preprocessed for', 'auto')
    .option('--steps <n>', `train until this many steps in total (counting steps before a --resume); default ${FINE_TUNE_STEPS} when fine-tuning from a base (the recipe: ~15 min on one CPU core for the small config), ${SCRATCH_STEPS} from random weights`)
    .option('--resume', 'continue from the newest complete checkpoint in --out (same step count, optimizer state and loss history)', false)
    .option('--base <path>', "pretrained weights to fine-tune from: a folder with G_0.pth/D_0.pth (so-vits-svc's pretrained base), a run folder or a G_<step>.pth; auto = the shipped base of --config small or tiny, none = random weights", 'auto')
    .option('--checkpoint-every <n>', 'write a checkpoint every N steps (default: the config\'s train.eval_interval, 800)')
    .option('--log-every <n>', 'report losses every N steps', '10')
    .option('--nproc <n>', 'training processes on this machine (torchrun DistributedDataParallel; gloo on CPU, nccl on CUDA)', '1')
    .option('--batch-size <n>', 'clips per step per process (default: the config\'s train.batch_size)')
    .option('--threads <n>', 'PyTorch CPU threads per process (default: cores / (2 × nproc), at least 1)')
    .option('--seed <n>', 'random seed (weights, batches)', '1234')
    .action(async (dataset: string, opts: TrainCliOptions) => {
      const steps = opts.steps === undefined ? undefined : parseNumberOption('--steps', opts.steps, { min: 1, max: 100_000_000, integer: true });
      const nproc = parseNumberOption('--nproc', opts.nproc, { min: 1, max: 64, integer: true });
      const tty = process.stderr.isTTY === true;
      const bar = tty ? new cliProgress.SingleBar({ format: 'train |{bar}| {value}/{total} | mel {mel} | {rate} steps/s | ETA {eta}', stream: process.stderr }, cliProgress.Presets.shades_classic) : undefined;
      const onEvent = (e: TrainEvent): void => {
        if (e.event === 'start') {
          const line = `train: step ${e.step} of ${e.total} on ${e.device}${e.world_size > 1 ? ` × ${e.world_size} processes` : ''}; generator ${e.parameters.generator} parameters, discriminator ${e.parameters.discriminator}; ${e.clips.train} training clip(s), ${e.clips.val} validation`;
          console.error(line);
          bar?.start(e.total, e.step, { mel: '-', rate: '-', eta: '?' });
        } else if (e.event === 'step') {
          const mel = e.losses.mel?.toFixed(2) ?? '-';
          if (bar) bar.update(e.step, { mel, rate: e.steps_per_s.toFixed(2), eta: formatSeconds(e.eta_s) });
          else {
            const losses = Object.entries(e.losses).map(([k, v]) => `${k} ${v!.toFixed(3)}`).join(', ');
            console.error(`train: step ${e.step}/${e.total} | ${losses} | ${e.steps_per_s.toFixed(2)} steps/s | ETA ${formatSeconds(e.eta_s)}`);
          }
        } else if (e.event === 'checkpoint') {
          if (!bar) console.error(`train: checkpoint ${e.path}`);
        } else if (e.event === 'progress') {
          if (!bar) console.error(`train: ${e.message}`);
        }
      };
      try {
        const result = await train({
          datasetDir: dataset, runDir: opts.out, config: opts.config, steps, resume: opts.resume, base: opts.base, nproc, onEvent,
          checkpointEvery: opts.checkpointEvery === undefined ? undefined : parseNumberOption('--checkpoint-every', opts.checkpointEvery, { min: 1, max: 100_000_000, integer: true }),
          logEvery: parseNumberOption('--log-every', opts.logEvery, { min: 1, max: 100_000, integer: true }),
          batchSize: opts.batchSize === undefined ? undefined : parseNumberOption('--batch-size', opts.batchSize, { min: 1, max: 4096, integer: true }),
          threads: opts.threads === undefined ? undefined : parseNumberOption('--threads', opts.threads, { min: 1, max: 256, integer: true }),
          seed: parseNumberOption('--seed', opts.seed, { min: 0, max: 2 ** 31 - 1, integer: true }),
        });
        bar?.stop();
        const first = result.history[0];
        const last = result.history[result.history.length - 1];
        console.log(`run: ${result.run} (step ${result.step}, ${result.steps_per_s.toFixed(2)} steps/s)`);
        if (first && last) console.log(`mel loss: ${first.losses.mel?.toFixed(2)} at step ${first.step} → ${last.losses.mel?.toFixed(2)} at step ${last.step}`);
        console.log(`export it with: svc export ${opts.out} --out models/NAME`);
      } finally {
        bar?.stop();
      }
    });
}
