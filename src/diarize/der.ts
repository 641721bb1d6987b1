// Diarization error rate as NIST md-eval / dscore define it: on a fine time grid, with speakers of
// the hypothesis mapped one-to-one onto reference speakers so that their overlap is largest,
//   DER = (missed speech + false alarm + speaker confusion) / total reference speech,
// where per instant missed = max(0, Nref − Nhyp), false alarm = max(0, Nhyp − Nref) and
// confusion = min(Nref, Nhyp) − Ncorrect (overlapped speech counts once per speaker). A collar of
// `collarSeconds` on each side of every reference turn boundary is not scored.
import type { SpeakerTurn } from './rttm.js';

export interface DerResult {
  der: number;
  missedSeconds: number;
  falseAlarmSeconds: number;
  confusionSeconds: number;
  /** Scored reference speech (per speaker, outside the collars). */
  referenceSeconds: number;
  /** Hypothesis speaker → reference speaker. */
  mapping: Map<string, string>;
}

const STEP_SECONDS = 0.01;

function activity(turns: readonly SpeakerTurn[], speakers: string[], steps: number): Uint8Array[] {
  return speakers.map((s) => {
    const on = new Uint8Array(steps);
    for (const t of turns) {
      if (t.speaker !== s) continue;
      const a = Math.max(0, Math.round(t.startSeconds / STEP_SECONDS));
      const b = Math.min(steps, Math.round(t.endSeconds / STEP_SECONDS));
      on.fill(1, a, b);
    }
    return on;
  });
}

/** Best one-to-one assignment maximising total overlap (exact, bitmask DP over reference speakers). */
function bestMapping(overlap: number[][], hypCount: number, refCount: number): Int32Array {
  // dp over hypothesis speakers in order, state = set of reference speakers already used.
  const states = 1 << refCount;
  let best = new Float64Array(states).fill(-1);
  best[0] = 0;
  const choice: Int32Array[] = [];
  for (let h = 0; h < hypCount; h++) {
    const next = new Float64Array(states).fill(-1);
    const pick = new Int32Array(states).fill(-2);
    for (let mask = 0; mask < states; mask++) {
      if (best[mask]! < 0) continue;
      if (best[mask]! > next[mask]!) {
        next[mask] = best[mask]!;
        pick[mask] = -1;
      }
      for (let r = 0; r < refCount; r++) {
        if (mask & (1 << r)) continue;
        const m = mask | (1 << r);
        const v = best[mask]! + overlap[h]![r]!;
        if (v > next[m]!) {
          next[m] = v;
          pick[m] = r;
        }
      }
    }
    choice.push(pick);
    best = next;
  }
  let mask = 0;
  for (let m = 1; m < states; m++) if (best[m]! > best[mask]!) mask = m;
  const mapping = new Int32Array(hypCount).fill(-1);
  for (let h = hypCount - 1; h >= 0; h--) {
    const r = choice[h]![mask]!;
    mapping[h] = r;
    if (r >= 0) mask &= ~(1 << r);
  }
  return mapping;
}

export function diarizationErrorRate(reference: readonly SpeakerTurn[], hypothesis: readonly SpeakerTurn[], collarSeconds = 0.25): DerResult {
  const end = Math.max(0, ...reference.map((t) => t.endSeconds), ...hypothesis.map((t) => t.endSeconds));
  const steps = Math.ceil(end / STEP_SECONDS) + 1;
  const refSpeakers = [...new Set(reference.map((t) => t.speaker))];
  const hypSpeakers = [...new Set(hypothesis.map((t) => t.speaker))];
  const ref = activity(reference, refSpeakers, steps);
  const hyp = activity(hypothesis, hypSpeakers, steps);
  const scored = new Uint8Array(steps).fill(1);
  const collar = Math.round(collarSeconds / STEP_SECONDS);
  for (const t of reference) {
    for (const boundary of [t.startSeconds, t.endSeconds]) {
      const c = Math.round(boundary / STEP_SECONDS);
      scored.fill(0, Math.max(0, c - collar), Math.min(steps, c + collar));
    }
  }
  const overlap = hypSpeakers.map((_, h) => refSpeakers.map((_, r) => {
    let n = 0;
    for (let i = 0; i < steps; i++) if (scored[i] && hyp[h]![i] && ref[r]![i]) n++;
    return n;
  }));
  const mapping = bestMapping(overlap, hypSpeakers.length, refSpeakers.length);
  let missed = 0;
  let falseAlarm = 0;
  let confusion = 0;
  let total = 0;
  for (let i = 0; i < steps; i++) {
    if (!scored[i]) continue;
    let nRef = 0;
    let nHyp = 0;
    let correct = 0;
    for (let r = 0; r < refSpeakers.length; r++) nRef += ref[r]![i]!;
    for (let h = 0; h < hypSpeakers.length; h++) {
      if (!hyp[h]![i]) continue;
      nHyp++;
      const r = mapping[h]!;
      if (r >= 0 && ref[r]![i]) correct++;
    }
    total += nRef;
    missed += Math.max(0, nRef - nHyp);
    falseAlarm += Math.max(0, nHyp - nRef);
    confusion += Math.min(nRef, nHyp) - correct;
  }
  const names = new Map<string, string>();
  hypSpeakers.forEach((h, i) => {
    if (mapping[i]! >= 0) names.set(h, refSpeakers[mapping[i]!]!);
  });
  return {
    der: total > 0 ? (missed + falseAlarm + confusion) / total : 0,
    missedSeconds: missed * STEP_SECONDS,
    falseAlarmSeconds: falseAlarm * STEP_SECONDS,
    confusionSeconds: confusion * STEP_SECONDS,
    referenceSeconds: total * STEP_SECONDS,
    mapping: names,
  };
}
