// Measurements for the DSP-voice tests (what a listener would check, as numbers): pitch change in
// cents on frames voiced in both signals, spectral-envelope shift in octaves, clicks, clipping.
import FFT from 'fft.js';
import { estimateF0 } from '../../src/dsp/f0/index.js';
import { seededRandom } from '../../src/dsp/random.js';

export interface PitchChange {
  /** Median over frames voiced in both of (output cents - input cents - expected cents). */
  medianErrorCents: number;
  /** Fraction of compared frames within 50 cents of the expected change. */
  within50: number;
  frames: number;
}

/** Frame-by-frame pitch change of `output` vs `input` (same rate, time-aligned) against `semitones`. */
export async function measurePitchChange(input: Float32Array, output: Float32Array, sampleRate: number, semitones: number): Promise<PitchChange> {
  const hopSamples = Math.round(sampleRate * 0.01);
  const opts = { method: 'dsp' as const, hopSamples, fMinHz: 40, fMaxHz: 2000 };
  const a = await estimateF0(input, sampleRate, opts);
  const b = await estimateF0(output, sampleRate, opts);
  const errors: number[] = [];
  const n = Math.min(a.f0Hz.length, b.f0Hz.length);
  for (let i = 0; i < n; i++) {
    if (a.voiced[i] && b.voiced[i] && a.f0Hz[i] > 0 && b.f0Hz[i] > 0) {
      errors.push(1200 * Math.log2(b.f0Hz[i] / a.f0Hz[i]) - 100 * semitones);
    }
  }
  errors.sort((x, y) => x - y);
  return {
    medianErrorCents: errors.length ? errors[errors.length >> 1] : NaN,
    within50: errors.length ? errors.filter((e) => Math.abs(e) <= 50).length / errors.length : 0,
    frames: errors.length,
  };
}

/**
 * Long-term spectral envelope on a log-frequency grid: mean log power spectrum over frames with
 * energy, cepstrally smoothed (lifter at `lifterSeconds`), sampled at `bins` points per octave
 * from fLoHz to fHiHz. Returns dB values.
 */
export function logFrequencyEnvelope(x: Float32Array, sampleRate: number, fLoHz: number, fHiHz: number, binsPerOctave: number): Float64Array {
  const size = sampleRate > 24000 ? 2048 : 1024;
  const fft = new FFT(size);
  const frame = new Array<number>(size).fill(0);
  const spec = fft.createComplexArray() as number[];
  const logSum = new Float64Array(size / 2 + 1);
  let frames = 0;
  let peakEnergy = 0;
  const hop = size / 2;
  for (let s = 0; s + size <= x.length; s += hop) {
    let e = 0;
    for (let i = 0; i < size; i++) e += x[s + i] * x[s + i];
    peakEnergy = Math.max(peakEnergy, e);
  }
  for (let s = 0; s + size <= x.length; s += hop) {
    let e = 0;
    for (let i = 0; i < size; i++) e += x[s + i] * x[s + i];
    if (e < peakEnergy * 0.01) continue; // only the louder (mostly voiced) frames
    for (let i = 0; i < size; i++) frame[i] = x[s + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
    fft.realTransform(spec, frame);
    for (let k = 0; k <= size / 2; k++) logSum[k] += Math.log(spec[2 * k] ** 2 + spec[2 * k + 1] ** 2 + 1e-12);
    frames++;
  }
  for (let k = 0; k <= size / 2; k++) logSum[k] /= Math.max(1, frames);
  // Cepstral smoothing: keep quefrencies below the lifter (well under any pitch period).
  const full = new Array<number>(size);
  for (let k = 0; k <= size / 2; k++) full[k] = logSum[k];
  for (let k = size / 2 + 1; k < size; k++) full[k] = logSum[size - k];
  const cep = fft.createComplexArray() as number[];
  fft.realTransform(cep, full);
  fft.completeSpectrum(cep);
  const lifter = Math.round(0.0015 * sampleRate);
  for (let q = 0; q < size; q++) {
    const qq = Math.min(q, size - q);
    if (qq > lifter) {
      cep[2 * q] = 0;
      cep[2 * q + 1] = 0;
    }
  }
  const smooth = fft.createComplexArray() as number[];
  fft.inverseTransform(smooth, cep);
  const octaves = Math.log2(fHiHz / fLoHz);
  const count = Math.floor(octaves * binsPerOctave) + 1;
  const env = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const f = fLoHz * Math.pow(2, i / binsPerOctave);
    const pos = (f / sampleRate) * size;
    const k = Math.floor(pos);
    const frac = pos - k;
    const v = smooth[2 * k] * (1 - frac) + smooth[2 * (k + 1)] * frac;
    env[i] = (10 / Math.LN10) * v;
  }
  return env;
}

