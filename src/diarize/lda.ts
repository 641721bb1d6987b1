// Linear discriminant analysis for speaker embeddings: finds the projection W that maximises
// between-speaker scatter relative to within-speaker scatter (generalised eigenproblem
// Sb v = λ Sw v, solved as a symmetric one after whitening Sw), keeping the `outputDim` leading
// directions. Input: labelled vectors [n][d]; output: W [outputDim][d] and the mean [d].
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { SvcError } from '../errors.js';
import type { SpeakerProjection } from './embedding.js';

export function trainLda(vectors: readonly Float32Array[], labels: readonly string[], outputDim: number): SpeakerProjection {
  const n = vectors.length;
  const d = vectors[0]?.length ?? 0;
  const classes = [...new Set(labels)];
  if (n !== labels.length || classes.length < 2) throw new SvcError('INVALID_ARGUMENT', `LDA needs vectors of at least 2 speakers with one label each, got ${n} vectors, ${labels.length} labels, ${classes.length} speakers`);
  const dims = Math.min(outputDim, classes.length - 1, d);
  const mean = new Float64Array(d);
  for (const v of vectors) for (let i = 0; i < d; i++) mean[i] += v[i]! / n;
  const sw = Matrix.zeros(d, d);
  const sb = Matrix.zeros(d, d);
  for (const c of classes) {
    const members = vectors.filter((_, i) => labels[i] === c);
    const m = new Float64Array(d);
    for (const v of members) for (let i = 0; i < d; i++) m[i] += v[i]! / members.length;
    // Each speaker weighs the same in Sb and Sw whatever its number of windows.
    for (const v of members) {
      for (let i = 0; i < d; i++) {
        const di = v[i]! - m[i]!;
        for (let j = 0; j < d; j++) sw.set(i, j, sw.get(i, j) + (di * (v[j]! - m[j]!)) / members.length);
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) sb.set(i, j, sb.get(i, j) + (m[i]! - mean[i]!) * (m[j]! - mean[j]!));
  }
  // Regularise Sw (a few windows per speaker leave it nearly singular in some directions).
  const trace = sw.trace();
  for (let i = 0; i < d; i++) sw.set(i, i, sw.get(i, i) + (1e-3 * trace) / d);
  const swEig = new EigenvalueDecomposition(sw, { assumeSymmetric: true });
  const values = swEig.realEigenvalues;
  const inverseRoot = Matrix.zeros(d, d);
  for (let k = 0; k < d; k++) {
    const scale = 1 / Math.sqrt(Math.max(values[k]!, 1e-12));
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) inverseRoot.set(i, j, inverseRoot.get(i, j) + swEig.eigenvectorMatrix.get(i, k) * scale * swEig.eigenvectorMatrix.get(j, k));
  }
  const whitenedSb = inverseRoot.mmul(sb).mmul(inverseRoot);
  const sbEig = new EigenvalueDecomposition(whitenedSb, { assumeSymmetric: true });
  const order = sbEig.realEigenvalues.map((v, k) => [v, k] as const).sort((a, b) => b[0] - a[0]);
  const weights: number[][] = [];
  for (let o = 0; o < dims; o++) {
    const k = order[o]![1];
    const direction = inverseRoot.mmul(sbEig.eigenvectorMatrix.getColumnVector(k)).to1DArray();
    weights.push(direction);
  }
  return { inputDim: d, outputDim: dims, mean: [...mean], weights };
}
