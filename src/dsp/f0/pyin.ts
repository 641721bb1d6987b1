// pYIN-style tracking for the DSP method (Mauch & Dixon 2014, written from the paper): every YIN
// dip is a pitch candidate whose probability is the share of thresholds (Beta(2, 11.33) prior,
// mean 0.15) for which YIN's absolute-threshold rule would pick it; an HMM over 20-cent pitch
// bins × {voiced, unvoiced} with triangular pitch transitions (≤ 35.9 octaves/s) and a 1 %
// voicing-switch probability is decoded by fixed-lag Viterbi, so octave jumps of single frames
// are overruled by the continuous track at a fixed delay of `lagFrames`. The same tracker decodes
// CREPE activations (pushObservation) for the crepe method.

export interface YinCandidate {
  f0Hz: number;
  /** Normalised difference at the dip. */
  value: number;
}

const THRESHOLDS = 100;
/** Beta(2, 11.33) weights of thresholds 0.01 … 1.00 (mean 0.15), normalised. */
const THRESHOLD_WEIGHTS: Float64Array = (() => {
  const a = 2;
  const b = 11.33;
  const w = new Float64Array(THRESHOLDS);
  let sum = 0;
  for (let k = 0; k < THRESHOLDS; k++) {
    const x = (k + 1) / (THRESHOLDS + 1);
    w[k] = x ** (a - 1) * (1 - x) ** (b - 1);
    sum += w[k]!;
  }
  for (let k = 0; k < THRESHOLDS; k++) w[k] = w[k]! / sum;
  return w;
})();
/** Share given to the global minimum when no dip is below a threshold (pYIN's p_a). */
const ABSOLUTE_MIN_SHARE = 0.01;

/** Probability of each candidate (ordered by increasing lag, i.e. decreasing f0). */
export function candidateProbabilities(candidates: YinCandidate[]): Float64Array {
  const p = new Float64Array(candidates.length);
  if (candidates.length === 0) return p;
  let globalMin = 0;
  for (let c = 1; c < candidates.length; c++) if (candidates[c]!.value < candidates[globalMin]!.value) globalMin = c;
  for (let k = 0; k < THRESHOLDS; k++) {
    const threshold = (k + 1) / THRESHOLDS;
    const first = candidates.findIndex((c) => c.value < threshold);
    if (first >= 0) p[first] = p[first]! + THRESHOLD_WEIGHTS[k]!;
    else p[globalMin] = p[globalMin]! + ABSOLUTE_MIN_SHARE * THRESHOLD_WEIGHTS[k]!;
  }
  return p;
}

export interface TrackedFrame {
  f0Hz: number;
  voicedProbability: number;
  voiced: boolean;
}

/** Fixed-lag Viterbi over pitch bins × voicing. Push observations, get decided frames back. */
export class PyinTracker {
  private readonly bins: number;
  private readonly binCents = 20;
  private readonly maxJumpBins: number;
  private readonly transition: Float64Array; // log weights for |Δbin| = 0..maxJumpBins
  private readonly logSwitch = Math.log(0.01);
  private readonly logStay = Math.log(0.99);
  private delta: Float64Array; // log prob per state [voiced bins | unvoiced bins]
  private readonly history: Int32Array[] = []; // back-pointers per frame (for the undecided window)
  private readonly candidateHz: Array<Map<number, number>> = []; // per frame: bin → refined f0
  private readonly voicedProb: number[] = [];
  private started = false;
  private decided = 0;
  private pushed = 0;

  constructor(private readonly fMinHz: number, fMaxHz: number, readonly lagFrames: number, hopSeconds: number) {
    this.bins = Math.ceil((1200 * Math.log2(fMaxHz / fMinHz)) / this.binCents) + 1;
    const maxOctavesPerFrame = 35.92 * hopSeconds;
    this.maxJumpBins = Math.max(1, Math.round((1200 * maxOctavesPerFrame) / this.binCents));
    this.transition = new Float64Array(this.maxJumpBins + 1);
    let sum = 0;
    for (let d = -this.maxJumpBins; d <= this.maxJumpBins; d++) sum += this.maxJumpBins + 1 - Math.abs(d);
    for (let d = 0; d <= this.maxJumpBins; d++) this.transition[d] = Math.log((this.maxJumpBins + 1 - d) / sum);
    this.delta = new Float64Array(2 * this.bins);
  }

  private binOf(hz: number): number {
    return Math.min(this.bins - 1, Math.max(0, Math.round((1200 * Math.log2(hz / this.fMinHz)) / this.binCents)));
  }

  private hzOf(bin: number): number {
    return this.fMinHz * 2 ** ((bin * this.binCents) / 1200);
  }

  /** Adds one frame's YIN candidates; returns the frame decided now, if any (fixed lag). */
  push(candidates: YinCandidate[]): TrackedFrame[] {
    const probs = candidateProbabilities(candidates);
    return this.pushObservation(candidates.map((c, i) => ({ f0Hz: c.f0Hz, probability: probs[i]! })));
  }

