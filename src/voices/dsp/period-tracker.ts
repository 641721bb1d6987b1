// Streaming pitch-period tracker for the DSP voice (PSOLA needs the local period and a voicing
// decision for every pitch mark). Causal: every estimate uses only samples already pushed.
//   1. 4th-order low-pass at 1.5 kHz (keeps the fundamental and low harmonics, drops formant detail),
//   2. decimation to ~6-8 kHz, YIN (cumulative-mean-normalised difference) over lags for 55..1100 Hz
//      on a window ending at the newest sample,
//   3. parabolic interpolation there, then the full-rate difference function on the low-passed signal
//      at the 7 lags around it (+ parabolic interpolation): the period is accurate to a small fraction
//      of a sample (a few cents at most).
// All buffers are allocated once; push() and analyze() allocate nothing.
import { LowpassCascade4 } from './biquad.js';

export const TRACKER_F0_MIN_HZ = 55;
export const TRACKER_F0_MAX_HZ = 1100;
/** CMNDF dip that counts as periodic (YIN's absolute threshold). */
const YIN_THRESHOLD = 0.2;
/** Best CMNDF above this is unvoiced (noise, breath, silence). */
const VOICED_MAX_CMNDF = 0.3;
/** Below this RMS (about -54 dBFS on the low-passed signal) the frame is silence. */
const SILENCE_RMS = 0.002;

export interface PeriodEstimate {
  /** Period in full-rate samples (fractional); meaningful when voiced. */
  periodSamples: number;
  voiced: boolean;
  /** Best CMNDF value (0 = perfectly periodic, ~1 = noise). */
  aperiodicity: number;
}

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

export class PeriodTracker {
  readonly sampleRate: number;
  /** Decimation factor from the input rate to the analysis rate. */
  readonly decimation: number;
  /** Samples the tracker must have seen before its first estimate can be voiced. */
  readonly warmupSamples: number;
  private readonly lowpass: LowpassCascade4;
  private readonly lpRing: Float32Array;
  private readonly lpMask: number;
  private readonly decRing: Float32Array;
  private readonly decMask: number;
  private readonly lagMinDec: number;
  private readonly lagMaxDec: number;
  private readonly windowDec: number;
  private readonly diff: Float64Array;
  private readonly frame: Float64Array;
  private readonly refineValues = new Float64Array(7);
  private samplesSeen = 0;
  /** Decimated lag of the previous voiced estimate (0 after unvoiced). */
  private previousLagDec = 0;
  private decSeen = 0;
  private readonly estimate: PeriodEstimate = { periodSamples: 0, voiced: false, aperiodicity: 1 };

  constructor(sampleRate: number) {
    this.sampleRate = sampleRate;
    this.decimation = Math.max(1, Math.floor(sampleRate / 6000));
    const decRate = sampleRate / this.decimation;
    this.lowpass = new LowpassCascade4(1500, sampleRate);
    this.lagMinDec = Math.max(2, Math.floor(decRate / TRACKER_F0_MAX_HZ));
    this.lagMaxDec = Math.ceil(decRate / TRACKER_F0_MIN_HZ);
    this.windowDec = this.lagMaxDec;
    const decNeeded = this.windowDec + this.lagMaxDec + 4;
    this.decRing = new Float32Array(nextPow2(decNeeded + 8));
    this.decMask = this.decRing.length - 1;
    // Full-rate refinement compares one period (<= lagMax*decimation) with the period before it.
    this.lpRing = new Float32Array(nextPow2(2 * (this.lagMaxDec + 2) * this.decimation + 64));
    this.lpMask = this.lpRing.length - 1;
    this.diff = new Float64Array(this.lagMaxDec + 3);
    this.frame = new Float64Array(decNeeded);
    this.warmupSamples = decNeeded * this.decimation;
  }

  /** Feeds one input sample (full rate). */
  push(x: number): void {
    const y = this.lowpass.process(x);
    this.lpRing[this.samplesSeen & this.lpMask] = y;
    this.samplesSeen++;
    if (this.samplesSeen % this.decimation === 0) {
      this.decRing[this.decSeen & this.decMask] = y;
      this.decSeen++;
    }
  }

