// The built-in DSP voice: independent pitch change (semitones) and formant change (ratio) by
// pitch-synchronous overlap-add (TD-PSOLA) with per-grain resampling of the spectral envelope.
//
// How it works (all causal, one implementation for streaming and offline):
//   - A PeriodTracker (decimated YIN + full-rate refinement) gives the local period and voicing.
//   - Voiced pitch marks are period-locked (each one period after the last, pulled 10% towards the
//     cycle's energy peak), so consecutive grains are consistent (no jitter); unvoiced/silent marks
//     sit on a fixed 2 ms grid. At a voicing onset, unvoiced marks not yet used are re-placed.
//   - Synthesis times advance by (mark spacing)/pitchRatio in voiced parts. Each grain is the
//     two-period Hann-windowed neighbourhood of the nearest analysis mark, read at rate
//     formantRatio (grain(t) = x(mark + formantRatio*t), cubic interpolation, anti-alias low-pass
//     when formantRatio > 1): this scales the spectral envelope by formantRatio, while the grain
//     spacing alone sets the new pitch. Grain gain sqrt(formant/pitch ratio) keeps the level.
//     With pitch and formant 1 the grains land exactly on their marks (output ~ input).
//   - Unvoiced parts are never made periodic: grains are taken from their own position on a fixed
//     75%-overlap grid (Hann sums to a constant in amplitude AND power there), so noise stays noise;
//     only the formant warp applies. With formantRatio 1 the unvoiced path reconstructs exactly.
//   - Guards against holes: a grain never reaches into output already handed out (it is shortened
//     instead), and voiced->unvoiced switches or sudden period drops restart the next grain early.
//   - A memoryless soft limiter above 0.9 keeps |output| < 1.
// Fixed algorithmic delay: `delaySamples` = 20 ms + one 1 ms internal block - 1 sample (= 335 at
// 16 kHz, 925 at 44.1 kHz, 1007 at 48 kHz), identical for every chunking because all decisions
// happen at fixed internal block boundaries. Voiced grains from low voices (< ~110 Hz) may come
// from the mark one period earlier (the next one is not in yet), i.e. up to one period later.
// Everything is allocated in the constructor; process() allocates only its output array
// (processInto() none).
import { SvcError } from '../../errors.js';
import { PeriodTracker } from './period-tracker.js';
import { LowpassCascade4 } from './biquad.js';
import {
  type DspVoiceParams,
  semitonesToRatio,
  validateFormantRatio,
  validatePitchSemitones,
  validateVoiceSampleRate,
} from './params.js';

export interface DspVoiceOptions extends DspVoiceParams {
  sampleRate: number;
}

/** Algorithmic look-ahead before the internal block (seconds). */
export const DSP_VOICE_LOOKAHEAD_SECONDS = 0.02;
/** Internal processing block (seconds); decisions happen only at its boundaries. */
const BLOCK_SECONDS = 0.001;
/** Pitch analysis hop (seconds). */
const ANALYSIS_HOP_SECONDS = 0.004;
/** Marks are placed only this far behind the newest sample, so the voicing estimate covers them. */
const MARK_LOOKAHEAD_SECONDS = 0.005;
/** Fraction of the distance to the cycle's energy peak by which a voiced mark moves (0 = strictly one period on). */
const MARK_PULL = 0.1;
/** Half-length of unvoiced grains (seconds); their hop is half of this (75% overlap). */
const UNVOICED_HALF_SECONDS = 0.004;
/** Time constant of parameter glides after setParams (seconds). */
const PARAM_GLIDE_SECONDS = 0.03;
/** Soft-limiter knee: samples above this magnitude are compressed smoothly below 1. */
const LIMIT_KNEE = 0.9;

function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

/** Catmull-Rom cubic interpolation of ring[pos] (pos fractional, ring masked). */
function readCubic(ring: Float32Array, mask: number, pos: number): number {
  const i = Math.floor(pos);
  const f = pos - i;
  const x0 = ring[(i - 1) & mask];
  const x1 = ring[i & mask];
  const x2 = ring[(i + 1) & mask];
  const x3 = ring[(i + 2) & mask];
  if (f === 0) return x1;
  const c1 = 0.5 * (x2 - x0);
  const c2 = x0 - 2.5 * x1 + 2 * x2 - 0.5 * x3;
  const c3 = 0.5 * (x3 - x0) + 1.5 * (x1 - x2);
  return ((c3 * f + c2) * f + c1) * f + x1;
}

