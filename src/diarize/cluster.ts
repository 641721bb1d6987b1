// Clustering of window embeddings into a given number of speakers (the count for 'auto' is chosen in
// consensus.ts). Seeds come from an agglomerative tree (ml-hclust, average linkage on cosine distance),
// then k-means on the sphere refines them; k-means++ restarts compete with the tree's start and the
// tightest partition wins. The tree depends only on the embeddings, so it can be built once and cut
// for several counts.
import { agnes, type Cluster } from 'ml-hclust';
import { seededRandom } from '../dsp/random.js';

export interface ClusterOptions {
  /** Number of speakers. */
  speakers: number;
  /** A tree group needs this share of the windows to seed a speaker. Default 0.05. */
  minShare?: number;
}

/**
 * Centroids closer than this (cosine) are taken for one voice: measured on single-speaker files
 * forced into 2–3 clusters (0.81–0.94) against real speaker pairs (≤ 0.77, two men of VCTK).
 */
export const SAME_SPEAKER_COSINE = 0.8;

/** Largest cosine between two different centroids (−1 with fewer than two). */
export function closestCentroidCosine(embeddings: readonly Float32Array[], labels: Int32Array, count: number): { cosine: number; a: number; b: number } {
  const c = centroids(embeddings, labels, count);
  let best = { cosine: -1, a: -1, b: -1 };
  for (let a = 0; a < count; a++) for (let b = a + 1; b < count; b++) if (dot(c[a]!, c[b]!) > best.cosine) best = { cosine: dot(c[a]!, c[b]!), a, b };
  return best;
}

export function cosineDistanceMatrix(embeddings: readonly Float32Array[]): number[][] {
  const n = embeddings.length;
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = embeddings[i]!;
      const b = embeddings[j]!;
      let dot = 0;
      for (let k = 0; k < a.length; k++) dot += a[k]! * b[k]!;
      matrix[i]![j] = matrix[j]![i] = 1 - dot;
    }
  }
  return matrix;
}

/**
 * Cluster label per embedding, 0..k-1, numbered by first appearance. The dendrogram gives the
 * groups; average linkage keeps stray windows (a laugh, a breath, two voices at once) as tiny
 * groups of their own, so only groups holding at least `minShare` of the windows become speakers,
 * and every window then goes to the nearest speaker centroid (a few k-means steps on the sphere).
 */
export function clusterEmbeddings(embeddings: readonly Float32Array[], options: ClusterOptions, tree: Cluster = speakerTree(embeddings)): Int32Array {
  const n = embeddings.length;
  if (n <= 1) return new Int32Array(n);
  const { speakers } = options;
  if (speakers <= 1) return new Int32Array(n);
  const minSize = Math.max(2, Math.ceil((options.minShare ?? 0.05) * n));
  const members = (g: Cluster): number[] => (g.isLeaf ? [g.index] : g.indices());
  let seeds: number[][] = [];
  {
    // The smallest cut of the tree that holds `speakers` large groups.
    const wanted = Math.min(speakers, n);
    for (let k = wanted; k <= Math.min(n, wanted * 8); k++) {
      seeds = tree.group(k).children.map(members).filter((m) => m.length >= minSize);
      if (seeds.length >= wanted) break;
    }
    seeds = seeds.sort((a, b) => b.length - a.length).slice(0, wanted);
  }
  if (seeds.length <= 1) return new Int32Array(n);
  // The tree's groups are one start; k-means++ starts are others; the tightest result wins.
  let best = refineOnSphere(embeddings, seeds);
  let bestScore = cohesion(embeddings, best, seeds.length);
  const random = seededRandom(seeds.length * 7919 + n);
  for (let restart = 0; restart < RESTARTS; restart++) {
    const labels = refineOnSphere(embeddings, kMeansPlusPlusSeeds(embeddings, seeds.length, random));
    const score = cohesion(embeddings, labels, seeds.length);
    if (score > bestScore + 1e-9) {
      best = labels;
      bestScore = score;
    }
  }
  return renumberByFirstAppearance(best);
}

/** The average-linkage tree over cosine distances that clusterEmbeddings cuts (n ≥ 2 embeddings). */
export function speakerTree(embeddings: readonly Float32Array[]): Cluster {
  return agnes(cosineDistanceMatrix(embeddings), { method: 'average', isDistanceMatrix: true });
}

const RESTARTS = 8;

/** Most windows the spectral members of a consensus take (their eigen-decomposition is O(n³)). */
export const SPECTRAL_MAX_WINDOWS = 400;

