// Speed of `svc analyze` on a 6 s speech file (VCTK p225_003, 16 kHz): the plot spectrogram,
// the PNG rendering at the default 1200x720, and the whole command path (read, F0, draw, encode).
import { mixToMono, readAudio } from '../src/audio/io.js';
import { analyzeAudio, plotWindowSamples, renderAnalysisPng, spectrogramDb } from '../src/plot/index.js';
import { type BenchContext, type BenchRow, realTimeFactor } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const path = ctx.shared('speech/vctk_autovc_16k/p225/p225_003.wav');
  const audio = await readAudio(path);
  const mono = mixToMono(audio);
  const seconds = mono.samples.length / mono.sampleRate;
  const hop = Math.round(0.01 * mono.sampleRate);
  const plot = { width: 1200, height: 720, frequencyScale: { kind: 'log' as const, minHz: 40, maxHz: 8000 }, colormap: 'magma' as const, dynamicRangeDb: 80 };

  const spec = await ctx.timeIt(() => spectrogramDb(mono.samples, mono.sampleRate, hop, plotWindowSamples(mono.sampleRate)), { minMs: 500 });
  const data = await analyzeAudio(audio, 'p225_003.wav', { hopSeconds: 0.01, method: 'dsp' });
  const render = await ctx.timeIt(() => renderAnalysisPng(data, plot), { minMs: 1000 });
  const whole = await ctx.timeIt(async () => renderAnalysisPng(await analyzeAudio(audio, 'p225_003.wav', { hopSeconds: 0.01 }), plot), { minMs: 2000, minRuns: 3 });

  const note = `${seconds.toFixed(1)} s speech, 16 kHz`;
  return [
    { group: 'analyze', name: 'spectrogram (1024 Hann, 10 ms hop)', value: spec.medianMs, unit: 'ms', note },
    { group: 'analyze', name: 'render PNG 1200x720', value: render.medianMs, unit: 'ms', note: 'draw + PNG encode' },
    { group: 'analyze', name: 'analyze + render (default F0)', value: whole.medianMs, unit: 'ms', note },
    { group: 'analyze', name: 'analyze + render real-time factor', value: realTimeFactor(whole.medianMs, seconds), unit: 'x', note: 'processing time / audio time' },
  ];
}
