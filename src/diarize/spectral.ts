// Spectral clustering of window embeddings (as in Park et al., "Auto-tuning spectral clustering
// for speaker diarization", 2019): cosine affinities, each row pruned to its strongest `keepShare`
// neighbours and symmetrised, the normalised graph Laplacian's leading eigenvectors as new
// coordinates, then k-means there. With 'auto' the speaker count is the largest gap between
// consecutive Laplacian eigenvalues. Input [n][d] unit vectors; output labels [n].
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface SpectralOptions {
  speakers: number | 'auto';
  maxSpeakers: number;
  /** Share of each row's affinities kept (the rest set to 0). Default 0.25. */
  keepShare?: number;
  /** Only estimate the count (no k-means). */
  countOnly?: boolean;
}

export interface SpectralResult {
  labels: Int32Array;
  count: number;
  /** The smallest Laplacian eigenvalues, ascending (for diagnostics). */
  eigenvalues: number[];
}

export function spectralCluster(embeddings: readonly Float32Array[], options: SpectralOptions, kmeans: (points: Float32Array[], k: number) => Int32Array): SpectralResult {
  const n = embeddings.length;
  const keep = Math.max(2, Math.round((options.keepShare ?? 0.25) * n));
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
  const maxK = Math.min(options.maxSpeakers, n - 1);
  const eigenvalues = order.slice(0, maxK + 1).map(([v]) => v);
  let count: number;
  if (options.speakers === 'auto') {
    count = 1;
    let bestGap = -Infinity;
    for (let k = 1; k <= maxK; k++) {
      const gap = eigenvalues[k]! - eigenvalues[k - 1]!;
      if (gap > bestGap) {
        bestGap = gap;
        count = k;
      }
    }
  } else {
    count = Math.min(options.speakers, n);
  }
  if (count <= 1 || options.countOnly) return { labels: new Int32Array(n), count, eigenvalues };
  const points = Array.from({ length: n }, (_, i) => {
    const p = new Float32Array(count);
    for (let c = 0; c < count; c++) p[c] = eig.eigenvectorMatrix.get(i, order[c]![1]);
    let norm = 0;
    for (const x of p) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let c = 0; c < count; c++) p[c] /= norm;
    return p;
  });
  return { labels: kmeans(points, count), count, eigenvalues };
}
