// Spectral core: torchaudio golden values on real speech (computed at test time by
// scripts/golden/spectral.py), plus known-signal facts: a sine's peak bin and level, Parseval,
// FFT = direct DFT for power-of-two and other sizes, and ISTFT(STFT(x)) = x.
//
// Relative error used against the goldens: |ours - ref| / max(|ref|, 1e-6 * max|ref|), i.e. relative
// to each value, with values below a millionth of the spectrum's maximum compared at that floor.
// Log-mel values are compared by absolute difference (a log difference is already a relative error).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { RealFft } from '../src/dsp/fft.js';
import { hzToMel, logMelSpectrogram, melFilterbank, melSpectrogram, melToHz, SOVITS_44K_MEL } from '../src/dsp/mel.js';
import { frameCount, istft, linearSpectrogram, stft, type StftOptions } from '../src/dsp/stft.js';
import { pythonExecutable, repoRoot } from '../src/paths.js';
import { makeTempDir, shared } from './helpers/index.js';

const SPEECH = shared('speech', 'misc', 'sms_tools_speech-female.wav'); // 44.1 kHz mono, 4 s
const temp = makeTempDir('svc-spectral-');
test.after(() => temp.cleanup());

interface GoldenMeta {
  sampleRate: number;
  samples: number;
  [name: string]: unknown;
}
let meta: GoldenMeta;
let speech: Float32Array;

function golden(name: string): { shape: [number, number]; data: Float64Array } {
  const bytes = readFileSync(join(temp.dir, `${name}.f64`));
  const entry = meta[name] as { shape: [number, number] };
  return { shape: entry.shape, data: new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)) };
}

function maxRelativeError(ours: Float32Array, ref: Float64Array): { error: number; index: number } {
  assert.is(ours.length, ref.length, 'same number of values');
  let peak = 0;
  for (const v of ref) peak = Math.max(peak, Math.abs(v));
  const floor = 1e-6 * peak;
  let error = 0;
  let index = -1;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ours[i]! - ref[i]!) / Math.max(Math.abs(ref[i]!), floor);
    if (e > error) [error, index] = [e, i];
  }
  return { error, index };
}

test.before(async () => {
  const run = spawnSync(pythonExecutable, [join(repoRoot, 'scripts', 'golden', 'spectral.py'), SPEECH, temp.dir], { encoding: 'utf8' });
  if (run.status !== 0) {
    throw new Error(`golden script failed (needs ${pythonExecutable} with torch + torchaudio): ${run.error?.message ?? ''}${run.stderr}`);
  }
  meta = JSON.parse(readFileSync(join(temp.dir, 'meta.json'), 'utf8')) as GoldenMeta;
  const audio = await readMono(SPEECH);
  assert.is(audio.sampleRate, meta.sampleRate);
  assert.is(audio.samples.length, meta.samples);
  speech = audio.samples;
});

test('golden: magnitude spectrogram (n_fft 2048, hop 512, center reflect) matches torchaudio within 1e-4', () => {
  const ref = golden('center_linear');
  const ours = linearSpectrogram(speech, { nFft: 2048, hopSamples: 512, winSamples: 2048 });
  assert.equal([ours.frames, ours.bins], ref.shape);
  const { error, index } = maxRelativeError(ours.data, ref.data);
  assert.ok(error <= 1e-4, `max relative error ${error} at frame ${Math.floor(index / ours.bins)} bin ${index % ours.bins}`);
});

test('golden: Slaney mel filterbank and mel spectrogram match torchaudio within 1e-4', () => {
  const bankRef = golden('filterbank');
  const bank = melFilterbank({ sampleRate: 44100, nFft: 2048, nMels: 80, fMin: 0, fMax: 22050, melScale: 'slaney', norm: 'slaney' });
  assert.equal([bank.nMels, bank.bins], bankRef.shape);
  assert.ok(maxRelativeError(bank.weights, bankRef.data).error <= 1e-4, 'filterbank');

  const ref = golden('center_mel');
  const ours = melSpectrogram(speech, { sampleRate: 44100 });
  assert.equal([ours.frames, ours.bins], ref.shape);
  const { error } = maxRelativeError(ours.data, ref.data);
  assert.ok(error <= 1e-4, `mel max relative error ${error}`);
});