  /** Estimate for the window ending at the newest pushed sample. The returned object is reused. */
  analyze(): PeriodEstimate {
    const est = this.estimate;
    est.voiced = false;
    est.aperiodicity = 1;
    const n = this.windowDec + this.lagMaxDec + 1;
    if (this.decSeen < n) return est;
    // frame[0] is the oldest sample; compare the newest `windowDec` samples with lagged ones.
    const frame = this.frame;
    const start = this.decSeen - n;
    let energy = 0;
    for (let i = 0; i < n; i++) {
      const v = this.decRing[(start + i) & this.decMask];
      frame[i] = v;
    }
    const w = this.windowDec;
    const base = n - w;
    for (let j = base; j < n; j++) energy += frame[j] * frame[j];
    if (Math.sqrt(energy / w) < SILENCE_RMS) {
      this.previousLagDec = 0;
      return est;
    }
    const diff = this.diff;
    const lagMax = this.lagMaxDec + 1;
    diff[0] = 1;
    let running = 0;
    let bestLag = -1;
    let bestValue = Infinity;
    let chosen = -1;
    // d(lag) = E(newest window) + E(window lag earlier) - 2 * cross(lag): one multiply-add per term.
    let energyLagged = energy;
    for (let lag = 1; lag <= lagMax; lag++) {
      const enter = frame[base - lag];
      const leave = frame[n - lag];
      energyLagged += enter * enter - leave * leave;
      let cross = 0;
      for (let j = base; j < n; j++) cross += frame[j] * frame[j - lag];
      const d = Math.max(0, energy + energyLagged - 2 * cross);
      running += d;
      diff[lag] = running > 0 ? (d * lag) / running : 1;
    }
    for (let lag = this.lagMinDec; lag < lagMax; lag++) {
      const v = diff[lag];
      if (v < bestValue) {
        bestValue = v;
        bestLag = lag;
      }
      if (chosen < 0 && v < YIN_THRESHOLD) {
        // Walk down to the bottom of the first dip under the threshold (YIN step 4).
        let l = lag;
        while (l + 1 < lagMax && diff[l + 1] < diff[l]) l++;
        chosen = l;
        break;
      }
    }
    if (chosen < 0) {
      if (bestValue > VOICED_MAX_CMNDF || bestLag < 0) {
        est.aperiodicity = Math.min(1, bestValue);
        this.previousLagDec = 0;
        return est;
      }
      // No dip under the absolute threshold: take the first local minimum nearly as deep as the
      // best one, not the best itself (which is often a multiple of the period: octave errors).
      chosen = bestLag;
      const accept = Math.min(VOICED_MAX_CMNDF, bestValue + 0.1);
      for (let lag = this.lagMinDec; lag < bestLag; lag++) {
        if (diff[lag] <= accept && diff[lag] <= diff[lag - 1] && diff[lag] <= diff[lag + 1]) {
          chosen = lag;
          break;
        }
      }
    }
    // Continuity: in irregular (creaky, breathy) stretches several multiples of the period dip
    // about equally and the choice would flip between octaves from one hop to the next. Prefer the
    // dip at the previous period when it is nearly as deep as the chosen one.
    if (this.previousLagDec > 0 && Math.abs(chosen - this.previousLagDec) > 0.15 * this.previousLagDec) {
      const lo = Math.max(this.lagMinDec, Math.floor(this.previousLagDec * 0.87));
      const hi = Math.min(lagMax - 1, Math.ceil(this.previousLagDec * 1.15));
      let near = -1;
      for (let lag = lo; lag <= hi; lag++) if (near < 0 || diff[lag] < diff[near]) near = lag;
      if (near > 0 && diff[near] <= diff[chosen] + 0.05 && diff[near] < VOICED_MAX_CMNDF && diff[near] <= diff[near - 1] && diff[near] <= diff[near + 1]) chosen = near;
    }
    this.previousLagDec = chosen;
    est.aperiodicity = diff[chosen];
    // Parabolic interpolation on the decimated grid, then a small full-rate search around it.
    const a = diff[chosen - 1];
    const b = diff[chosen];
    const c = diff[chosen + 1];
    const denom = a - 2 * b + c;
    const fine = chosen + (denom > 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / denom)) : 0);
    est.periodSamples = this.refine(fine * this.decimation);
    est.voiced = est.periodSamples > 0;
    return est;
  }

  /** Full-rate difference-function minimum within +-2 samples of `guessLag`, parabolic interpolation. */
  private refine(guessLag: number): number {
    const centre = Math.round(guessLag);
    const lo = Math.max(2, centre - 3);
    const count = 7;
    const win = Math.max(32, Math.min(centre, 384));
    const end = this.samplesSeen;
    if (end < win + lo + count + 2) return guessLag;
    const ring = this.lpRing;
    const mask = this.lpMask;
    const values = this.refineValues;
    for (let k = 0; k < count; k++) {
      const lag = lo + k;
      let d = 0;
      for (let j = end - win; j < end; j++) {
        const e = ring[j & mask] - ring[(j - lag) & mask];
        d += e * e;
      }
      values[k] = d;
    }
    let best = 1;
    for (let k = 2; k < count - 1; k++) if (values[k] < values[best]) best = k;
    const dPrev = values[best - 1];
    const dBest = values[best];
    const dNext = values[best + 1];
    const denom = dPrev - 2 * dBest + dNext;
    const shift = denom > 0 ? (0.5 * (dPrev - dNext)) / denom : 0;
    return lo + best + Math.max(-0.5, Math.min(0.5, shift));
  }

  reset(): void {
    this.lowpass.reset();
    this.lpRing.fill(0);
    this.decRing.fill(0);
    this.samplesSeen = 0;
    this.decSeen = 0;
    this.previousLagDec = 0;
  }
}
