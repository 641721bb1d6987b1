// Resegmentation of the windows once the speakers are known: each speaker becomes a Gaussian over its
// windows' LDA embeddings (projected, before length normalisation) with one covariance shared by all
// speakers of this recording (the within-speaker spread here: this room, these words), and a Viterbi
// pass over the windows in time order relabels them, with a cost for changing speaker between
// neighbouring windows of one speech region (an HMM resegmentation, as diarization systems run after
// clustering; a light form of VBx's). Repeated a few times, models then labels. Where the clustering
// split two similar voices along the wrong line, the recording's own within-speaker covariance weights
// the directions that separate exactly these speakers, which the LDA trained on other voices cannot.
// Shapes: embeddings [window][dim], labels Int32Array [window] in 0..count-1.
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import type { SpeakerWindow } from './embedding.js';

export interface ResegmentOptions {
  /** Hop between windows, frames (they overlap, so one window's evidence is shared with its neighbours). */
  hopFrames: number;
  windowFrames: number;
  /** Mean turn length assumed by the change cost, seconds. */
  meanTurnSeconds: number;
  frameSeconds: number;
  iterations: number;
}

export function resegmentWindows(windows: readonly SpeakerWindow[], embeddings: readonly Float32Array[], labels: Int32Array, count: number, options: ResegmentOptions): Int32Array {
  const n = embeddings.length;
  const dim = embeddings[0]?.length ?? 0;
  if (count <= 1 || n <= count * 2) return labels;
  let current = labels;
  // Overlapping windows repeat the same frames: each window's log-likelihood counts hop/window of itself.
  const evidenceScale = Math.min(1, options.hopFrames / options.windowFrames);
  const hopSeconds = options.hopFrames * options.frameSeconds;
  const changeCost = -Math.log(Math.min(0.5, hopSeconds / options.meanTurnSeconds));
  const stayCost = -Math.log(1 - Math.min(0.5, hopSeconds / options.meanTurnSeconds));
  for (let iteration = 0; iteration < options.iterations; iteration++) {
    const sizes = new Float64Array(count);
    const means = Array.from({ length: count }, () => new Float64Array(dim));
    for (let i = 0; i < n; i++) {
      sizes[current[i]!]++;
      for (let k = 0; k < dim; k++) means[current[i]!]![k] += embeddings[i]![k]!;
    }
    if (sizes.some((s) => s < 2)) return current;
    for (let c = 0; c < count; c++) for (let k = 0; k < dim; k++) means[c]![k] /= sizes[c]!;
    const within = Matrix.zeros(dim, dim);
    for (let i = 0; i < n; i++) {
      const m = means[current[i]!]!;
      const e = embeddings[i]!;
      for (let a = 0; a < dim; a++) {
        const da = e[a]! - m[a]!;
        for (let b = a; b < dim; b++) within.set(a, b, within.get(a, b) + da * (e[b]! - m[b]!));
      }
    }
    // Shrink towards a scaled identity: ~n windows estimate dim² values.
    const shrink = Math.min(1, dim / Math.max(1, n - count));
    let trace = 0;
    for (let a = 0; a < dim; a++) trace += within.get(a, a) / (n - count);
    for (let a = 0; a < dim; a++) {
      for (let b = a; b < dim; b++) {
        const v = (1 - shrink) * (within.get(a, b) / (n - count)) + (a === b ? (shrink * trace) / dim : 0);
        within.set(a, b, v);
        within.set(b, a, v);
      }
    }
    const eig = new EigenvalueDecomposition(within, { assumeSymmetric: true });
    // Whitening W = Λ^-½ Vᵀ: Mahalanobis distances become Euclidean.
    const whiten = Array.from({ length: dim }, (_, o) => {
      const scale = 1 / Math.sqrt(Math.max(eig.realEigenvalues[o]!, 1e-9));
      return Float64Array.from({ length: dim }, (_, i) => eig.eigenvectorMatrix.get(i, o) * scale);
    });
    const apply = (x: ArrayLike<number>): Float64Array => Float64Array.from(whiten, (row) => {
      let s = 0;
      for (let i = 0; i < dim; i++) s += row[i]! * x[i]!;
      return s;
    });
    const whitenedMeans = means.map(apply);
    const logPrior = Array.from(sizes, (s) => Math.log(s / n));
    const score = embeddings.map((e) => {
      const x = apply(e);
      return whitenedMeans.map((m, c) => {
        let d = 0;
        for (let k = 0; k < dim; k++) d += (x[k]! - m[k]!) ** 2;
        return evidenceScale * -0.5 * d + logPrior[c]!;
      });
    });
    const next = viterbi(score, windows, count, changeCost, stayCost);
    const changed = next.some((l, i) => l !== current[i]);
    current = next;
    if (!changed) break;
  }
  return current;
}

/** Best label path; a change between windows that overlap in time costs `changeCost`, staying `stayCost`. */
function viterbi(score: number[][], windows: readonly SpeakerWindow[], count: number, changeCost: number, stayCost: number): Int32Array {
  const n = score.length;
  const back = Array.from({ length: n }, () => new Int32Array(count));
  let total = Float64Array.from(score[0]!);
  for (let i = 1; i < n; i++) {
    // Windows of different speech regions (a pause between them) may change speaker freely.
    const joined = windows[i]!.startFrame < windows[i - 1]!.endFrame;
    const change = joined ? changeCost : 0;
    const stay = joined ? stayCost : 0;
    const next = new Float64Array(count);
    for (let c = 0; c < count; c++) {
      let best = -Infinity;
      let from = 0;
      for (let p = 0; p < count; p++) {
        const v = total[p]! - (p === c ? stay : change);
        if (v > best) {
          best = v;
          from = p;
        }
      }
      next[c] = best + score[i]![c]!;
      back[i]![c] = from;
    }
    total = next;
  }
  const labels = new Int32Array(n);
  let last = 0;
  for (let c = 1; c < count; c++) if (total[c]! > total[last]!) last = c;
  for (let i = n - 1; i >= 0; i--) {
    labels[i] = last;
    last = back[i]![last]!;
  }
  return labels;
}