/** Memoryless soft limiter: identity below the knee, smooth approach to +-1 above it. */
export function softLimit(x: number): number {
  const a = Math.abs(x);
  if (a <= LIMIT_KNEE) return x;
  const span = 1 - LIMIT_KNEE;
  const y = LIMIT_KNEE + span * Math.tanh((a - LIMIT_KNEE) / span);
  return x < 0 ? -y : y;
}

/** Gain of unvoiced grains: 1/sum(w) when overlapping grains are coherent (formant 1), 1/sqrt(sum(w^2)) when not. */
function unvoicedGain(formantRatio: number): number {
  const incoherence = Math.min(1, Math.abs(Math.log(formantRatio)) / 0.05);
  return 0.5 + (Math.sqrt(1 / 1.5) - 0.5) * incoherence;
}

export class DspVoice {
  readonly sampleRate: number;
  /** output[n + delaySamples] corresponds to input[n], for every chunking. */
  readonly delaySamples: number;

  private readonly blockSamples: number;
  private readonly lookaheadSamples: number;
  private readonly analysisHopSamples: number;
  private readonly markLookaheadSamples: number;
  private readonly unvoicedHalf: number;
  private readonly unvoicedHop: number;
  private readonly envCoef: number;
  private readonly glideCoef: number;

  private tracker: PeriodTracker;
  private readonly antiAlias: LowpassCascade4;
  private inRing: Float32Array;
  private aaRing: Float32Array;
  private envRing: Float32Array;
  private readonly inMask: number;
  private outRing: Float32Array;
  private readonly outMask: number;

  private readonly markCapacity = 4096;
  private readonly markMask = 4095;
  private markPos: Float64Array;
  private markPeriod: Float32Array;
  private markVoiced: Uint8Array;
  private markCount = 0;

  private samplesIn = 0;
  private disposed = false;
  private env = 0;
  private estimateVoiced = false;
  private estimatePeriod = 0;
  private synthTime = 0;
  private cursor = 0;
  private lastGrainVoiced = false;
  /** Index of the mark whose successor will fix the time of the next voiced grain (-1: none). */
  private pendingSource = -1;
  private pendingTime = 0;
  private lastVoicedTime = 0;
  private lastVoicedEnd = 0;

  private targetLogPitch = 0;
  private targetLogFormant = 0;
  private logPitch = 0;
  private logFormant = 0;
  private aaFormant = 0;

  constructor(opts: DspVoiceOptions) {
    this.sampleRate = validateVoiceSampleRate(opts.sampleRate);
    const sr = this.sampleRate;
    this.blockSamples = Math.max(8, Math.round(sr * BLOCK_SECONDS));
    this.lookaheadSamples = Math.round(sr * DSP_VOICE_LOOKAHEAD_SECONDS);
    this.delaySamples = this.lookaheadSamples + this.blockSamples - 1;
    this.analysisHopSamples = this.blockSamples * Math.max(1, Math.round(ANALYSIS_HOP_SECONDS / BLOCK_SECONDS));
    this.markLookaheadSamples = Math.round(sr * MARK_LOOKAHEAD_SECONDS);
    this.unvoicedHop = Math.max(2, Math.round((sr * UNVOICED_HALF_SECONDS) / 2));
    this.unvoicedHalf = 2 * this.unvoicedHop;
    this.envCoef = Math.exp(-1 / (0.0005 * sr));
    this.glideCoef = 1 - Math.exp(-this.blockSamples / (PARAM_GLIDE_SECONDS * sr));

    this.tracker = new PeriodTracker(sr);
    this.antiAlias = new LowpassCascade4(0.45 * sr, sr);
    const inSize = nextPow2(Math.ceil(sr * 0.25));
    this.inRing = new Float32Array(inSize);
    this.aaRing = new Float32Array(inSize);
    this.envRing = new Float32Array(inSize);
    this.inMask = inSize - 1;
    const outSize = nextPow2(Math.ceil(sr * 0.12));
    this.outRing = new Float32Array(outSize);
    this.outMask = outSize - 1;
    this.markPos = new Float64Array(this.markCapacity);
    this.markPeriod = new Float32Array(this.markCapacity);
    this.markVoiced = new Uint8Array(this.markCapacity);

    const pitch = validatePitchSemitones(opts.pitchSemitones ?? 0);
    const formant = validateFormantRatio(opts.formantRatio ?? 1);
    this.targetLogPitch = this.logPitch = Math.log(semitonesToRatio(pitch));
    this.targetLogFormant = this.logFormant = Math.log(formant);
    this.resetState();
  }

