// Objective scores for voice conversion, pure functions on mono audio:
// - mel-cepstral distortion (MCD, dB) with dynamic time warping, on 24 mel-cepstral coefficients
//   c1..c24 (c0, the level, excluded) at 16 kHz, 25 ms windows, 5 ms hop;
// - f0 RMSE in cents and f0 correlation over frames voiced in both signals, and voicing agreement
//   (share of frames where both say voiced or both say unvoiced), on the same aligned frames.
// Mel-cepstrum: natural log L_k of the 40-band mel amplitude spectrum, then c_n = (2/M) Σ_k L_k
// cos(π n (k + ½) / M): the series log|X(ω̃)| ≈ c_0 + Σ_{n≥1} c_n cos(n ω̃) on the mel-warped
// axis, i.e. SPTK's one-sided (minimum-phase) mel-cepstrum scale, so MCD = (10 / ln 10) ·
// sqrt(2 Σ_n (c_n − c'_n)²) is comparable with published figures (CMU ARCTIC clb vs slt, same
// sentences, no conversion: ≈ 6.5 dB here).
import { SvcError } from '../errors.js';
import { resample } from '../audio/resample.js';
import type { MonoAudio } from '../audio/types.js';
import { estimateF0, type F0Choice } from '../dsp/f0/index.js';
import { melSpectrogram } from '../dsp/mel.js';
import { frameLevelsDb, loudLevelDb } from '../offline/slice.js';

export const EVAL_SAMPLE_RATE = 16000;
export const EVAL_HOP_SAMPLES = 80; // 5 ms
const WINDOW_SAMPLES = 400; // 25 ms
const FFT_SIZE = 512;
const MEL_BANDS = 40;
export const CEPSTRAL_ORDER = 24;
const MCD_SCALE = (10 / Math.LN10) * Math.SQRT2;

/** Mel-cepstra c1..c24 per 5 ms frame (frame i centred at sample i·80 of the 16 kHz signal), flat [frame][24]. */
export function melCepstrum(samples16k: Float32Array): { frames: number; data: Float32Array } {
  const mel = melSpectrogram(samples16k, { sampleRate: EVAL_SAMPLE_RATE, nFft: FFT_SIZE, hopSamples: EVAL_HOP_SAMPLES, winSamples: WINDOW_SAMPLES, nMels: MEL_BANDS, fMin: 0, fMax: 8000, padding: 'center', norm: null });
  const frames = mel.frames;
  const out = new Float32Array(frames * CEPSTRAL_ORDER);
  const cosines = new Float64Array(CEPSTRAL_ORDER * MEL_BANDS);
  for (let n = 1; n <= CEPSTRAL_ORDER; n++) for (let k = 0; k < MEL_BANDS; k++) cosines[(n - 1) * MEL_BANDS + k] = (2 * Math.cos((Math.PI * n * (k + 0.5)) / MEL_BANDS)) / MEL_BANDS;
  const logMel = new Float64Array(MEL_BANDS);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < MEL_BANDS; k++) logMel[k] = Math.log(Math.max(mel.data[t * MEL_BANDS + k]!, 1e-5));
    for (let n = 0; n < CEPSTRAL_ORDER; n++) {
      let acc = 0;
      for (let k = 0; k < MEL_BANDS; k++) acc += cosines[n * MEL_BANDS + k]! * logMel[k]!;
      out[t * CEPSTRAL_ORDER + n] = acc;
    }
  }
  return { frames, data: out };
}

function frameDistance(a: Float32Array, i: number, b: Float32Array, j: number): number {
  let sum = 0;
  for (let n = 0; n < CEPSTRAL_ORDER; n++) {
    const d = a[i * CEPSTRAL_ORDER + n]! - b[j * CEPSTRAL_ORDER + n]!;
    sum += d * d;
  }
  return Math.sqrt(sum);
}

/** Pairs of frame indices (i in a, j in b) on the minimum-cost monotonic path (steps →, ↓, ↘). */
export function dtwPath(a: { frames: number; data: Float32Array }, b: { frames: number; data: Float32Array }): Array<[number, number]> {
  const n = a.frames;
  const m = b.frames;
  if (n === 0 || m === 0) return [];
  const cost = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const d = frameDistance(a.data, i, b.data, j);
      let best: number;
      if (i === 0 && j === 0) best = 0;
      else if (i === 0) best = cost[j - 1]!;
      else if (j === 0) best = cost[(i - 1) * m]!;
      else best = Math.min(cost[(i - 1) * m + j - 1]!, cost[(i - 1) * m + j]!, cost[i * m + j - 1]!);
      cost[i * m + j] = best + d;
    }
  }
  const path: Array<[number, number]> = [];
  let i = n - 1;
  let j = m - 1;
  path.push([i, j]);
  while (i > 0 || j > 0) {
    if (i === 0) j--;
    else if (j === 0) i--;
    else {
      const diag = cost[(i - 1) * m + j - 1]!;
      const up = cost[(i - 1) * m + j]!;
      const left = cost[i * m + j - 1]!;
      if (diag <= up && diag <= left) (i--, j--);
      else if (up <= left) i--;
      else j--;
    }
    path.push([i, j]);
  }
  return path.reverse();
}

/** First and one-past-last frame within 40 dB of the loud level (leading/trailing silence trimmed). */
function speechSpan(samples16k: Float32Array): [number, number] {
  const levels = frameLevelsDb(samples16k, EVAL_HOP_SAMPLES);
  const loud = loudLevelDb(levels);
  const threshold = Math.max(loud - 40, -70);
  let first = levels.findIndex((db) => db > threshold);
  if (first < 0) return [0, 0];
  let last = levels.length - 1;
  while (last > first && !(levels[last]! > threshold)) last--;
  first = Math.max(0, first - 2);
  return [first, Math.min(levels.length, last + 3)];
}