test('golden: so-vits-svc log-mel (reflect (n_fft-hop)/2, center=False, log clamp 1e-5) matches within 1e-4', () => {
  const ref = golden('sovits_logmel');
  const ours = logMelSpectrogram(speech, SOVITS_44K_MEL);
  assert.equal([ours.frames, ours.bins], ref.shape);
  // so-vits framing gives floor(n / hop) frames.
  assert.is(ours.frames, Math.floor(speech.length / 512));
  let worst = 0;
  for (let i = 0; i < ref.data.length; i++) worst = Math.max(worst, Math.abs(ours.data[i]! - ref.data[i]!));
  assert.ok(worst <= 1e-4, `log-mel max absolute difference ${worst}`);
});

test('golden: non-power-of-two FFT (400/160) and a window shorter than n_fft (power 2) match within 1e-4', () => {
  const ref400 = golden('center_linear_400');
  const ours400 = linearSpectrogram(speech, { nFft: 400, hopSamples: 160 });
  assert.equal([ours400.frames, ours400.bins], ref400.shape);
  assert.ok(maxRelativeError(ours400.data, ref400.data).error <= 1e-4, 'n_fft 400');

  const refShort = golden('center_power_win1536');
  const oursShort = linearSpectrogram(speech, { nFft: 2048, hopSamples: 512, winSamples: 1536, power: 2 });
  assert.ok(maxRelativeError(oursShort.data, refShort.data).error <= 1e-4, 'win 1536, power 2');
});

test('a bin-centred sine peaks in its bin with amplitude * sum(window) / 2', () => {
  const rate = 44100;
  const bin = 93;
  const frequency = (bin * rate) / 2048;
  const x = new Float32Array(rate);
  for (let i = 0; i < x.length; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * frequency * i) / rate);
  const spec = linearSpectrogram(x, { nFft: 2048, hopSamples: 512 });
  const t = Math.floor(spec.frames / 2);
  const row = spec.data.subarray(t * spec.bins, (t + 1) * spec.bins);
  let peak = 0;
  for (let k = 1; k < row.length; k++) if (row[k]! > row[peak]!) peak = k;
  assert.is(peak, bin);
  // Periodic Hann over 2048 samples sums to 1024.
  assert.ok(Math.abs(row[bin]! - (0.5 * 1024) / 2) < 1e-3, `peak magnitude ${row[bin]}`);
  // A 1 kHz tone in the mel spectrogram lands in the mel band whose centre is nearest 1 kHz.
  const tone = new Float32Array(rate);
  for (let i = 0; i < tone.length; i++) tone[i] = Math.sin((2 * Math.PI * 1000 * i) / rate);
  const mel = melSpectrogram(tone, { sampleRate: rate });
  const melRow = mel.data.subarray(t * 80, (t + 1) * 80);
  let melPeak = 0;
  for (let m = 1; m < 80; m++) if (melRow[m]! > melRow[melPeak]!) melPeak = m;
  const centres = Array.from({ length: 80 }, (_, m) => melToHz((hzToMel(22050) * (m + 1)) / 81));
  const nearest = centres.reduce((best, c, m) => (Math.abs(c - 1000) < Math.abs(centres[best]! - 1000) ? m : best), 0);
  assert.ok(Math.abs(melPeak - nearest) <= 1, `1 kHz peaks in mel band ${melPeak}, nearest centre is band ${nearest}`);
});

