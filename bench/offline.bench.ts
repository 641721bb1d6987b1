// Offline-mode speed: preprocessing (× real time, tiny config and standard 44.1 kHz settings) and
// training steps/s of the tiny and standard configs on this machine's CPU. Training figures come
// from the trainer's own steps/s (PyTorch start-up and checkpoint writing excluded); the standard
// run uses a random 768-d conv encoder (speed only) and only a few steps (each takes seconds on a CPU).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { preprocessDataset } from '../src/offline/preprocess.js';
import { train } from '../src/offline/train.js';
import { runPythonModule } from '../src/python.js';
import type { BenchContext, BenchRow } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-offline-'));
  try {
    const input = join(dir, 'in');
    mkdirSync(input);
    const files = ctx.quick ? 3 : 8;
    for (let n = 1; n <= files; n++) {
      const name = `arctic_a${String(n).padStart(4, '0')}.wav`;
      symlinkSync(ctx.shared('speech', 'kathleen_arctic_cc0_48k', name), join(input, name));
    }
    for (const f0Method of ['hybrid', 'dsp'] as const) {
      ctx.log(`offline: preprocess tiny (${f0Method})`);
      const r = await preprocessDataset({ inputDir: input, outDir: join(dir, `ds-tiny-${f0Method}`), speaker: 'kathleen', encoder: 'tiny', f0Method, config: 'tiny' });
      const s = r.manifest.summary;
      rows.push({ group: 'offline', name: `preprocess tiny (16 kHz, f0 ${f0Method}) speed`, value: s.realtime_factor, unit: '× real time (higher is faster)', note: `${(s.hours_in * 3600).toFixed(0)} s of 48 kHz stereo speech in ${s.seconds.toFixed(1)} s, ${s.clips_out} clips` });
    }
    const encoder768 = join(dir, 'enc768.onnx');
    await runPythonModule('export_run', ['--write-tiny-encoder', encoder768, '--dim', '768']);
    ctx.log('offline: preprocess standard');
    const std = await preprocessDataset({ inputDir: input, outDir: join(dir, 'ds-std'), speaker: 'kathleen', encoder: encoder768, f0Method: 'hybrid', config: 'standard' });
    rows.push({ group: 'offline', name: 'preprocess standard (44.1 kHz, f0 hybrid) speed', value: std.manifest.summary.realtime_factor, unit: '× real time (higher is faster)', note: `random 768-d conv encoder (a HuBERT-base encoder adds its own cost)` });

    ctx.log('offline: train tiny');
    const tinySteps = ctx.quick ? 20 : 100;
    const tiny = await train({ datasetDir: join(dir, 'ds-tiny-hybrid'), runDir: join(dir, 'run-tiny'), config: 'tiny', steps: tinySteps, checkpointEvery: tinySteps, logEvery: 10 });
    rows.push({ group: 'offline', name: 'train tiny steps/s (1 process, 1 thread)', value: tiny.steps_per_s, unit: 'steps/s (higher is faster)', note: `batch 4 × 0.4 s segments, ${tinySteps} steps` });
    const first = tiny.history[0]?.losses.mel;
    const last = tiny.history[tiny.history.length - 1]?.losses.mel;
    if (first !== undefined && last !== undefined) rows.push({ group: 'offline', name: `train tiny mel loss after ${tinySteps} steps`, value: last, unit: 'L1 × 45', note: `from ${first.toFixed(1)} at step ${tiny.history[0]!.step}, fine-tuning the shipped base` });

    ctx.log('offline: train standard (a few steps)');
    const stdSteps = ctx.quick ? 2 : 4;
    const standard = await train({ datasetDir: join(dir, 'ds-std'), runDir: join(dir, 'run-std'), config: 'standard', steps: stdSteps, checkpointEvery: 1_000_000, logEvery: 1, batchSize: 6 });
    rows.push({ group: 'offline', name: 'train standard steps/s (1 process, 1 thread)', value: standard.steps_per_s, unit: 'steps/s (higher is faster)', note: `batch 6 × 0.23 s segments at 44.1 kHz, ${stdSteps} steps incl. the first` });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