  /** Changes pitch and/or formant; the change glides in over ~30 ms, grain by grain (no click). */
  setParams(p: DspVoiceParams): void {
    if (p.pitchSemitones !== undefined) this.targetLogPitch = Math.log(semitonesToRatio(validatePitchSemitones(p.pitchSemitones)));
    if (p.formantRatio !== undefined) this.targetLogFormant = Math.log(validateFormantRatio(p.formantRatio));
  }

  /** Converts `input`; returns exactly input.length samples, delayed by `delaySamples`. */
  process(input: Float32Array): Float32Array {
    const output = new Float32Array(input.length);
    this.processInto(input, output);
    return output;
  }

  /** Like process(), writing into a caller-owned array of the same length (no allocation). */
  processInto(input: Float32Array, output: Float32Array): void {
    if (this.disposed) throw new SvcError('INTERNAL', 'DspVoice.process() called after dispose()', { hint: 'create a new DspVoice' });
    if (output.length !== input.length) {
      throw new SvcError('INTERNAL', `DspVoice.processInto(): output holds ${output.length} samples, input ${input.length}; they must be equal`);
    }
    const inRing = this.inRing;
    const aaRing = this.aaRing;
    const envRing = this.envRing;
    const outRing = this.outRing;
    const inMask = this.inMask;
    const outMask = this.outMask;
    const tracker = this.tracker;
    const aa = this.antiAlias;
    const block = this.blockSamples;
    const envCoef = this.envCoef;
    const delay = this.delaySamples;
    let env = this.env;
    let t = this.samplesIn;
    for (let i = 0; i < input.length; i++) {
      let x = input[i];
      if (!(x === x)) x = 0; // NaN never enters the state
      const slot = t & inMask;
      inRing[slot] = x;
      aaRing[slot] = aa.process(x);
      env = envCoef * env + (1 - envCoef) * x * x;
      envRing[slot] = env;
      tracker.push(x);
      t++;
      if (t % block === 0) {
        this.samplesIn = t;
        this.env = env;
        this.processBlock();
      }
      const j = t - 1 - delay;
      if (j >= 0) {
        const k = j & outMask;
        output[i] = softLimit(outRing[k]);
        outRing[k] = 0;
      } else {
        output[i] = 0;
      }
    }
    this.samplesIn = t;
    this.env = env;
  }

  /** Clears all signal state (keeps the parameters). */
  reset(): void {
    if (this.disposed) return;
    this.logPitch = this.targetLogPitch;
    this.logFormant = this.targetLogFormant;
    this.resetState();
  }

  dispose(): void {
    this.disposed = true;
    this.inRing = this.aaRing = this.envRing = this.outRing = new Float32Array(0);
    this.markPos = new Float64Array(0);
    this.markPeriod = new Float32Array(0);
    this.markVoiced = new Uint8Array(0);
  }

