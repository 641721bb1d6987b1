// RVC feature retrieval speed: one 100 ms block (5 content rows at 50 Hz) searched in a 100k-vector
// IVF-Flat index shaped as RVC's WebUI builds one (nlist = min(16·√N, N/39) = 2564, nprobe 1, k = 8), then
// blended with RVC's weights: v2 (768-d) and v1 (256-d), with the coarse search on onnxruntime's MatMul
// (what the runtime uses, src/voices/retrieval/indexSearch.ts) and in plain JavaScript side by side. Target:
// ≤ 10 ms per block on one core. The index is synthetic (clustered Gaussian vectors, each stored in its
// centre's list), built in memory: a search's cost depends on the index's shape, not on where the
// vectors came from; faiss-file parity is test/rvc.test.ts's.
import { blendWithIndex, type IvfFlatIndex } from '../src/voices/retrieval/faissIndex.js';
import { IndexSearcher } from '../src/voices/retrieval/indexSearch.js';
import type { BenchContext, BenchRow } from './lib.js';

function lcg(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

/** An IVF-Flat index of n clustered vectors: centroids ~ N(0,1)-ish, members = centroid + 0.5 noise. */
export function syntheticIndex(n: number, dim: number, seed = 1): IvfFlatIndex {
  const nlist = Math.max(1, Math.min(Math.floor(16 * Math.sqrt(n)), Math.floor(n / 39)));
  const rand = lcg(seed);
  const gauss = (): number => (rand() + rand() + rand() - 1.5) * 2;
  const centroids = new Float32Array(nlist * dim);
  for (let i = 0; i < centroids.length; i++) centroids[i] = gauss();
  const sizes = new Int32Array(nlist);
  const owner = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    owner[v] = Math.floor(rand() * nlist);
    sizes[owner[v]!]!++;
  }
  const listStart = new Int32Array(nlist + 1);
  for (let l = 0; l < nlist; l++) listStart[l + 1] = listStart[l]! + sizes[l]!;
  const fill = listStart.slice(0, nlist);
  const vectors = new Float32Array(n * dim);
  const ids = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    const l = owner[v]!;
    const row = fill[l]!++;
    ids[row] = v;
    for (let i = 0; i < dim; i++) vectors[row * dim + i] = centroids[l * dim + i]! + 0.5 * gauss();
  }
  const centroidNorms = new Float32Array(nlist);
  for (let l = 0; l < nlist; l++) {
    let s = 0;
    for (let i = 0; i < dim; i++) s += centroids[l * dim + i]! ** 2;
    centroidNorms[l] = s;
  }
  return { dim, ntotal: n, nlist, nprobe: 1, centroids, centroidNorms, vectors, listStart, ids };
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const n = ctx.quick ? 20000 : 100000;
  for (const dim of [768, 256]) {
    ctx.log(`rvc: building a ${n} x ${dim} IVF index`);
    const index = syntheticIndex(n, dim);
    const searcher = await IndexSearcher.create(index);
    const rand = lcg(7);
    const block = new Float32Array(5 * dim);
    for (let i = 0; i < block.length; i++) block[i] = (rand() - 0.5) * 3;
    const label = `${dim === 768 ? 'v2' : 'v1'} ${dim}-d, ${n / 1000}k vectors, IVF${index.nlist} nprobe 1, k 8`;
    try {
      const before = process.cpuUsage();
      const ort = await ctx.timeIt(() => searcher.blend(Float32Array.from(block), 0.75), { minMs: 1000, minRuns: 20 });
      const used = process.cpuUsage(before);
      rows.push({ group: 'rvc', name: `index retrieval per 100 ms block (onnxruntime coarse search), ${dim === 768 ? 'v2' : 'v1'}`, value: ort.medianMs, unit: 'ms', note: `${label}; p90 ${ort.p90Ms.toFixed(2)} ms; 1 thread` });
      // Process CPU time per run (warm-up included): what the search costs a core, even when the machine is shared.
      rows.push({ group: 'rvc', name: `  CPU time per block, ${dim === 768 ? 'v2' : 'v1'}`, value: (used.user + used.system) / 1000 / (ort.runs + 1), unit: 'ms', note: 'process user+system time / runs' });
      const js = await ctx.timeIt(() => blendWithIndex(index, Float32Array.from(block), 0.75), { minMs: 1000, minRuns: 10 });
      rows.push({ group: 'rvc', name: `index retrieval per 100 ms block (plain JS), ${dim === 768 ? 'v2' : 'v1'}`, value: js.medianMs, unit: 'ms', note: `${label}; p90 ${js.p90Ms.toFixed(2)} ms` });
    } finally {
      await searcher.dispose();
    }
  }
  return rows;
}
