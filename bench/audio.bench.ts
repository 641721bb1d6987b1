// Speed of the audio core on shared files: decoding (WAV, FLAC), resampling (offline and streaming
// in 10 ms chunks) and the so-vits-svc log-mel / STFT. Figures are real-time factors (processing
// time / audio time, lower is faster); the note gives the same as "N× faster than real time".
import { readAudio, readMono } from '../src/audio/io.js';
import { StreamingResampler, resample } from '../src/audio/resample.js';
import { logMelSpectrogram, SOVITS_44K_MEL } from '../src/dsp/mel.js';
import { stft } from '../src/dsp/stft.js';
import { type BenchContext, type BenchRow, realTimeFactor } from './lib.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const add = (name: string, medianMs: number, seconds: number, what: string): void => {
    const rtf = realTimeFactor(medianMs, seconds);
    rows.push({ group: 'audio', name, value: rtf, unit: 'x', note: `${what}; ${(1 / rtf).toFixed(0)}x faster than real time (${medianMs.toFixed(2)} ms)` });
  };

  const wavPath = ctx.shared('speech/kathleen_arctic_cc0_48k/arctic_a0001.wav');
  const wav = await readAudio(wavPath);
  const wavSeconds = wav.channels[0]!.length / wav.sampleRate;
  ctx.log('audio: decode');
  add('decode WAV (read + parse)', (await ctx.timeIt(() => readAudio(wavPath), { minMs: 500 })).medianMs, wavSeconds, `${wavSeconds.toFixed(1)} s, 48 kHz stereo PCM16`);

  const flacPath = ctx.shared('speech/misc/jfk.flac');
  const flac = await readAudio(flacPath);
  const flacSeconds = flac.channels[0]!.length / flac.sampleRate;
  add('decode FLAC (read + libFLAC WASM)', (await ctx.timeIt(() => readAudio(flacPath), { minMs: 1000, minRuns: 3 })).medianMs, flacSeconds, `${flacSeconds.toFixed(1)} s, 44.1 kHz stereo 24-bit`);

  // 10 s of real singing at 44.1 kHz (5 s in quick mode).
  const singing = (await readMono(ctx.shared('speech/singing_vocadito/vocadito_1.wav'))).samples;
  const seconds = ctx.quick ? 5 : 10;
  const x44 = singing.subarray(0, 44100 * seconds);
  const x48 = await resample(x44, 44100, 48000);

  ctx.log('audio: resample');
  await StreamingResampler.ready();
  add('resample 44.1k→16k offline (q10)', (await ctx.timeIt(() => resample(x44, 44100, 16000), { minMs: 1000 })).medianMs, seconds, `${seconds} s singing`);
  add('resample 48k→44.1k offline (q10)', (await ctx.timeIt(() => resample(x48, 48000, 44100), { minMs: 1000 })).medianMs, seconds, `${seconds} s singing`);
  for (const [from, to, input] of [[44100, 16000, x44], [48000, 44100, x48]] as const) {
    const chunk = from / 100;
    const streamed = await ctx.timeIt(() => {
      const r = new StreamingResampler({ fromRate: from, toRate: to });
      try {
        for (let start = 0; start + chunk <= input.length; start += chunk) r.process(input.subarray(start, start + chunk));
        r.flush();
      } finally {
        r.dispose();
      }
    }, { minMs: 1000 });
    add(`resample ${from / 1000}k→${to / 1000}k streaming 10 ms chunks (q7)`, streamed.medianMs, seconds, `${seconds} s singing, ${seconds * 100} chunks`);
  }

  ctx.log('audio: spectral');
  add('so-vits log-mel 44.1k (2048/512, 80 mels)', (await ctx.timeIt(() => logMelSpectrogram(x44, SOVITS_44K_MEL), { minMs: 1000 })).medianMs, seconds, `${seconds} s singing`);
  add('complex STFT 44.1k (2048/512)', (await ctx.timeIt(() => stft(x44, { nFft: 2048, hopSamples: 512 }), { minMs: 1000 })).medianMs, seconds, `${seconds} s singing`);
  return rows;
}