  private resetState(): void {
    this.tracker.reset();
    this.antiAlias.reset();
    this.inRing.fill(0);
    this.aaRing.fill(0);
    this.envRing.fill(0);
    this.outRing.fill(0);
    this.samplesIn = 0;
    this.env = 0;
    this.estimateVoiced = false;
    this.estimatePeriod = 0;
    // First grain one unvoiced hop before 0, so the overlap-add sum is complete from sample 0 on.
    this.synthTime = -this.unvoicedHop;
    this.cursor = 0;
    this.lastGrainVoiced = false;
    this.pendingSource = -1;
    this.pendingTime = 0;
    this.lastVoicedTime = 0;
    this.lastVoicedEnd = 0;
    // One unvoiced mark at 0 so that every later synthesis time has a mark at or before it.
    this.markCount = 1;
    this.markPos[0] = 0;
    this.markPeriod[0] = 0;
    this.markVoiced[0] = 0;
    this.aaFormant = 0;
    this.updateAntiAlias();
  }

  private updateAntiAlias(): void {
    const alpha = Math.exp(this.logFormant);
    if (Math.abs(alpha - this.aaFormant) < 1e-3) return;
    this.aaFormant = alpha;
    // Reading at rate alpha > 1 folds everything above sr/(2*alpha) back: cut it first.
    this.antiAlias.setCutoff((0.45 * this.sampleRate) / Math.max(1, alpha), this.sampleRate);
  }

  private processBlock(): void {
    // Parameter glide (log domain), per block so it is independent of the caller's chunking.
    const g = this.glideCoef;
    this.logPitch += (this.targetLogPitch - this.logPitch) * g;
    this.logFormant += (this.targetLogFormant - this.logFormant) * g;
    if (Math.abs(this.targetLogPitch - this.logPitch) < 1e-5) this.logPitch = this.targetLogPitch;
    if (Math.abs(this.targetLogFormant - this.logFormant) < 1e-5) this.logFormant = this.targetLogFormant;
    this.updateAntiAlias();

    if (this.samplesIn % this.analysisHopSamples === 0) {
      const est = this.tracker.analyze();
      this.estimateVoiced = est.voiced;
      this.estimatePeriod = est.periodSamples;
    }
    this.placeMarks();
    this.synthesize();
  }

  private addMark(pos: number, period: number, voiced: boolean): void {
    const k = this.markCount & this.markMask;
    this.markPos[k] = pos;
    this.markPeriod[k] = period;
    this.markVoiced[k] = voiced ? 1 : 0;
    this.markCount++;
  }

  private placeMarks(): void {
    const limit = this.samplesIn - 1 - this.markLookaheadSamples;
    const envRing = this.envRing;
    const mask = this.inMask;
    for (;;) {
      const last = (this.markCount - 1) & this.markMask;
      const lastPos = this.markPos[last];
      if (this.estimateVoiced) {
        const period = this.estimatePeriod;
        let lo: number;
        let hi: number;
        let centre: number;
        if (this.markVoiced[last]) {
          centre = lastPos + period;
          lo = Math.max(Math.ceil(lastPos + 0.5 * period), Math.round(centre - 0.2 * period));
          hi = Math.round(centre + 0.2 * period);
        } else {
          // Voicing onset. The tracker sees voicing only once its window holds a few periods, so
          // the last few unvoiced marks already lie in the voiced part: drop those that synthesis
          // has not used yet and restart from there (up to ~10 ms of onset gets the new pitch).
          const keepBefore = this.synthTime + this.unvoicedHalf;
          while (this.markCount - 1 > this.cursor + 1 && !this.markVoiced[(this.markCount - 1) & this.markMask] && this.markPos[(this.markCount - 1) & this.markMask] > keepBefore) this.markCount--;
          const back = (this.markCount - 1) & this.markMask;
          if (back !== last) {
            const backPos = Math.floor(this.markPos[back]);
            const backHi = backPos + Math.max(1, Math.round(period));
            if (backHi > limit) break;
            this.addMark(this.peakIn(backPos + 1, backHi), period, true);
            continue;
          }
          // Voicing onset: first mark on the strongest point of the next period.
          lo = Math.floor(lastPos) + 1;
          hi = Math.floor(lastPos) + Math.max(1, Math.round(period));
          centre = -1;
        }
        if (hi > limit) break;
        let best = lo;
        let bestScore = -1;
        const halfSpan = 0.2 * period;
        for (let n = lo; n <= hi; n++) {
          let score = envRing[n & mask];
          if (centre >= 0) {
            const u = (n - centre) / halfSpan;
            score *= 1 - 0.5 * u * u;
          }
          if (score > bestScore) {
            bestScore = score;
            best = n;
          }
        }
        // Marks stay period-locked (consistent grains = no jitter); the energy peak only pulls them
        // gently, so that they do not drift off the pulses over a long note.
        this.addMark(centre >= 0 ? centre + MARK_PULL * (best - centre) : best, period, true);
      } else {
        const pos = lastPos + this.unvoicedHop;
        if (pos > limit) break;
        this.addMark(pos, 0, false);
      }
    }
  }