/**
 * Cepstrally smoothed log spectra (dB) of the louder frames of `x` on a log-frequency grid
 * (fLoHz..fHiHz, binsPerOctave), one per frame; frames are 1024/2048 samples, hop half of that.
 * `frameStarts` picks the frames (default: all with energy above 1% of the loudest).
 */
export function frameEnvelopes(x: Float32Array, sampleRate: number, fLoHz: number, fHiHz: number, binsPerOctave: number, frameStarts?: number[]): { starts: number[]; envelopes: Float64Array[] } {
  const size = sampleRate > 24000 ? 2048 : 1024;
  const fft = new FFT(size);
  const frame = new Array<number>(size).fill(0);
  const spec = fft.createComplexArray() as number[];
  const full = new Array<number>(size).fill(0);
  const cep = fft.createComplexArray() as number[];
  const smooth = fft.createComplexArray() as number[];
  const hop = size / 2;
  let starts = frameStarts;
  if (!starts) {
    let peakEnergy = 0;
    const energies: number[] = [];
    for (let s = 0; s + size <= x.length; s += hop) {
      let e = 0;
      for (let i = 0; i < size; i++) e += x[s + i] * x[s + i];
      energies.push(e);
      peakEnergy = Math.max(peakEnergy, e);
    }
    starts = [];
    energies.forEach((e, k) => {
      if (e >= peakEnergy * 0.01) starts!.push(k * hop);
    });
  }
  const octaves = Math.log2(fHiHz / fLoHz);
  const count = Math.floor(octaves * binsPerOctave) + 1;
  const lifter = Math.round(0.0015 * sampleRate);
  const envelopes: Float64Array[] = [];
  for (const s of starts) {
    for (let i = 0; i < size; i++) frame[i] = (x[s + i] ?? 0) * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / size));
    fft.realTransform(spec, frame);
    for (let k = 0; k <= size / 2; k++) full[k] = Math.log(spec[2 * k] ** 2 + spec[2 * k + 1] ** 2 + 1e-10);
    for (let k = size / 2 + 1; k < size; k++) full[k] = full[size - k];
    fft.realTransform(cep, full);
    fft.completeSpectrum(cep);
    for (let q = 0; q < size; q++) {
      if (Math.min(q, size - q) > lifter) {
        cep[2 * q] = 0;
        cep[2 * q + 1] = 0;
      }
    }
    fft.inverseTransform(smooth, cep);
    const env = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const pos = ((fLoHz * Math.pow(2, i / binsPerOctave)) / sampleRate) * size;
      const k = Math.floor(pos);
      const frac = pos - k;
      env[i] = (10 / Math.LN10) * (smooth[2 * k] * (1 - frac) + smooth[2 * (k + 1)] * frac);
    }
    envelopes.push(env);
  }
  return { starts, envelopes };
}

/**
 * Shift of the spectral envelope of `output` relative to `input` in octaves (positive = up): the
 * lag (within +-1 octave) that maximises the frame-averaged correlation of the two cepstrally
 * smoothed log-frequency envelopes, each with its least-squares line removed (so the overall tilt
 * does not count, only where the formants are). The input's
 * reference band is 200 Hz .. min(referenceTopHz, 0.2*sampleRate), so that the output band stays inside 0.45*sampleRate.
 */