export type Alignment = 'dtw' | 'time';

export interface PairScores {
  /** Mel-cepstral distortion, dB, averaged over the aligned frames. */
  mcdDb: number;
  /** f0 RMSE in cents over frames voiced in both (after removing pitchOffsetSemitones); NaN if none. */
  f0RmseCents: number;
  /** Median of |cents error| over the same frames (robust to octave slips of the estimator); NaN if none. */
  f0MedianAbsCents: number;
  /** Pearson correlation of log f0 over frames voiced in both; NaN if fewer than 3. */
  f0Correlation: number;
  /** Share of aligned frames whose voicing agrees, 0..1. */
  voicingAgreement: number;
  alignedFrames: number;
  bothVoicedFrames: number;
  alignment: Alignment;
}

export interface ScoreOptions {
  /** 'time': frame i ↔ frame i (a conversion of the same recording); 'dtw': warp (parallel utterances). Default: time if the durations differ by < 2 %, else dtw. */
  alignment?: Alignment | 'auto';
  f0Method?: F0Choice;
  /** The test was shifted by this many semitones on purpose (removed before the cents error). */
  pitchOffsetSemitones?: number;
}

async function to16k(audio: MonoAudio): Promise<Float32Array> {
  if (audio.samples.length === 0) throw new SvcError('INVALID_AUDIO', 'cannot score an empty signal');
  return audio.sampleRate === EVAL_SAMPLE_RATE ? audio.samples : resample(audio.samples, audio.sampleRate, EVAL_SAMPLE_RATE);
}

/** Scores `test` against `reference`. */
export async function scorePair(reference: MonoAudio, test: MonoAudio, options: ScoreOptions = {}): Promise<PairScores> {
  const ref = await to16k(reference);
  const tst = await to16k(test);
  const durationRatio = tst.length / ref.length;
  const alignment: Alignment = options.alignment === undefined || options.alignment === 'auto' ? (Math.abs(durationRatio - 1) < 0.02 ? 'time' : 'dtw') : options.alignment;
  const refCep = melCepstrum(ref);
  const tstCep = melCepstrum(tst);
  const f0Options = { method: options.f0Method ?? ('hybrid' as F0Choice), hopSamples: EVAL_HOP_SAMPLES };
  const refF0 = await estimateF0(ref, EVAL_SAMPLE_RATE, f0Options);
  const tstF0 = await estimateF0(tst, EVAL_SAMPLE_RATE, f0Options);

  let pairs: Array<[number, number]>;
  if (alignment === 'time') {
    const [first, end] = speechSpan(ref);
    pairs = [];
    for (let i = first; i < Math.min(end, refCep.frames, tstCep.frames); i++) pairs.push([i, i]);
  } else {
    const [rf, re] = speechSpan(ref);
    const [tf, te] = speechSpan(tst);
    const slice = (c: { frames: number; data: Float32Array }, from: number, to: number): { frames: number; data: Float32Array } => {
      const end = Math.min(to, c.frames);
      return { frames: Math.max(0, end - from), data: c.data.subarray(from * CEPSTRAL_ORDER, end * CEPSTRAL_ORDER) };
    };
    pairs = dtwPath(slice(refCep, rf, re), slice(tstCep, tf, te)).map(([i, j]) => [i + rf, j + tf]);
  }
  if (pairs.length === 0) throw new SvcError('INVALID_AUDIO', 'no sound to compare (both signals are silent or too short)');

  let mcd = 0;
  for (const [i, j] of pairs) mcd += MCD_SCALE * frameDistance(refCep.data, i, tstCep.data, j);
  mcd /= pairs.length;

  const offsetCents = 100 * (options.pitchOffsetSemitones ?? 0);
  let agree = 0;
  let counted = 0;
  let squared = 0;
  const absCents: number[] = [];
  const logRef: number[] = [];
  const logTst: number[] = [];
  for (const [i, j] of pairs) {
    if (i >= refF0.f0Hz.length || j >= tstF0.f0Hz.length) continue;
    const vr = refF0.voiced[i] === 1;
    const vt = tstF0.voiced[j] === 1;
    counted++;
    if (vr === vt) agree++;
    if (vr && vt && refF0.f0Hz[i]! > 0 && tstF0.f0Hz[j]! > 0) {
      const cents = 1200 * Math.log2(tstF0.f0Hz[j]! / refF0.f0Hz[i]!) - offsetCents;
      squared += cents * cents;
      absCents.push(Math.abs(cents));
      logRef.push(Math.log(refF0.f0Hz[i]!));
      logTst.push(Math.log(tstF0.f0Hz[j]!));
    }
  }
  return {
    mcdDb: mcd,
    f0RmseCents: logRef.length ? Math.sqrt(squared / logRef.length) : NaN,
    f0MedianAbsCents: median(absCents),
    f0Correlation: pearson(logRef, logTst),
    voicingAgreement: counted ? agree / counted : NaN,
    alignedFrames: pairs.length,
    bothVoicedFrames: logRef.length,
    alignment,
  };
}

/** Median; NaN for an empty list. */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Pearson correlation; NaN with fewer than 3 points or no variance. */
export function pearson(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  if (n < 3) return NaN;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) (ma += a[i]!), (mb += b[i]!);
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa > 0 && sbb > 0 ? sab / Math.sqrt(saa * sbb) : NaN;
}
