// Speed of the pitch trackers users import (`svc import-f0`: FCPE, RMVPE) at their published sizes, side by
// side, as f0.bench.ts times the shipped methods: file mode and streaming in 20 ms chunks (exact window and
// the live low-latency one). No real weights are on this machine, so each graph is exported from a checkpoint
// of random weights in the users' layout (python/svc_py/pitch/random_checkpoint.py); timing does not depend on
// the weights. RMVPE (90 M parameters, ~1.5 min to export) is left out of --quick.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { createF0Stream, estimateF0 } from '../src/dsp/f0/index.js';
import { importF0Model } from '../src/dsp/f0/imported.js';
import type { ImportedF0Method } from '../src/dsp/f0/types.js';
import { runPythonModule } from '../src/python.js';
import type { BenchContext, BenchRow } from './lib.js';
import { realTimeFactor, timeStreamChunks } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const audio = await readMono(ctx.shared('speech', 'singing_sms_tools', 'singing-female.wav'));
  const seconds = Math.min(ctx.quick ? 2 : 10, audio.samples.length / audio.sampleRate);
  const samples = audio.samples.subarray(0, Math.round(seconds * audio.sampleRate));
  const hop = 512;
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-f0import-'));
  const previousRoot = process.env.SVC_MODELS_DIR;
  process.env.SVC_MODELS_DIR = join(dir, 'models');
  try {
    const kinds: ImportedF0Method[] = ctx.quick ? ['fcpe'] : ['fcpe', 'rmvpe'];
    for (const kind of kinds) {
      ctx.log(`f0import: ${kind} random checkpoint and export`);
      const checkpoint = join(dir, `${kind}.pt`);
      const made = await runPythonModule<{ parameters: number }>('pitch.random_checkpoint', ['--kind', kind, '--out', checkpoint]);
      await importF0Model({ model: checkpoint, out: join(dir, 'models', 'f0', `${kind}.onnx`) });
      const size = `${(made.parameters / 1e6).toFixed(1)} M parameters, random weights`;
      const note = `${seconds.toFixed(1)} s singing, ${audio.sampleRate} Hz, hop ${hop}, cpu, 1 thread; ${size}`;
      const t = await ctx.timeIt(() => estimateF0(samples, audio.sampleRate, { method: kind, hopSamples: hop, threads: 1 }), { minMs: 1500, minRuns: 2 });
      rows.push({ group: 'f0import', name: `${kind} file (incl. model load)`, value: realTimeFactor(t.medianMs, seconds), unit: 'x', note: `${note}; median ${t.medianMs.toFixed(0)} ms` });
      for (const lowLatency of [false, true]) {
        const stream = await createF0Stream(audio.sampleRate, { method: kind, hopSamples: hop, lowLatency, threads: 1 });
        const { totalMs, p90Ms } = await timeStreamChunks(stream, samples, audio.sampleRate);
        rows.push({
          group: 'f0import',
          name: `${kind}${lowLatency ? ' lowLatency' : ''} streaming, 20 ms chunks`,
          value: realTimeFactor(totalMs, seconds),
          unit: 'x',
          note: `p90 ${p90Ms.toFixed(1)} ms per 20 ms chunk (a run every 40 ms); latency ${((1000 * stream.latencySamples) / audio.sampleRate).toFixed(0)} ms after frame centre; ${size}`,
        });
      }
    }
  } finally {
    if (previousRoot === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previousRoot;
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