export function envelopeShiftOctaves(input: Float32Array, output: Float32Array, sampleRate: number, referenceTopHz = 0.2 * sampleRate): number {
  const binsPerOctave = 48;
  const fLo = 100;
  const fHi = 0.45 * sampleRate;
  // Same frames in both (the output is time-aligned), chosen by the input's level.
  const a = frameEnvelopes(input, sampleRate, fLo, fHi, binsPerOctave);
  const b = frameEnvelopes(output, sampleRate, fLo, fHi, binsPerOctave, a.starts);
  const start = Math.round(Math.log2(200 / fLo) * binsPerOctave);
  const end = Math.round(Math.log2(Math.min(referenceTopHz, 0.2 * sampleRate) / fLo) * binsPerOctave);
  const count = a.envelopes[0]?.length ?? 0;
  const maxLag = Math.min(binsPerOctave, start - 1, count - 2 - end);
  const n = end - start;
  const total = new Float64Array(2 * maxLag + 1);
  for (let f = 0; f < a.envelopes.length; f++) {
    const u = detrended(a.envelopes[f], start, n);
    for (let lag = -maxLag; lag <= maxLag; lag++) {
      // b(f) ~ a(f / ratio): compare a on the reference band with b on the band shifted by lag.
      const v = detrended(b.envelopes[f], start + lag, n);
      let num = 0, da = 0, db = 0;
      for (let i = 0; i < n; i++) {
        num += u[i] * v[i];
        da += u[i] * u[i];
        db += v[i] * v[i];
      }
      total[lag + maxLag] += num / Math.sqrt(da * db + 1e-12);
    }
  }
  let bestLag = 0;
  for (let lag = -maxLag; lag <= maxLag; lag++) if (total[lag + maxLag] > total[bestLag + maxLag]) bestLag = lag;
  return bestLag / binsPerOctave;
}

/** x[start .. start+n) minus its least-squares line. */
function detrended(x: Float64Array, start: number, n: number): Float64Array {
  let sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    const y = x[start + i];
    sx += i;
    sy += y;
    sxx += i * i;
    sxy += i * y;
  }
  const slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
  const intercept = (sy - slope * sx) / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = x[start + i] - intercept - slope * i;
  return out;
}

/** Largest sample-to-sample step |x[n] - x[n-1]|. */
export function maxStep(x: Float32Array): number {
  let m = 0;
  for (let i = 1; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
  return m;
}

/**
 * Isolated-spike score: the first difference is cut into 2 ms blocks; each block's peak is divided
 * by the largest peak of the other blocks within +-25 ms (adjacent blocks excluded). Periodic pulses
 * (down to 40 Hz) and onsets find an equal neighbour and score ~1-3; an isolated click scores high.
 * Blocks in near-silence (< 5% of the largest step) are ignored.
 */
export function clickScore(x: Float32Array, sampleRate: number): { score: number; atSeconds: number } {
  const block = Math.max(8, Math.round(sampleRate * 0.002));
  const blocks = Math.floor((x.length - 1) / block);
  const peaks = new Float64Array(blocks);
  let global = 0;
  for (let b = 0; b < blocks; b++) {
    let m = 0;
    for (let i = b * block + 1; i < (b + 1) * block + 1; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
    peaks[b] = m;
    global = Math.max(global, m);
  }
  const reach = Math.round(0.025 / 0.002);
  let score = 0;
  let at = 0;
  for (let b = 0; b < blocks; b++) {
    if (peaks[b] < global * 0.05) continue;
    let neighbour = 0;
    for (let k = Math.max(0, b - reach); k <= Math.min(blocks - 1, b + reach); k++) if (Math.abs(k - b) > 1) neighbour = Math.max(neighbour, peaks[k]);
    const s = peaks[b] / Math.max(neighbour, global * 0.01);
    if (s > score) {
      score = s;
      at = (b * block) / sampleRate;
    }
  }
  return { score, atSeconds: at };
}

export function peakAbs(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

export function countNonFinite(x: Float32Array): number {
  let n = 0;
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) n++;
  return n;
}

export function rms(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Deterministic white noise (mulberry32), uniform in [-amplitude, amplitude]. */
export function whiteNoise(length: number, amplitude: number, seed = 12345): Float32Array {
  const random = seededRandom(seed);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = (2 * random() - 1) * amplitude;
  return out;
}
