// Voicing decisions per method, from the evidence interpolated at each output frame.
// Thresholds were tuned on synthetic references and the consensus reference (see
// test/f0-accuracy.test.ts and the report); they are constants so streaming stays stateless.
import type { F0Choice } from './types.js';

export interface FrameEvidence {
  method: F0Choice;
  f0Hz: number;
  confidence: number;
  aperiodicity?: number;
  rmsDb?: number;
  /** Frame level relative to the recent loudest level (causal peak hold), dB ≤ 0. */
  relativeDb?: number;
  /** Level at the frame centre relative to its ±16 ms window, dB (yin.ts centreDropDb). */
  centreDropDb?: number;
  dspF0Hz?: number;
  /** The pitch source's own voicing decision (dsp: pYIN-style tracker). */
  trackerVoiced?: boolean;
}

export const VOICING = {
  swiftConfidence: 0.9,
  crepeConfidence: 0.5,
  /** RVC's RMVPE threshold: voiced where the peak activation exceeds 0.03. */
  importedConfidence: 0.03,
  dspAperiodicity: 0.2,
  dspMinRmsDb: -60,
  hybridSwiftConfidence: 0.9,
  hybridAperiodicity: 0.2,
  hybridMinRmsDb: -60,
  /** Frames more than this far below the recent peak level are unvoiced (reverb tails, breaths). */
  hybridMinRelativeDb: -30,
  /**
   * Frames whose centre is more than this far below their ±16 ms window are unvoiced: the voice starts or
   * stops inside the frame, its centre lies outside the note (hybrid, crepe-hybrid, dsp). Chosen on half A of
   * bench f0truth (−9/−6/−4 dB tried): hybrid's voicing false alarms, almost all on frames next to a note's
   * first or last frame, fell from 4.5 / 4.1 % to 2.2 / 1.7 % (singing / speech) with voicing recall
   * 99.6 → 99.5 % and 98.5 → 98.5 %; dsp's from 6.0 / 5.2 % to 3.0 / 2.4 %. On vocadito_1's expert annotation
   * false alarms and recall moved by ≤ 0.2 %.
   */
  minCentreDropDb: -6,
  /** Peak-hold decay of the level tracker, dB per second. */
  peakDecayDbPerSecond: 3,
};

export function decideVoicing(e: FrameEvidence, fMinHz: number, fMaxHz: number): { voiced: boolean; confidence: number } {
  const inRange = e.f0Hz >= fMinHz && e.f0Hz <= fMaxHz;
  switch (e.method) {
    case 'swift':
      return { voiced: inRange && e.confidence >= VOICING.swiftConfidence, confidence: e.confidence };
    case 'crepe':
      return { voiced: inRange && e.confidence >= VOICING.crepeConfidence, confidence: e.confidence };
    case 'rmvpe':
    case 'fcpe':
      // imported networks decide with their own threshold (imported.ts: RMVPE 0.03, FCPE 0.006 / 0.05)
      return { voiced: inRange && (e.trackerVoiced ?? e.confidence > VOICING.importedConfidence), confidence: e.confidence };
    case 'dsp': {
      // the tracker's HMM keeps weakly periodic tails voiced; YIN's own dip must also be clear
      const periodic = (e.trackerVoiced ?? true) && (e.aperiodicity ?? 1) < VOICING.dspAperiodicity;
      const voiced =
        inRange &&
        periodic &&
        (e.rmsDb ?? -120) > VOICING.dspMinRmsDb &&
        (e.relativeDb ?? 0) > VOICING.hybridMinRelativeDb &&
        (e.centreDropDb ?? 0) > VOICING.minCentreDropDb;
      return { voiced, confidence: e.confidence };
    }
    case 'hybrid':
    case 'crepe-hybrid': {
      const ap = e.aperiodicity ?? 1;
      const voiced =
        inRange &&
        e.confidence >= (e.method === 'hybrid' ? VOICING.hybridSwiftConfidence : VOICING.crepeConfidence) &&
        ap < VOICING.hybridAperiodicity &&
        (e.rmsDb ?? -120) > VOICING.hybridMinRmsDb &&
        (e.relativeDb ?? 0) > VOICING.hybridMinRelativeDb &&
        (e.centreDropDb ?? 0) > VOICING.minCentreDropDb;
      const periodic = Math.min(1, Math.max(0, 1 - ap));
      return { voiced, confidence: Math.min(e.confidence, periodic) };
    }
  }
}