/**
 * Consensus of several clusterings of the same windows into `count` speakers: the distance between two
 * windows is the share of clusterings that separate them, and an average-linkage tree (ml-hclust) cut
 * into `count` groups gives the labels. Each clustering on its own sometimes splits one voice by what is
 * said and merges two others; they rarely all make the same mistake (docs/say-diarize.md).
 */
export function consensusLabels(runs: readonly Int32Array[], count: number): Int32Array {
  const n = runs[0]?.length ?? 0;
  if (n <= 1 || count <= 1) return new Int32Array(n);
  const distance = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let apart = 0;
      for (const r of runs) if (r[i] !== r[j]) apart++;
      distance[i]![j] = distance[j]![i] = apart / runs.length;
    }
  }
  const tree = agnes(distance, { method: 'average', isDistanceMatrix: true });
  const labels = new Int32Array(n);
  tree.group(Math.min(count, n)).children.forEach((g, k) => (g.isLeaf ? [g.index] : g.indices()).forEach((i) => (labels[i] = k)));
  return renumberByFirstAppearance(labels);
}

/** k-means on the sphere with k-means++ restarts; the tightest result wins. */
export function kMeans(points: readonly Float32Array[], count: number): Int32Array {
  const random = seededRandom(count * 7919 + points.length);
  let best: Int32Array | undefined;
  let bestScore = -Infinity;
  for (let restart = 0; restart < RESTARTS; restart++) {
    const labels = refineOnSphere(points, kMeansPlusPlusSeeds(points, count, random));
    const score = cohesion(points, labels, count);
    if (score > bestScore) {
      best = labels;
      bestScore = score;
    }
  }
  return best!;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += a[k]! * b[k]!;
  return sum;
}

/** Unit-length centroid of each label's embeddings. */
export function centroids(embeddings: readonly Float32Array[], labels: Int32Array, count: number): Float64Array[] {
  const dim = embeddings[0]?.length ?? 0;
  const out = Array.from({ length: count }, () => new Float64Array(dim));
  embeddings.forEach((e, i) => {
    if (labels[i]! < 0) return;
    const c = out[labels[i]!]!;
    for (let k = 0; k < dim; k++) c[k] += e[k]!;
  });
  for (const c of out) {
    const norm = Math.sqrt(dot(c, c)) || 1;
    for (let k = 0; k < dim; k++) c[k] /= norm;
  }
  return out;
}

/** Sum over embeddings of the cosine to their centroid (higher = tighter clusters). */
function cohesion(embeddings: readonly Float32Array[], labels: Int32Array, count: number): number {
  const c = centroids(embeddings, labels, count);
  return embeddings.reduce((sum, e, i) => sum + dot(e, c[labels[i]!]!), 0);
}

/** k-means++ starting groups: each next seed drawn with probability ∝ its distance² to the seeds so far. */
function kMeansPlusPlusSeeds(embeddings: readonly Float32Array[], count: number, random: () => number): number[][] {
  const chosen = [Math.floor(random() * embeddings.length)];
  const distance = embeddings.map((e) => Math.max(0, 1 - dot(e, embeddings[chosen[0]!]!)) ** 2);
  while (chosen.length < count) {
    const total = distance.reduce((a, b) => a + b, 0);
    let r = random() * total;
    let pick = 0;
    for (; pick < embeddings.length - 1; pick++) {
      r -= distance[pick]!;
      if (r <= 0) break;
    }
    chosen.push(pick);
    embeddings.forEach((e, i) => (distance[i] = Math.min(distance[i]!, Math.max(0, 1 - dot(e, embeddings[pick]!)) ** 2)));
  }
  return chosen.map((i) => [i]);
}

/** Assigns each embedding to the nearest centroid (cosine), re-estimating centroids a few times. */
function refineOnSphere(embeddings: readonly Float32Array[], seeds: number[][], iterations = 10): Int32Array {
  let labels = new Int32Array(embeddings.length).fill(-1);
  seeds.forEach((m, label) => m.forEach((i) => (labels[i] = label)));
  for (let iteration = 0; iteration < iterations; iteration++) {
    const c = centroids(embeddings, labels, seeds.length);
    const next = Int32Array.from(embeddings, (e) => {
      let best = 0;
      for (let label = 1; label < c.length; label++) if (dot(e, c[label]!) > dot(e, c[best]!)) best = label;
      return best;
    });
    const changed = next.some((l, i) => l !== labels[i]);
    labels = next;
    if (!changed) break;
  }
  return labels;
}

export function renumberByFirstAppearance(labels: Int32Array): Int32Array {
  const map = new Map<number, number>();
  const out = new Int32Array(labels.length);
  labels.forEach((l, i) => {
    if (!map.has(l)) map.set(l, map.size);
    out[i] = map.get(l)!;
  });
  return out;
}
