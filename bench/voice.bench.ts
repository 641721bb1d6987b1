// Speed of the built-in DSP voice (src/voices/dsp): one streaming session fed 20 ms chunks at 16,
// 44.1 and 48 kHz, the worst-case settings (most overlapping grains), and the offline path
// (convertWithDspVoice). Figures are real-time factors (processing time / audio time, lower is
// faster); the note says "N× faster than real time", which is also about how many live sessions
// one core can carry (the server needs >= 50 at 48 kHz, i.e. >= ~60× with headroom).
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { DspVoice, convertWithDspVoice } from '../src/voices/dsp/index.js';
import { type BenchContext, type BenchRow, realTimeFactor } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (name: string, medianMs: number, p90Ms: number, seconds: number, what: string): void => {
    const rtf = realTimeFactor(medianMs, seconds);
    rows.push({ group: 'voice', name, value: rtf, unit: 'x', note: `${what}; ${(1 / rtf).toFixed(0)}x faster than real time (p90 ${(1 / realTimeFactor(p90Ms, seconds)).toFixed(0)}x)` });
  };

  // Real singing (mostly voiced, the expensive case) at each rate.
  const seconds = ctx.quick ? 3 : 10;
  const singing = await readMono(ctx.shared('speech/singing_vocadito/vocadito_1.wav'));
  const x44 = singing.samples.subarray(0, 44100 * seconds);
  const inputs: Array<[number, Float32Array]> = [
    [16000, await resample(x44, 44100, 16000)],
    [44100, x44],
    [48000, await resample(x44, 44100, 48000)],
  ];

  const streamOnce = (sampleRate: number, x: Float32Array, params: { pitchSemitones: number; formantRatio: number }): void => {
    const voice = new DspVoice({ sampleRate, ...params });
    const chunk = Math.round(sampleRate * 0.02);
    const out = new Float32Array(chunk);
    try {
      for (let s = 0; s + chunk <= x.length; s += chunk) voice.processInto(x.subarray(s, s + chunk), out);
    } finally {
      voice.dispose();
    }
  };

  for (const [sampleRate, x] of inputs) {
    ctx.log(`voice: streaming ${sampleRate} Hz`);
    const t = await ctx.timeIt(() => streamOnce(sampleRate, x, { pitchSemitones: 5, formantRatio: 1.1 }), { minMs: 1500, minRuns: 3 });
    add(`DspVoice stream ${sampleRate / 1000} kHz, 20 ms chunks (+5 st, formant 1.1)`, t.medianMs, t.p90Ms, seconds, `${seconds} s singing`);
  }
  const [rate48, x48] = inputs[2];
  ctx.log('voice: worst case');
  for (const params of [{ pitchSemitones: 24, formantRatio: 0.5 }, { pitchSemitones: -24, formantRatio: 2 }]) {
    const t = await ctx.timeIt(() => streamOnce(rate48, x48, params), { minMs: 1500, minRuns: 3 });
    add(`DspVoice stream 48 kHz, 20 ms chunks (${params.pitchSemitones > 0 ? '+' : ''}${params.pitchSemitones} st, formant ${params.formantRatio})`, t.medianMs, t.p90Ms, seconds, `${seconds} s singing; extreme settings`);
  }
  ctx.log('voice: offline');
  for (const [sampleRate, x] of [inputs[0], inputs[2]]) {
    const t = await ctx.timeIt(() => convertWithDspVoice(x, sampleRate, { pitchSemitones: -5, formantRatio: 0.9 }), { minMs: 1500, minRuns: 3 });
    add(`convertWithDspVoice offline ${sampleRate / 1000} kHz (-5 st, formant 0.9)`, t.medianMs, t.p90Ms, seconds, `${seconds} s singing, whole file`);
  }
  return rows;
}
