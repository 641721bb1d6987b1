// YIN f0 estimation (de Cheveigné & Kawahara 2002) as pure functions plus a native-frame source
// for the streaming wrapper: difference function, cumulative-mean normalisation, absolute
// threshold with local-minimum descent, parabolic refinement. Works at 16 kHz on 1024-sample
// windows centred on the frame (64 ms), every 160 samples (10 ms). The lagged products of the
// difference function come from one FFT cross-correlation per window (O(N log N) instead of
// O(N·maxLag): ~225 k multiply-adds per 16 kHz frame at fMin 50 Hz was most of the streaming cost).
// The source can also read the pitch (or the tracker's candidates) from an envelope-flattened window
// (flattenEnvelope; dsp and hybrid do) and reports how much quieter each frame's centre is than its window
// (centreDropDb, a voicing gate).
import { rmsDecibels } from '../volume.js';
import { sharedRealFft } from '../fft.js';
import { PyinTracker, type YinCandidate } from './pyin.js';
import type { NativeFrame } from './types.js';

export interface YinResult {
  /** Estimated f0 in Hz (0 when the window is silent). */
  f0Hz: number;
  /** Normalised difference at the chosen lag: 0 = perfectly periodic, ~1 = noise. */
  aperiodicity: number;
}

/**
 * YIN on one window. `window.length` must exceed maxLag; the integration length is
 * window.length - maxLag samples. Lags are searched in [sampleRate/fMaxHz, sampleRate/fMinHz].
 */
export function yinEstimate(window: Float32Array, sampleRate: number, fMinHz: number, fMaxHz: number, threshold = 0.15): YinResult {
  return yinAnalyze(window, sampleRate, fMinHz, fMaxHz, threshold);
}

/** YIN plus every dip of the normalised difference (pitch candidates for pYIN tracking). */
export function yinAnalyze(window: Float32Array, sampleRate: number, fMinHz: number, fMaxHz: number, threshold = 0.15): YinResult & { candidates: YinCandidate[] } {
  const minLag = Math.max(2, Math.floor(sampleRate / fMaxHz));
  const maxLag = Math.min(window.length - 2, Math.ceil(sampleRate / fMinHz));
  const integration = window.length - maxLag - 1;
  const diff = new Float64Array(maxLag + 2);
  // d(τ) = Σ_j (x_j - x_{j+τ})² over j < integration, from the energies and the lagged product.
  let energy0 = 0;
  for (let j = 0; j < integration; j++) energy0 += window[j]! * window[j]!;
  if (energy0 <= 1e-12) return { f0Hz: 0, aperiodicity: 1, candidates: [] };
  const cross = laggedProducts(window, integration, maxLag + 1);
  let energyTau = energy0;
  for (let tau = 1; tau <= maxLag + 1; tau++) {
    // slide the energy of x[tau .. tau+integration)
    const out = window[tau - 1]!;
    const inn = window[tau + integration - 1]!;
    energyTau += inn * inn - out * out;
    diff[tau] = Math.max(0, energy0 + energyTau - 2 * cross[tau]!);
  }
  // Cumulative mean normalised difference d'(τ).
  const cmnd = new Float64Array(maxLag + 2);
  cmnd[0] = 1;
  let running = 0;
  for (let tau = 1; tau <= maxLag + 1; tau++) {
    running += diff[tau]!;
    cmnd[tau] = running > 0 ? (diff[tau]! * tau) / running : 1;
  }
  const refine = (tau: number): number => {
    if (tau <= 1 || tau > maxLag) return tau;
    const a = cmnd[tau - 1]!;
    const b = cmnd[tau]!;
    const c = cmnd[tau + 1]!;
    const denom = a - 2 * b + c;
    return denom > 0 ? tau + (0.5 * (a - c)) / denom : tau;
  };
  const candidates: YinCandidate[] = [];
  for (let tau = minLag; tau <= maxLag; tau++) {
    const v = cmnd[tau]!;
    if (v < 1 && v <= cmnd[tau - 1]! && v < cmnd[tau + 1]!) candidates.push({ f0Hz: sampleRate / refine(tau), value: v });
  }
  let best = -1;
  for (let tau = minLag; tau <= maxLag; tau++) {
    if (cmnd[tau]! < threshold) {
      while (tau + 1 <= maxLag && cmnd[tau + 1]! < cmnd[tau]!) tau++;
      best = tau;
      break;
    }
  }
  if (best < 0) {
    best = minLag;
    for (let tau = minLag + 1; tau <= maxLag; tau++) if (cmnd[tau]! < cmnd[best]!) best = tau;
  }
  // Parabolic interpolation of d' around the minimum.
  return { f0Hz: sampleRate / refine(best), aperiodicity: Math.min(1, Math.max(0, cmnd[best]!)), candidates };
}