  /**
   * Adds one frame of pitch candidates with their probabilities (Σ ≤ 1; the rest is the
   * probability of an unvoiced frame); returns the frame decided now, if any.
   */
  pushObservation(candidates: Array<{ f0Hz: number; probability: number }>): TrackedFrame[] {
    const probs = candidates.map((c) => c.probability);
    const nb = this.bins;
    const obs = new Float64Array(2 * nb);
    const refined = new Map<number, number>();
    const refinedProb = new Map<number, number>();
    let voicedSum = 0;
    candidates.forEach((c, i) => {
      if (!(c.f0Hz > 0) || probs[i]! <= 0) return;
      const b = this.binOf(c.f0Hz);
      obs[b] = obs[b]! + probs[i]!;
      voicedSum += probs[i]!;
      if ((refinedProb.get(b) ?? -1) < probs[i]!) {
        refined.set(b, c.f0Hz);
        refinedProb.set(b, probs[i]!);
      }
    });
    voicedSum = Math.min(1, voicedSum);
    const unvoicedObs = Math.log(Math.max(1e-12, (1 - voicedSum) / nb));
    const logObs = new Float64Array(2 * nb);
    for (let b = 0; b < nb; b++) {
      logObs[b] = Math.log(Math.max(1e-12, obs[b]!));
      logObs[nb + b] = unvoicedObs;
    }
    const back = new Int32Array(2 * nb);
    const next = new Float64Array(2 * nb);
    if (!this.started) {
      for (let s = 0; s < 2 * nb; s++) next[s] = logObs[s]! - Math.log(2 * nb);
      this.started = true;
    } else {
      const J = this.maxJumpBins;
      // Locals: this inner loop (bins × (2J+1), ~12 k steps per frame) is the tracker's whole cost.
      const delta = this.delta;
      const transition = this.transition;
      for (let b = 0; b < nb; b++) {
        // best predecessor within ±J bins, in the same voicing (stay) or the other (switch)
        let bestV = -Infinity;
        let argV = 0;
        let bestU = -Infinity;
        let argU = 0;
        const lo = Math.max(0, b - J);
        const hi = Math.min(nb - 1, b + J);
        for (let p = lo; p <= hi; p++) {
          const t = transition[p < b ? b - p : p - b]!;
          const fromV = delta[p]! + t;
          const fromU = delta[nb + p]! + t;
          if (fromV > bestV) {
            bestV = fromV;
            argV = p;
          }
          if (fromU > bestU) {
            bestU = fromU;
            argU = nb + p;
          }
        }
        // into voiced b
        if (bestV + this.logStay >= bestU + this.logSwitch) {
          next[b] = bestV + this.logStay + logObs[b]!;
          back[b] = argV;
        } else {
          next[b] = bestU + this.logSwitch + logObs[b]!;
          back[b] = argU;
        }
        // into unvoiced b
        if (bestU + this.logStay >= bestV + this.logSwitch) {
          next[nb + b] = bestU + this.logStay + logObs[nb + b]!;
          back[nb + b] = argU;
        } else {
          next[nb + b] = bestV + this.logSwitch + logObs[nb + b]!;
          back[nb + b] = argV;
        }
      }
    }
    // renormalise to keep numbers bounded
    let max = -Infinity;
    for (let s = 0; s < 2 * nb; s++) max = Math.max(max, next[s]!);
    for (let s = 0; s < 2 * nb; s++) next[s] = next[s]! - max;
    this.delta = next;
    this.history.push(back);
    this.candidateHz.push(refined);
    this.voicedProb.push(voicedSum);
    this.pushed++;
    if (this.pushed - this.decided > this.lagFrames) return [this.decide(this.decided)];
    return [];
  }

  /** Decides every remaining frame (end of input). */
  finish(): TrackedFrame[] {
    const out: TrackedFrame[] = [];
    while (this.decided < this.pushed) out.push(this.decide(this.decided));
    return out;
  }

  /** Backtracks from the best current state to frame `index` and returns its state. */
  private decide(index: number): TrackedFrame {
    let state = 0;
    for (let s = 1; s < this.delta.length; s++) if (this.delta[s]! > this.delta[state]!) state = s;
    const offset = this.pushed - 1 - this.decided; // history[offset] is the newest frame's pointers
    // history holds frames decided..pushed-1 at positions 0..offset
    for (let k = offset; k > index - this.decided; k--) state = this.history[k]![state]!;
    const nb = this.bins;
    const voiced = state < nb;
    const bin = voiced ? state : state - nb;
    const refined = this.candidateHz[0]!.get(bin);
    const frame: TrackedFrame = { f0Hz: refined ?? this.hzOf(bin), voicedProbability: this.voicedProb[0]!, voiced };
    this.history.shift();
    this.candidateHz.shift();
    this.voicedProb.shift();
    this.decided++;
    return frame;
  }
}
