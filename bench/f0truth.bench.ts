// f0 accuracy on ground truth built from real recordings (src/eval/resynth.ts, MDB-stem-synth style):
// shared singing (vocadito_1, sms-tools' female singer and "vignesh") and speech (VCTK p225 F, p226 M)
// are analysed, then re-synthesised with a harmonic model driven by a known f0 track, so the truth is
// exact while the timbre stays real. Every method is scored against it at 50 cents, 10 ms frames:
// raw pitch accuracy (RPA, higher is better) with the voicing false-alarm rate (VFA) and octave errors
// in the note. Issue 14's target for the default: RPA ≥ 97.5 % with VFA ≤ 5 %.
import { readMono } from '../src/audio/io.js';
import { estimateF0, F0_METHODS, pitchMetrics, DEFAULT_F0_METHOD } from '../src/dsp/f0/index.js';
import { resynthesize, type ResynthResult } from '../src/eval/resynth.js';
import type { BenchContext, BenchRow } from './lib.js';

const SETS = {
  singing: ['speech/singing_vocadito/vocadito_1.wav', 'speech/singing_sms_tools/singing-female.wav', 'speech/singing_sms_tools/vignesh.wav'],
  speech: ['speech/vctk_autovc_16k/p225/p225_003.wav', 'speech/vctk_autovc_16k/p226/p226_003.wav'],
};

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const seconds = ctx.quick ? 4 : 12;
  for (const [set, files] of Object.entries(SETS)) {
    const truths: ResynthResult[] = [];
    for (const file of files) {
      const audio = await readMono(ctx.shared(file));
      const samples = audio.samples.subarray(0, Math.round(seconds * audio.sampleRate));
      ctx.log(`f0truth: re-synthesising ${file} (${(samples.length / audio.sampleRate).toFixed(1)} s)`);
      // Analysed with YIN + the pYIN-style tracker (dsp), as MDB-stem-synth used pYIN, so no model-based
      // tracker scored here made the melody it is scored on.
      truths.push(await resynthesize(samples, audio.sampleRate, { hopSamples: Math.round(audio.sampleRate / 100), method: 'dsp' }));
    }
    for (const method of F0_METHODS) {
      let voiced = 0;
      let unvoiced = 0;
      let hits = 0;
      let falseAlarms = 0;
      let octaves = 0;
      for (const truth of truths) {
        const estimate = await estimateF0(truth.samples, truth.sampleRate, { method, hopSamples: truth.hopSamples });
        const m = pitchMetrics(truth, estimate);
        voiced += m.voicedFrames;
        unvoiced += m.unvoicedFrames;
        hits += m.rawPitchAccuracy * m.voicedFrames;
        falseAlarms += m.voicingFalseAlarm * m.unvoicedFrames;
        octaves += m.octaveErrors;
      }
      const rpa = (100 * hits) / Math.max(1, voiced);
      const vfa = (100 * falseAlarms) / Math.max(1, unvoiced);
      const meets = rpa >= 97.5 && vfa <= 5 ? 'meets 97.5/5' : 'misses 97.5/5';
      rows.push({
        group: 'f0truth',
        name: `${method}${method === DEFAULT_F0_METHOD ? ' (default)' : ''} on re-synthesised ${set}: raw pitch accuracy`,
        value: rpa,
        unit: '%',
        note: `VFA ${vfa.toFixed(1)} %, ${octaves} octave errors, ${voiced} voiced / ${unvoiced} unvoiced frames, ${files.length} files x ≤ ${seconds} s; ${meets}`,
      });
    }
  }
  return rows;
}