/**
 * c[τ] = Σ_{j<integration} x[j]·x[j+τ] for τ = 0..maxTau (needs integration + maxTau ≤ x.length).
 * Small problems loop directly; larger ones correlate by FFT: with a = x[0, integration) and b = x,
 * both zero-padded to N ≥ x.length, the circular correlation IFFT(conj(A)·B)[τ] never wraps for
 * τ ≤ maxTau because j + τ < x.length ≤ N. Float64 throughout (relative error ~1e-15 of the energy).
 */
export function laggedProducts(x: Float32Array, integration: number, maxTau: number): Float64Array {
  const out = new Float64Array(maxTau + 1);
  let n = 2;
  while (n < x.length) n *= 2;
  if (integration * (maxTau + 1) < 6 * n * Math.log2(n)) {
    for (let tau = 0; tau <= maxTau; tau++) {
      let sum = 0;
      for (let j = 0; j < integration; j++) sum += x[j]! * x[j + tau]!;
      out[tau] = sum;
    }
    return out;
  }
  const fft = sharedRealFft(n);
  const w = correlationWorkspace(n);
  w.a.fill(0);
  for (let j = 0; j < integration; j++) w.a[j] = x[j]!;
  w.b.fill(0);
  w.b.set(x);
  fft.forward(w.a, w.aRe, w.aIm);
  fft.forward(w.b, w.bRe, w.bIm);
  // conj(A)·B
  for (let k = 0; k < fft.bins; k++) {
    const ar = w.aRe[k]!;
    const ai = w.aIm[k]!;
    const br = w.bRe[k]!;
    const bi = w.bIm[k]!;
    w.aRe[k] = ar * br + ai * bi;
    w.aIm[k] = ar * bi - ai * br;
  }
  fft.inverse(w.aRe, w.aIm, w.a);
  for (let tau = 0; tau <= maxTau; tau++) out[tau] = w.a[tau]!;
  return out;
}

interface CorrelationWorkspace {
  a: Float64Array;
  b: Float64Array;
  aRe: Float64Array;
  aIm: Float64Array;
  bRe: Float64Array;
  bIm: Float64Array;
}

const workspaces = new Map<number, CorrelationWorkspace>();

/** Scratch buffers per FFT size (used synchronously only, like sharedRealFft). */
function correlationWorkspace(n: number): CorrelationWorkspace {
  let w = workspaces.get(n);
  if (!w) {
    const bins = n / 2 + 1;
    w = { a: new Float64Array(n), b: new Float64Array(n), aRe: new Float64Array(bins), aIm: new Float64Array(bins), bRe: new Float64Array(bins), bIm: new Float64Array(bins) };
    workspaces.set(n, w);
  }
  return w;
}

/**
 * The window divided by its own short-time RMS envelope (RMS over ±`halfSamples`, floored at `floorDb` below
 * the window's loudest envelope value, so silence is not blown up into noise). YIN's difference function
 * weighs every sample by its energy, so where the level rises or falls inside the 64 ms window (a phrase
 * that fades while its pitch falls, an onset) the estimate leans towards the loud side's pitch: measured
 * +50..+150 cents at the ends of falling speech phrases (bench f0truth). With a flat envelope every part of
 * the window counts alike. `halfSamples` should span at least half the longest period (16 kHz: 160 = 50 Hz's
 * whole period over the 2·160+1 samples), else the envelope follows the glottal pulses themselves.
 * Runs once per 10 ms frame: its buffers are kept per window length (used synchronously only, like
 * correlationWorkspace), so the returned array is overwritten by the next call of the same length.
 */