  /** Distance from voiced mark `index` to its voiced successor, or 0 when unknown or implausible. */
  private markSpacing(index: number, period: number): number {
    const next = index + 1;
    if (next >= this.markCount || !this.markVoiced[next & this.markMask]) return 0;
    const d = this.markPos[next & this.markMask] - this.markPos[index & this.markMask];
    return d > 0.5 * period && d < 1.5 * period ? d : 0;
  }

  /** Position of the largest smoothed energy in [lo, hi]. */
  private peakIn(lo: number, hi: number): number {
    let best = lo;
    let bestScore = -1;
    for (let n = lo; n <= hi; n++) {
      const score = this.envRing[n & this.inMask];
      if (score > bestScore) {
        bestScore = score;
        best = n;
      }
    }
    return best;
  }

  private synthesize(): void {
    const done = this.samplesIn - this.lookaheadSamples; // output before this index is final after this block
    // Output before this index may already have been read out: no grain may reach back into it.
    // (A grain chosen now can be longer than the one the previous block saw for the same ts, when a
    // newer mark with a longer period became available; its window is then shortened, not cut.)
    const emitted = done - this.blockSamples;
    const newest = this.samplesIn - 1;
    const alpha = Math.exp(this.logFormant);
    const beta = Math.exp(this.logPitch);
    const oldest = this.markCount - this.markCapacity + 1;
    for (;;) {
      if (this.pendingSource >= 0 && this.pendingSource + 1 < this.markCount) {
        const m = this.pendingSource & this.markMask;
        const spacing = this.markSpacing(this.pendingSource, this.markPeriod[m]);
        if (spacing > 0) this.synthTime = Math.max(emitted + 1, this.pendingTime + spacing / beta);
        this.pendingSource = -1;
      }
      let ts = this.synthTime;
      // Advance the cursor to the latest mark at or before ts.
      while (this.cursor + 1 < this.markCount && this.markPos[(this.cursor + 1) & this.markMask] <= ts) this.cursor++;
      if (this.cursor < oldest) this.cursor = oldest;
      let source = -1;
      let sourceIndex = -1;
      if (this.markVoiced[this.cursor & this.markMask]) {
        // Nearest voiced mark to ts whose whole grain is already in the input; older ones otherwise.
        let k = this.cursor;
        const next = k + 1;
        if (next < this.markCount && this.markVoiced[next & this.markMask]) {
          const pNext = this.markPos[next & this.markMask];
          if (pNext - ts < ts - this.markPos[k & this.markMask] && pNext + this.markPeriod[next & this.markMask] + 3 <= newest) k = next;
        }
        for (let tries = 0; tries < 8 && k >= oldest; tries++, k--) {
          const m = k & this.markMask;
          if (!this.markVoiced[m]) break;
          if (this.markPos[m] + this.markPeriod[m] * Math.min(alpha, 1) + 3 <= newest) {
            source = m;
            sourceIndex = k;
            break;
          }
        }
      }
      if (source >= 0) {
        const period = this.markPeriod[source];
        const reach = period * Math.min(alpha, 1); // input half-width read
        const half = reach / alpha; // output half-width
        // Voicing onset: put the first grain exactly on its mark (it is at most one unvoiced hop
        // back or half a period ahead), so it lines up with the unvoiced grains it overlaps and the voiced
        // part keeps its timing (with pitch 1 the grains then stay exactly on their marks).
        const sourcePos = this.markPos[source];
        if (this.lastGrainVoiced) {
          // When the period drops abruptly (e.g. after a subharmonic stretch) the step taken from the
          // old period would leave a hole: start this grain no later than the new period allows.
          const latest = this.lastVoicedEnd + Math.max(0, period / beta - 2 * half) + half;
          if (ts > latest) ts = Math.max(latest, this.lastVoicedTime + 1, emitted + 1);
        }
        if (!this.lastGrainVoiced && sourcePos >= ts - this.unvoicedHop && sourcePos <= ts + 0.5 * period && sourcePos - emitted >= 1) ts = sourcePos;
        if (ts - half >= done) break;
        const halfUsed = Math.min(half, ts - emitted);
        this.addGrain(sourcePos, ts, halfUsed, alpha, Math.sqrt(alpha / beta));
        // Advance by the spacing of this mark to the next one (the measured local period) when it is
        // known, so that with pitch 1 the grains stay exactly on their marks.
        // If the next mark is not placed yet, advance provisionally by the period and correct the
        // step once it is (the grain at the new time has not been made yet).
        const spacing = this.markSpacing(sourceIndex, period);
        let step = (spacing > 0 ? spacing : period) / beta;
        // A shortened grain (see `emitted`) must not leave a silent gap before the next one.
        if (halfUsed < half) step = Math.min(step, halfUsed + half);
        this.synthTime = ts + step;
        this.lastVoicedTime = ts;
        this.lastVoicedEnd = ts + halfUsed;
        this.pendingSource = spacing > 0 || halfUsed < half ? -1 : sourceIndex;
        this.pendingTime = ts;
        this.lastGrainVoiced = true;
      } else {
        // Voiced -> unvoiced: the unvoiced grid restarts one hop after the last voiced grain, not a
        // whole (pitch-scaled) period later, so no silent gap opens between them.
        if (this.lastGrainVoiced) ts = Math.min(ts, this.lastVoicedTime + this.unvoicedHop);
        ts = Math.ceil(ts);
        const half = this.unvoicedHalf;
        if (ts - half >= done) {
          this.synthTime = ts;
          break;
        }
        const reach = half * alpha;
        const centre = Math.min(ts, Math.floor(newest - 3 - reach));
        this.addGrain(centre, ts, Math.min(half, ts - emitted), alpha, unvoicedGain(alpha));
        this.synthTime = ts + this.unvoicedHop;
        this.lastGrainVoiced = false;
        this.pendingSource = -1;
      }
    }
  }

