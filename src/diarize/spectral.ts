// Spectral clustering of window embeddings (as in Park et al., "Auto-tuning spectral clustering
// for speaker diarization", 2019): cosine affinities, each row pruned to its strongest `keepShare`
// neighbours and symmetrised, the normalised graph Laplacian's leading eigenvectors as new
// coordinates, then k-means there. The decomposition is computed once per recording and cut into
// each candidate count. Input [n][d] unit vectors; output labels [n].
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

/** The leading eigenvectors of a recording's normalised graph Laplacian: computed once, cut into any count of speakers. */
export interface SpectralDecomposition {
  /** The smallest Laplacian eigenvalues, ascending (for diagnostics). */
  eigenvalues: number[];
  /** vectors[c][i]: window i's value on the c-th smallest eigenvector, for c < maxSpeakers. */
  vectors: Float64Array[];
}

/**
 * Laplacian eigenvectors of pruned cosine affinities, each row keeping its `keepShare` strongest
 * neighbours (the O(n³) part; labels for each count then cost a k-means only).
 */
export function spectralDecomposition(embeddings: readonly Float32Array[], keepShare: number, maxSpeakers: number): SpectralDecomposition {
  const n = embeddings.length;
  const keep = Math.max(2, Math.round(keepShare * n));
  const affinity = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    const row = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      const a = embeddings[i]!;
      const b = embeddings[j]!;
      for (let k = 0; k < a.length; k++) dot += a[k]! * b[k]!;
      row[j] = dot;
    }
    const cutoff = [...row].sort((x, y) => y - x)[Math.min(n - 1, keep - 1)]!;
    for (let j = 0; j < n; j++) if (row[j]! >= cutoff && row[j]! > 0) affinity.set(i, j, row[j]!);
  }
  // Symmetrise and build the normalised Laplacian I − D^−½ A D^−½.
  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      const v = (affinity.get(i, j) + affinity.get(j, i)) / 2;
      affinity.set(i, j, v);
      affinity.set(j, i, v);
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) degree[i] += affinity.get(i, j);
  const laplacian = new Matrix(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const norm = Math.sqrt(degree[i]! * degree[j]!) || 1;
      laplacian.set(i, j, (i === j ? 1 : 0) - affinity.get(i, j) / norm);
    }
  }
  const eig = new EigenvalueDecomposition(laplacian, { assumeSymmetric: true });
  const order = eig.realEigenvalues.map((v, k) => [v, k] as const).sort((a, b) => a[0] - b[0]);
  const top = order.slice(0, Math.min(maxSpeakers, n));
  return {
    eigenvalues: order.slice(0, Math.min(maxSpeakers + 1, n)).map(([v]) => v),
    vectors: top.map(([, column]) => Float64Array.from({ length: n }, (_, i) => eig.eigenvectorMatrix.get(i, column))),
  };
}

/** `count` speakers from a decomposition: k-means on the rows of its first `count` eigenvectors, each row at unit length. */
export function spectralLabelsFrom(decomposition: SpectralDecomposition, count: number, kmeans: (points: Float32Array[], k: number) => Int32Array): Int32Array {
  const n = decomposition.vectors[0]?.length ?? 0;
  const k = Math.min(count, decomposition.vectors.length);
  if (k <= 1) return new Int32Array(n);
  const points = Array.from({ length: n }, (_, i) => {
    const p = new Float32Array(k);
    for (let c = 0; c < k; c++) p[c] = decomposition.vectors[c]![i]!;
    let norm = 0;
    for (const x of p) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let c = 0; c < k; c++) p[c] /= norm;
    return p;
  });
  return kmeans(points, k);
}

