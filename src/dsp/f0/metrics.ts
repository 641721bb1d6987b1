// mir_eval-style melody metrics on two tracks sampled at the same frame times (resample first with
// `resampleTrack` when grids differ). Reference voicing is binary; the estimate contributes its
// voicing flags and its raw pitch (its best guess even where it says unvoiced), as mir_eval does
// with negative frequencies for unvoiced guesses.

export interface PitchMetrics {
  /** Fraction of reference-voiced frames whose estimate is within `toleranceCents`. */
  rawPitchAccuracy: number;
  /** Same, ignoring octave errors (cents folded into ±600). */
  rawChromaAccuracy: number;
  /** Fraction of reference-voiced frames the estimate calls voiced. */
  voicingRecall: number;
  /** Fraction of reference-unvoiced frames the estimate calls voiced. */
  voicingFalseAlarm: number;
  /** Fraction of all frames right: unvoiced both, or voiced both and pitch within tolerance. */
  overallAccuracy: number;
  /** Reference-voiced frames whose estimate is 1200 ± 50 cents (or more octaves) off. */
  octaveErrors: number;
  voicedFrames: number;
  unvoicedFrames: number;
}

export interface TrackLike {
  f0Hz: ArrayLike<number>;
  voiced: ArrayLike<number>;
  /** Estimate even where unvoiced; defaults to f0Hz. */
  rawF0Hz?: ArrayLike<number>;
}

/**
 * Compares estimate to reference frame by frame (same length required; extra frames are ignored).
 * Frames where `mask` is 0 are skipped (e.g. where a consensus reference is undecided).
 */
export function pitchMetrics(reference: TrackLike, estimate: TrackLike, options: { toleranceCents?: number; mask?: ArrayLike<number> } = {}): PitchMetrics {
  const tol = options.toleranceCents ?? 50;
  const n = Math.min(reference.f0Hz.length, estimate.f0Hz.length);
  const raw = estimate.rawF0Hz ?? estimate.f0Hz;
  let voicedFrames = 0;
  let unvoicedFrames = 0;
  let pitchHits = 0;
  let chromaHits = 0;
  let recall = 0;
  let falseAlarm = 0;
  let overall = 0;
  let octave = 0;
  for (let i = 0; i < n; i++) {
    if (options.mask && !options.mask[i]) continue;
    const refVoiced = reference.voiced[i]! > 0 && reference.f0Hz[i]! > 0;
    const estVoiced = estimate.voiced[i]! > 0;
    if (refVoiced) {
      voicedFrames++;
      const est = raw[i]!;
      let hit = false;
      if (est > 0) {
        const cents = 1200 * Math.log2(est / reference.f0Hz[i]!);
        hit = Math.abs(cents) <= tol;
        if (hit) pitchHits++;
        const folded = cents - 1200 * Math.round(cents / 1200);
        if (Math.abs(folded) <= tol) chromaHits++;
        if (!hit && Math.abs(folded) <= tol) octave++;
      }
      if (estVoiced) recall++;
      if (estVoiced && hit) overall++;
    } else {
      unvoicedFrames++;
      if (estVoiced) falseAlarm++;
      else overall++;
    }
  }
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 0);
  return {
    rawPitchAccuracy: ratio(pitchHits, voicedFrames),
    rawChromaAccuracy: ratio(chromaHits, voicedFrames),
    voicingRecall: ratio(recall, voicedFrames),
    voicingFalseAlarm: ratio(falseAlarm, unvoicedFrames),
    overallAccuracy: ratio(overall, voicedFrames + unvoicedFrames),
    octaveErrors: octave,
    voicedFrames,
    unvoicedFrames,
  };
}

/** One line for logs: `RPA 98.1% RCA 98.4% VR 95.0% VFA 3.2% OA 96.0% (n=1200/800)`. */
export function formatMetrics(m: PitchMetrics): string {
  const p = (x: number) => `${(100 * x).toFixed(1)}%`;
  return `RPA ${p(m.rawPitchAccuracy)} RCA ${p(m.rawChromaAccuracy)} VR ${p(m.voicingRecall)} VFA ${p(m.voicingFalseAlarm)} OA ${p(m.overallAccuracy)} oct ${m.octaveErrors} (voiced ${m.voicedFrames}, unvoiced ${m.unvoicedFrames})`;
}