test('Slaney mel scale: linear below 1 kHz (15 mel at 1 kHz), logarithmic above; HTK: 2595 log10(1 + f/700)', () => {
  assert.ok(Math.abs(hzToMel(1000) - 15) < 1e-12);
  assert.ok(Math.abs(hzToMel(500) - 7.5) < 1e-12);
  assert.ok(Math.abs(hzToMel(6400) - 42) < 1e-9); // 15 + 27 * ln(6.4)/ln(6.4)
  assert.ok(Math.abs(hzToMel(700, 'htk') - 2595 * Math.log10(2)) < 1e-9);
  for (const hz of [0, 300, 1000, 4321, 22050]) assert.ok(Math.abs(melToHz(hzToMel(hz)) - hz) < 1e-6);
});

test('FFT equals a direct DFT for sizes 2048, 400, 1000, 7 and 2 (forward and inverse)', () => {
  for (const n of [2048, 400, 1000, 7, 2]) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.37) + 0.5 * Math.cos(i * 1.91) + ((i * 7919) % 13) / 13 - 0.5;
    const fft = new RealFft(n);
    const re = new Float64Array(fft.bins);
    const im = new Float64Array(fft.bins);
    fft.forward(x, re, im);
    let worst = 0;
    for (let k = 0; k < fft.bins; k++) {
      let dr = 0;
      let di = 0;
      for (let i = 0; i < n; i++) {
        const angle = (-2 * Math.PI * k * i) / n;
        dr += x[i]! * Math.cos(angle);
        di += x[i]! * Math.sin(angle);
      }
      worst = Math.max(worst, Math.abs(re[k]! - dr), Math.abs(im[k]! - di));
    }
    assert.ok(worst < 1e-9 * n, `n=${n}: forward differs from the DFT by ${worst}`);
    const back = new Float64Array(n);
    fft.inverse(re, im, back);
    let worstBack = 0;
    for (let i = 0; i < n; i++) worstBack = Math.max(worstBack, Math.abs(back[i]! - x[i]!));
    assert.ok(worstBack < 1e-12 * n, `n=${n}: inverse(forward(x)) differs by ${worstBack}`);
  }
});

test('Parseval: sum x² = (1/N) sum |X|² over the one-sided spectrum (rectangular window)', () => {
  const n = 2048;
  const x = speech.subarray(44100, 44100 + n);
  const spec = stft(x, { nFft: n, hopSamples: n, window: 'rectangular', padding: 'none' });
  assert.is(spec.frames, 1);
  let timeEnergy = 0;
  for (const v of x) timeEnergy += v * v;
  let freqEnergy = 0;
  for (let k = 0; k < spec.bins; k++) {
    const p = spec.re[k]! * spec.re[k]! + spec.im[k]! * spec.im[k]!;
    freqEnergy += k === 0 || k === spec.bins - 1 ? p : 2 * p; // the mirrored half
  }
  freqEnergy /= n;
  assert.ok(Math.abs(freqEnergy - timeEnergy) / timeEnergy < 1e-5, `time ${timeEnergy} vs frequency ${freqEnergy}`);
});

test('ISTFT(STFT(x)) reconstructs speech (Hann, 75% overlap; centre, so-vits and n_fft 400 framing)', () => {
  const x = speech.subarray(0, 44100);
  const cases: StftOptions[] = [
    { nFft: 2048, hopSamples: 512 },
    { nFft: 2048, hopSamples: 512, padding: 'sovits' },
    { nFft: 400, hopSamples: 100 },
  ];
  for (const options of cases) {
    const spec = stft(x, options);
    assert.is(spec.frames, frameCount(x.length, options));
    const y = istft(spec, { ...options, length: x.length });
    // so-vits framing covers floor(n/hop)*hop samples; compare what the frames cover.
    const covered = options.padding === 'sovits' ? Math.floor(x.length / 512) * 512 - 768 : x.length;
    let worst = 0;
    let peak = 0;
    for (let i = 0; i < covered; i++) {
      worst = Math.max(worst, Math.abs(y[i]! - x[i]!));
      peak = Math.max(peak, Math.abs(x[i]!));
    }
    assert.ok(worst < 1e-5 * peak, `${JSON.stringify(options)}: reconstruction error ${worst} (peak ${peak})`);
  }
});

test.run();
