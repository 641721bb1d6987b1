// f0 speed: real-time factor (processing time / audio duration, lower is faster) of every method
// on a shared singing file, file mode (one call) and streaming (20 ms chunks, as a live input
// delivers them); plus volume. Sessions load outside the timed part.
import { readMono } from '../src/audio/io.js';
import { createF0Stream, estimateF0, F0_METHODS } from '../src/dsp/f0/index.js';
import { volumeRms } from '../src/dsp/volume.js';
import type { BenchContext, BenchRow } from './lib.js';
import { realTimeFactor, timeStreamChunks } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const file = ctx.shared('speech', 'singing_sms_tools', 'singing-female.wav');
  const audio = await readMono(file);
  const seconds = ctx.quick ? 2 : audio.samples.length / audio.sampleRate;
  const samples = audio.samples.subarray(0, Math.round(seconds * audio.sampleRate));
  const hop = 512;
  const note = `${seconds.toFixed(1)} s singing, ${audio.sampleRate} Hz, hop ${hop}, cpu, default threads`;
  const configs = [...F0_METHODS.map((method) => ({ method, lowLatency: false })), { method: 'hybrid' as const, lowLatency: true }];
  for (const { method, lowLatency } of configs) {
    ctx.log(`f0 ${method}${lowLatency ? ' lowLatency' : ''}`);
    // estimateF0 creates its session(s) each call: time that separately from steady-state streaming
    if (!lowLatency) {
      const t = await ctx.timeIt(() => estimateF0(samples, audio.sampleRate, { method, hopSamples: hop }), { minMs: 1500, minRuns: 3 });
      rows.push({ group: 'f0', name: `${method} file (incl. model load)`, value: realTimeFactor(t.medianMs, seconds), unit: 'x', note: `${note}; median ${t.medianMs.toFixed(0)} ms` });
    }
    const stream = await createF0Stream(audio.sampleRate, { method, hopSamples: hop, lowLatency });
    const { totalMs: total, p90Ms: p90 } = await timeStreamChunks(stream, samples, audio.sampleRate);
    rows.push({
      group: 'f0',
      name: `${method}${lowLatency ? ' lowLatency' : ''} streaming, 20 ms chunks`,
      value: realTimeFactor(total, seconds),
      unit: 'x',
      note: `p90 ${p90.toFixed(2)} ms per 20 ms chunk; latency ${((1000 * stream.latencySamples) / audio.sampleRate).toFixed(0)} ms after frame centre`,
    });
  }
  const tv = await ctx.timeIt(() => volumeRms(samples, hop));
  rows.push({ group: 'f0', name: 'volume RMS (so-vits Volume_Extractor)', value: realTimeFactor(tv.medianMs, seconds), unit: 'x', note });
  return rows;
}
