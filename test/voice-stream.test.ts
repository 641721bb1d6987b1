// The DSP voice as a streaming primitive: fixed delay, exact output length, the same samples for
// every chunking (1 sample, odd sizes, whole file) as the offline convertWithDspVoice, smooth
// parameter changes mid-stream, reset/dispose, input validation, and every sample rate 16-48 kHz
// (synthetic vowels with known pitch and formants, so the expected result is exact).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readMono } from '../src/audio/io.js';
import { SvcError } from '../src/errors.js';
import { DspVoice, convertWithDspVoice } from '../src/voices/dsp/index.js';
import { shared } from './helpers/index.js';
import { clickScore, envelopeShiftOctaves, maxStep, measurePitchChange, peakAbs } from './helpers/voice-metrics.js';

/** Streams `x` (+ delay zeros) through a fresh voice in chunks of `chunk`; returns the aligned output. */
function streamAligned(x: Float32Array, sampleRate: number, chunk: number, params: { pitchSemitones?: number; formantRatio?: number }): Float32Array {
  const voice = new DspVoice({ sampleRate, ...params });
  try {
    const padded = new Float32Array(x.length + voice.delaySamples);
    padded.set(x);
    const out = new Float32Array(padded.length);
    for (let s = 0; s < padded.length; s += chunk) {
      const part = padded.subarray(s, Math.min(padded.length, s + chunk));
      const y = voice.process(part);
      assert.is(y.length, part.length, 'process returns exactly input.length samples');
      out.set(y, s);
    }
    return out.subarray(voice.delaySamples);
  } finally {
    voice.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A sung vowel: glottal pulse train (f0 with 5 Hz vibrato) through three formant resonators. */
function syntheticVowel(sampleRate: number, seconds: number, f0Hz: number, formants: Array<[number, number]>): Float32Array {
  const n = Math.round(sampleRate * seconds);
  let y = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    phase += (f0Hz * (1 + 0.02 * Math.sin((2 * Math.PI * 5 * i) / sampleRate))) / sampleRate;
    if (phase >= 1) {
      phase -= 1;
      y[i] = 1;
    }
  }
  for (const [fc, bw] of formants) {
    const r = Math.exp((-Math.PI * bw) / sampleRate);
    const a1 = -2 * r * Math.cos((2 * Math.PI * fc) / sampleRate);
    const a2 = r * r;
    const z = new Float32Array(n);
    let y1 = 0;
    let y2 = 0;
    for (let i = 0; i < n; i++) {
      const v = y[i] - a1 * y1 - a2 * y2;
      z[i] = v;
      y2 = y1;
      y1 = v;
    }
    y = z;
  }
  const peak = peakAbs(y);
  for (let i = 0; i < n; i++) y[i] *= 0.5 / peak;
  return y;
}

test('streaming equals offline for chunks of 1, 37, 441, 1000 samples and the whole file (16 and 44.1 kHz)', async () => {
  for (const path of [['speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav'], ['speech', 'singing_sms_tools', 'vignesh.wav']]) {
    const { sampleRate, samples } = await readMono(shared(...path));
    const x = samples.subarray(0, Math.min(samples.length, 3 * sampleRate));
    const params = { pitchSemitones: 7, formantRatio: 0.85 };
    const offline = convertWithDspVoice(x, sampleRate, params);
    assert.is(offline.length, x.length);
    for (const chunk of [1, 37, 441, 1000, x.length + 5000]) {
      const streamed = streamAligned(x, sampleRate, chunk, params);
      const diff = maxAbsDiff(streamed, offline);
      assert.ok(diff <= 1e-6, `${path.at(-1)}: chunk ${chunk}: max difference ${diff}`);
    }
  }
});

test('delaySamples is fixed, small (<= 25 ms) and the same for every chunking; empty input gives empty output', () => {
  for (const sampleRate of [16000, 22050, 44100, 48000]) {
    const voice = new DspVoice({ sampleRate });
    assert.ok(voice.delaySamples > 0 && voice.delaySamples <= 0.025 * sampleRate, `${sampleRate} Hz: delay ${voice.delaySamples} samples`);
    assert.is(voice.sampleRate, sampleRate);
    assert.is(voice.process(new Float32Array(0)).length, 0);
    // An impulse comes out as the same impulse exactly delaySamples later (unvoiced path is exact).
    const impulse = new Float32Array(sampleRate / 4);
    impulse[1000] = 0.5;
    const out = new Float32Array(impulse.length);
    for (let s = 0; s < impulse.length; s += 333) out.set(voice.process(impulse.subarray(s, s + 333)), s);
    let peakAt = -1;
    for (let i = 0; i < out.length; i++) if (Math.abs(out[i]) > 0.25) peakAt = i;
    assert.is(peakAt, 1000 + voice.delaySamples, `${sampleRate} Hz: impulse delayed by delaySamples`);
    assert.ok(Math.abs(out[peakAt] - 0.5) < 1e-6);
    voice.dispose();
  }
});

test('every sample rate 16-48 kHz: synthetic vowel gets the exact pitch and formant change', async () => {
  for (const sampleRate of [16000, 22050, 32000, 44100, 48000]) {
    const x = syntheticVowel(sampleRate, 1.5, 140, [[700, 80], [1200, 90], [2600, 120]]);
    for (const [pitch, formant] of [[5, 1.2], [-7, 0.85], [12, 1]]) {
      const y = convertWithDspVoice(x, sampleRate, { pitchSemitones: pitch, formantRatio: formant });
      const change = await measurePitchChange(x, y, sampleRate, pitch);
      assert.ok(change.frames > 50 && Math.abs(change.medianErrorCents) <= 10, `${sampleRate} Hz pitch ${pitch}: ${change.medianErrorCents.toFixed(1)} cents over ${change.frames} frames`);
      const shift = envelopeShiftOctaves(x, y, sampleRate, 5000); // the vowel's formants lie below 3 kHz
      assert.ok(Math.abs(shift - Math.log2(formant)) <= 0.05, `${sampleRate} Hz formant ${formant}: envelope moved ${shift.toFixed(3)} octaves, expected ${Math.log2(formant).toFixed(3)}`);
    }
  }
});

test('setParams mid-stream glides without a click, and the new pitch is reached', async () => {
  const { sampleRate, samples } = await readMono(shared('speech', 'singing_sms_tools', 'singing-female.wav'));
  const voice = new DspVoice({ sampleRate, pitchSemitones: 0, formantRatio: 1 });
  const chunk = Math.round(0.02 * sampleRate); // 20 ms blocks, as the live path
  const out = new Float32Array(samples.length);
  const switchAt = Math.round(2.0 * sampleRate);
  const switchBack = Math.round(4.0 * sampleRate);
  for (let s = 0; s < samples.length; s += chunk) {
    if (s >= switchAt && s - chunk < switchAt) voice.setParams({ pitchSemitones: 7, formantRatio: 1.2 });
    if (s >= switchBack && s - chunk < switchBack) voice.setParams({ pitchSemitones: -3 });
    out.set(voice.process(samples.subarray(s, s + chunk)), s);
  }
  const d = voice.delaySamples;
  voice.dispose();
  const aligned = out.subarray(d);
  // No click anywhere, in particular around the switches.
  const input = samples.subarray(0, aligned.length);
  const clicks = clickScore(aligned, sampleRate);
  assert.ok(clicks.score <= Math.max(4, 1.5 * clickScore(input, sampleRate).score), `click score ${clicks.score.toFixed(1)} at ${clicks.atSeconds.toFixed(3)} s`);
  for (const at of [switchAt, switchBack]) {
    const around = aligned.subarray(at - sampleRate / 10, at + sampleRate / 10);
    const before = aligned.subarray(at - sampleRate / 2, at - sampleRate / 10);
    assert.ok(maxStep(around) <= 2 * maxStep(before) + 0.01, `step near the switch at ${at / sampleRate} s: ${maxStep(around).toFixed(4)} vs before ${maxStep(before).toFixed(4)}`);
  }
  // Pitch before the switch unchanged, +7 st between the switches (after the glide), -3 st after.
  const segment = (from: number, to: number) => [Math.round(from * sampleRate), Math.round(to * sampleRate)] as const;
  for (const [[from, to], expected] of [[segment(0.3, 1.9), 0], [segment(2.2, 3.9), 7], [segment(4.2, 5.9), -3]] as const) {
    const change = await measurePitchChange(input.subarray(from, to), aligned.subarray(from, to), sampleRate, expected);
    assert.ok(Math.abs(change.medianErrorCents) <= 20, `${from / sampleRate}-${to / sampleRate} s: expected ${expected} st, median error ${change.medianErrorCents.toFixed(1)} cents`);
  }
});

test('reset() makes the voice behave like a fresh one; dispose() is safe', async () => {
  const { sampleRate, samples } = await readMono(shared('speech', 'cmu_arctic_16k', 'clb', 'arctic_a0002.wav'));
  const x = samples.subarray(0, sampleRate);
  const voice = new DspVoice({ sampleRate, pitchSemitones: -4, formantRatio: 1.1 });
  const first = voice.process(x);
  voice.process(samples.subarray(sampleRate, 2 * sampleRate));
  voice.reset();
  const again = voice.process(x);
  assert.is(maxAbsDiff(first, again), 0, 'same output after reset');
  voice.dispose();
  voice.dispose(); // twice is fine
  assert.throws(() => voice.process(x), /after dispose/, 'using a disposed voice is an error, not garbage');
});

test('invalid parameters are rejected with INVALID_ARGUMENT naming the allowed range', () => {
  const expectInvalid = (fn: () => unknown, mention: string) => {
    try {
      fn();
    } catch (error) {
      assert.instance(error, SvcError);
      assert.is((error as SvcError).code, 'INVALID_ARGUMENT');
      assert.ok((error as SvcError).message.includes(mention), `message "${(error as SvcError).message}" mentions ${mention}`);
      return;
    }
    assert.unreachable('expected an INVALID_ARGUMENT error');
  };
  expectInvalid(() => new DspVoice({ sampleRate: 16000, pitchSemitones: 25 }), '-24 to +24');
  expectInvalid(() => new DspVoice({ sampleRate: 16000, pitchSemitones: -24.5 }), '-24 to +24');
  expectInvalid(() => new DspVoice({ sampleRate: 16000, pitchSemitones: Number.NaN }), '-24 to +24');
  expectInvalid(() => new DspVoice({ sampleRate: 16000, formantRatio: 0.4 }), '0.5 to 2');
  expectInvalid(() => new DspVoice({ sampleRate: 16000, formantRatio: 2.01 }), '0.5 to 2');
  expectInvalid(() => new DspVoice({ sampleRate: 1000 }), 'Hz');
  expectInvalid(() => new DspVoice({ sampleRate: 44100.5 }), 'Hz');
  const voice = new DspVoice({ sampleRate: 16000 });
  expectInvalid(() => voice.setParams({ pitchSemitones: 30 }), '-24 to +24');
  expectInvalid(() => voice.setParams({ formantRatio: 0 }), '0.5 to 2');
  expectInvalid(() => convertWithDspVoice(new Float32Array(10), 16000, { formantRatio: 3 }), '0.5 to 2');
  // Edges of the ranges are allowed.
  voice.setParams({ pitchSemitones: -24, formantRatio: 0.5 });
  voice.setParams({ pitchSemitones: 24, formantRatio: 2 });
  voice.dispose();
});

test('NaN samples in the input do not poison the state', () => {
  const sampleRate = 16000;
  const x = syntheticVowel(sampleRate, 1, 200, [[600, 80], [1500, 100]]);
  x[5000] = Number.NaN;
  const y = convertWithDspVoice(x, sampleRate, { pitchSemitones: 3 });
  for (let i = 0; i < y.length; i++) assert.ok(Number.isFinite(y[i]), `sample ${i} finite`);
  assert.ok(peakAbs(y.subarray(10000)) > 0.05, 'still converting after the NaN');
});

test.run();