export function flattenEnvelope(window: Float32Array, halfSamples: number, floorDb: number): Float32Array {
  const n = window.length;
  const { cumulative, envelope, out } = flattenWorkspace(n);
  for (let i = 0; i < n; i++) cumulative[i + 1] = cumulative[i]! + window[i]! * window[i]!; // running Σx²
  let peak = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.max(0, i - halfSamples);
    const b = Math.min(n, i + halfSamples + 1);
    envelope[i] = Math.sqrt(Math.max(0, cumulative[b]! - cumulative[a]!) / (b - a));
    peak = Math.max(peak, envelope[i]!);
  }
  const floor = Math.max(1e-9, peak * 10 ** (floorDb / 20));
  for (let i = 0; i < n; i++) out[i] = window[i]! / Math.max(envelope[i]!, floor);
  return out;
}

const flattenWorkspaces = new Map<number, { cumulative: Float64Array; envelope: Float64Array; out: Float32Array }>();

function flattenWorkspace(n: number): { cumulative: Float64Array; envelope: Float64Array; out: Float32Array } {
  let w = flattenWorkspaces.get(n);
  if (!w) {
    w = { cumulative: new Float64Array(n + 1), envelope: new Float64Array(n), out: new Float32Array(n) };
    flattenWorkspaces.set(n, w);
  }
  return w;
}

/**
 * flattenEnvelope's settings: ±15 ms envelope, floor 30 dB down. Chosen for hybrid on half A of bench f0truth
 * (speech RPA ±7.5 / 10 / 12.5 / 15 / 20 ms: 97.6 / 98.1 / 97.8 / 97.8 / 97.0 %, unflattened 97.2 %; singing
 * 99.9-100 % throughout): the plateau's middle, not its best point.
 */
export const FLATTEN_HALF_SAMPLES = 240;
export const FLATTEN_FLOOR_DB = -30;

/**
 * Level at the frame centre minus the level of the ±16 ms around it, dB. The centre span is ±5 ms, widened
 * to half a period of `f0Hz` for low voices (so a span between two glottal pulses does not read as a drop).
 * Where voice starts or stops within a frame's window the centre is far quieter than the window (a frame
 * whose centre lies just outside a note, measured −10..−30 dB) while a sustained vowel stays within a few dB.
 */
export function centreDropDb(window: Float32Array, centre: number, f0Hz: number, rmsDb: number): number {
  const half = Math.max(80, f0Hz > 0 ? Math.ceil(8000 / f0Hz) : 80);
  return rmsDecibels(window, Math.max(0, centre - half), Math.min(window.length, centre + half)) - rmsDb;
}

export const YIN_WINDOW = 1024;
export const YIN_HOP = 160;
export const YIN_LEAD = 384;


/** Maps YIN aperiodicity and level to a 0..1 voicing confidence. */
export function yinConfidence(aperiodicity: number, rmsDb: number): number {
  const periodic = Math.min(1, Math.max(0, 1 - aperiodicity / 0.4));
  const loud = Math.min(1, Math.max(0, (rmsDb + 60) / 10));
  return periodic * loud;
}

/**
 * YIN frames at 16 kHz, frame j centred at sample j*YIN_HOP. YIN compares x[t] with x[t+τ] for t
 * in the first W−maxLag samples of its window, so the samples it actually measures are centred
 * about 390 samples into a 1024 window (for τ near a typical 80-sample period): the window is
 * [c−YIN_LEAD, c+1024−YIN_LEAD) so that this centre falls on the frame centre.
 */