  /** Overlap-adds gain * hann((n - ts)/half) * x(centre + alpha*(n - ts)) for |n - ts| < half. */
  private addGrain(centre: number, ts: number, half: number, alpha: number, gain: number): void {
    if (half < 1) half = 1;
    const ring = alpha > 1.001 ? this.aaRing : this.inRing;
    const inMask = this.inMask;
    const out = this.outRing;
    const outMask = this.outMask;
    let n = Math.max(0, Math.floor(ts - half) + 1);
    const end = Math.ceil(ts + half) - 1;
    if (n > end) return;
    // Hann by rotation: w = 0.5 + 0.5*cos(theta), theta = pi*(n - ts)/half.
    const dTheta = Math.PI / half;
    const theta0 = dTheta * (n - ts);
    let c = Math.cos(theta0);
    let s = Math.sin(theta0);
    const cd = Math.cos(dTheta);
    const sd = Math.sin(dTheta);
    let pos = centre + alpha * (n - ts);
    const halfGain = 0.5 * gain;
    for (; n <= end; n++) {
      const w = halfGain + halfGain * c;
      out[n & outMask] += w * readCubic(ring, inMask, pos);
      pos += alpha;
      const c2 = c * cd - s * sd;
      s = s * cd + c * sd;
      c = c2;
    }
  }
}

/** Offline conversion with the same DspVoice: drains it, flushes with zeros and drops the delay. */
export function convertWithDspVoice(samples: Float32Array, sampleRate: number, params: DspVoiceParams = {}): Float32Array {
  const voice = new DspVoice({ sampleRate, ...params });
  try {
    const delay = voice.delaySamples;
    const padded = new Float32Array(samples.length + delay);
    padded.set(samples);
    const out = voice.process(padded);
    return out.subarray(delay).slice();
  } finally {
    voice.dispose();
  }
}