export class YinSource {
  readonly hop = YIN_HOP;
  readonly centreOffset = 0;
  /** 16 kHz samples needed after a frame's centre (plus the tracker's lag when tracking). */
  readonly lookahead: number;
  private audio = new Float32Array(0);
  private audioStart = -YIN_LEAD; // absolute 16 kHz index of audio[0] (left zero padding)
  private next = 0;
  private readonly tracker?: PyinTracker;
  /** Evidence of frames waiting for the tracker's decision. */
  private readonly pending: Array<{ aperiodicity: number; rmsDb: number; centreDropDb: number }> = [];

  /**
   * `trackLagFrames`: decode pitch/voicing with pYIN-style fixed-lag Viterbi (dsp method).
   * `flattenedPitch`: read f0 (and the tracker's candidates) from the envelope-flattened window
   * (flattenEnvelope); the aperiodicity stays the plain window's (a flattened fade-out lifts its noise to the
   * voice's level and reads aperiodic: voicing recall fell to 94 % on speech).
   */
  constructor(private readonly fMinHz: number, private readonly fMaxHz: number, trackLagFrames?: number, private readonly flattenedPitch = false) {
    this.audio = new Float32Array(YIN_LEAD); // zeros before the start
    if (trackLagFrames !== undefined) this.tracker = new PyinTracker(fMinHz, fMaxHz, trackLagFrames, YIN_HOP / 16000);
    this.lookahead = YIN_WINDOW - YIN_LEAD + (trackLagFrames ?? 0) * YIN_HOP;
  }

  push(samples16k: Float32Array): void {
    const merged = new Float32Array(this.audio.length + samples16k.length);
    merged.set(this.audio);
    merged.set(samples16k, this.audio.length);
    this.audio = merged;
  }

  /** Frames whose windows are complete; with `final`, pads zeros and emits frames up to `endCentre`. */
  async frames(final: boolean, endCentre = 0): Promise<NativeFrame[]> {
    const out: NativeFrame[] = [];
    const available = this.audioStart + this.audio.length;
    if (final) {
      const need = endCentre + YIN_WINDOW - YIN_LEAD - available;
      if (need > 0) this.push(new Float32Array(need));
    }
    for (;;) {
      const centre = this.next * this.hop;
      const start = centre - YIN_LEAD - this.audioStart;
      if (start + YIN_WINDOW > this.audio.length) break;
      if (final && centre > endCentre) break;
      const window = this.audio.subarray(start, start + YIN_WINDOW);
      const r = yinAnalyze(window, 16000, this.fMinHz, this.fMaxHz);
      const rmsDb = rmsDecibels(window, YIN_LEAD - 256, YIN_LEAD + 256);
      const drop = centreDropDb(window, YIN_LEAD, r.f0Hz, rmsDb);
      const flat = this.flattenedPitch && r.f0Hz > 0 ? yinAnalyze(flattenEnvelope(window, FLATTEN_HALF_SAMPLES, FLATTEN_FLOOR_DB), 16000, this.fMinHz, this.fMaxHz) : r;
      if (this.tracker) {
        this.pending.push({ aperiodicity: r.aperiodicity, rmsDb, centreDropDb: drop });
        for (const t of this.tracker.push(flat.candidates)) out.push(this.trackedFrame(t));
      } else {
        out.push({ f0Hz: flat.f0Hz, confidence: yinConfidence(r.aperiodicity, rmsDb), aperiodicity: r.aperiodicity, rmsDb, centreDropDb: drop });
      }
      this.next++;
    }
    if (final && this.tracker) for (const t of this.tracker.finish()) out.push(this.trackedFrame(t));
    const keepFrom = this.next * this.hop - YIN_LEAD - this.audioStart;
    if (keepFrom > 8192) {
      this.audio = this.audio.slice(keepFrom);
      this.audioStart += keepFrom;
    }
    return out;
  }

  private trackedFrame(t: { f0Hz: number; voicedProbability: number; voiced: boolean }): NativeFrame {
    const evidence = this.pending.shift()!;
    return { f0Hz: t.f0Hz, confidence: t.voicedProbability, voiced: t.voiced, aperiodicity: evidence.aperiodicity, rmsDb: evidence.rmsDb, centreDropDb: evidence.centreDropDb };
  }

  dispose(): void {
    this.audio = new Float32Array(0);
  }
}
