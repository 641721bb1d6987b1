// The feature-retrieval index of RVC and so-vits-svc 4.1: the faiss IndexIVFFlat (L2) that RVC's WebUI writes as
// logs/<name>/added_IVF<nlist>_Flat_nprobe_1_<name>_<v>.index, read as data, and the k-NN search
// with RVC's blend (infer/modules/vc/pipeline.py):
//   score, ix = index.search(feats, k=8); w = (1/score)^2 normalised per row;
//   feats = index_rate * sum_j w_j * vec[ix_j] + (1 - index_rate) * feats
// Binary layout (faiss/impl/index_write.cpp, little endian; size_t and idx_t are 8 bytes):
//   "IwFl" | header | nlist u64 | nprobe u64 | quantizer | direct map | inverted lists
//   header      = d i32, ntotal i64, dummy i64, dummy i64, is_trained u8, metric_type i32 [, metric_arg f32 if > 1]
//   quantizer   = "IxF2" | header | n u64 | n*4 bytes of float32 centroids (nlist x d)
//   direct map  = type u8 | n u64 | n x i64 [| n u64 | n x (i64,i64) if type == 2]
//   invlists    = "ilar" | nlist u64 | code_size u64 | "full" + (nlist u64 sizes) or "sprs" + (pairs list,size)
//                 then per non-empty list: size*code_size bytes of codes (float32 vectors), size x i64 ids
import { readFileSync } from 'node:fs';
import { SvcError } from '../../errors.js';

export interface IvfFlatIndex {
  dim: number;
  ntotal: number;
  nlist: number;
  /** Lists probed per query (RVC writes 1). */
  nprobe: number;
  /** nlist x dim centroids, row-major, and their squared norms. */
  centroids: Float32Array;
  centroidNorms: Float32Array;
  /** Vectors grouped by list: list l holds rows listStart[l] .. listStart[l+1]-1. */
  vectors: Float32Array;
  listStart: Int32Array;
  /** faiss id of each stored row (the row of RVC's big_npy = index.reconstruct_n). */
  ids: Int32Array;
}

class Reader {
  offset = 0;
  private view: DataView;
  constructor(private bytes: Uint8Array, private name: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) {
      throw new SvcError('FILE_TRUNCATED', `${this.name}: the faiss index ends inside ${what} (needs ${n} bytes at offset ${this.offset}, file has ${this.bytes.length})`, {
        hint: 'copy the .index file again',
      });
    }
  }
  fourcc(): string {
    this.need(4, 'a type tag');
    const s = String.fromCharCode(...this.bytes.subarray(this.offset, this.offset + 4));
    this.offset += 4;
    return s;
  }
  skip(n: number, what: string): void {
    this.need(n, what);
    this.offset += n;
  }
  u8(): number {
    this.need(1, 'a byte');
    return this.bytes[this.offset++]!;
  }
  i32(): number {
    this.need(4, 'an int32');
    const v = this.view.getInt32(this.offset, true);
    this.offset += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.view.getBigInt64(this.offset, true);
    this.offset += 8;
    if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new SvcError('MODEL_INVALID', `${this.name}: ${what} is ${v}, not a valid size`);
    return Number(v);
  }
  /** Copies n float32 values (the file offset need not be 4-aligned). */
  floats(n: number, what: string): Float32Array {
    this.need(n * 4, what);
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.offset, this.offset + n * 4));
    this.offset += n * 4;
    return out;
  }
  ids(n: number, what: string): BigInt64Array {
    this.need(n * 8, what);
    const out = new BigInt64Array(n);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.offset, this.offset + n * 8));
    this.offset += n * 8;
    return out;
  }
}

function invalid(name: string, what: string): never {
  throw new SvcError('MODEL_INVALID', `${name}: ${what}`, {
    hint: 'pass the added_IVF*_Flat*.index file RVC writes when it trains the index (IVF,Flat with L2 distance)',
  });
}

function readHeader(r: Reader, name: string): { dim: number; ntotal: number; metric: number } {
  const dim = r.i32();
  const ntotal = r.u64('ntotal');
  r.u64('a header field');
  r.u64('a header field');
  r.u8(); // is_trained
  const metric = r.i32();
  if (metric > 1) r.floats(1, 'metric_arg');
  if (dim <= 0 || dim > 65536) invalid(name, `vector dimension ${dim} is not plausible`);
  return { dim, ntotal, metric };
}

/** Parses a faiss IndexIVFFlat file (as RVC writes it). */
export function parseFaissIndex(bytes: Uint8Array, name = 'index'): IvfFlatIndex {
  const r = new Reader(bytes, name);
  const tag = r.fourcc();
  if (tag !== 'IwFl') {
    const known: Record<string, string> = { IwPQ: 'IVF-PQ', IwSq: 'IVF-SQ', IxF2: 'a flat index', IxFI: 'a flat inner-product index', IHNf: 'HNSW' };
    invalid(name, `faiss index type '${tag}'${known[tag] ? ` (${known[tag]})` : ''} is not supported; expected IVF-Flat ('IwFl')`);
  }
  const { dim, ntotal, metric } = readHeader(r, name);
  if (metric !== 1) invalid(name, `metric ${metric} is not L2 (1); RVC's index uses L2`);
  const nlist = r.u64('nlist');
  const nprobe = Math.max(1, r.u64('nprobe'));
  const qtag = r.fourcc();
  if (qtag !== 'IxF2') invalid(name, `coarse quantizer '${qtag}' is not a flat L2 index ('IxF2')`);
  const q = readHeader(r, name);
  if (q.dim !== dim || q.ntotal !== nlist) invalid(name, `quantizer has ${q.ntotal} x ${q.dim} centroids, expected ${nlist} x ${dim}`);
  const count = r.u64('centroid count');
  if (count !== nlist * dim) invalid(name, `quantizer stores ${count} floats, expected ${nlist * dim}`);
  const centroids = r.floats(count, 'centroids');
  const mapType = r.u8();
  const mapSize = r.u64('direct map size');
  r.skip(8 * mapSize, 'the direct map');
  if (mapType === 2) {
    const tableSize = r.u64('direct map hashtable size');
    r.skip(16 * tableSize, 'the direct map hashtable');
  }
  if (r.fourcc() !== 'ilar') invalid(name, 'inverted lists are not stored inline (ilar); on-disk lists are not supported');
  const ilNlist = r.u64('nlist');
  const codeSize = r.u64('code_size');
  if (ilNlist !== nlist || codeSize !== dim * 4) invalid(name, `inverted lists have nlist ${ilNlist}, code size ${codeSize}; expected ${nlist}, ${dim * 4}`);
  const sizes = new Array<number>(nlist).fill(0);
  const listType = r.fourcc();
  const n = r.u64('list size count');
  if (listType === 'full') {
    if (n !== nlist) invalid(name, `${n} list sizes for ${nlist} lists`);
    for (let l = 0; l < nlist; l++) sizes[l] = r.u64('list size');
  } else if (listType === 'sprs') {
    for (let i = 0; i < n; i += 2) {
      const list = r.u64('list number');
      if (list >= nlist) invalid(name, `list ${list} out of range`);
      sizes[list] = r.u64('list size');
    }
  } else invalid(name, `inverted list layout '${listType}' is unknown`);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total !== ntotal) invalid(name, `lists hold ${total} vectors, header says ${ntotal}`);
  const vectors = new Float32Array(total * dim);
  const ids = new Int32Array(total);
  const listStart = new Int32Array(nlist + 1);
  let row = 0;
  for (let l = 0; l < nlist; l++) {
    listStart[l] = row;
    const size = sizes[l]!;
    if (size === 0) continue;
    vectors.set(r.floats(size * dim, `list ${l}`), row * dim);
    const listIds = r.ids(size, `ids of list ${l}`);
    for (let i = 0; i < size; i++) ids[row + i] = Number(listIds[i]);
    row += size;
  }
  listStart[nlist] = row;
  const centroidNorms = new Float32Array(nlist);
  for (let l = 0; l < nlist; l++) centroidNorms[l] = dot(centroids, l * dim, centroids, l * dim, dim);
  return { dim, ntotal, nlist, nprobe, centroids, centroidNorms, vectors, listStart, ids };
}

export function readFaissIndex(path: string): IvfFlatIndex {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new SvcError('FILE_NOT_FOUND', `index not found: ${path}`, { hint: 'pass the .index file RVC wrote to logs/<name>/', cause: error });
  }
  if (bytes.length === 0) throw new SvcError('FILE_EMPTY', `index ${path} is empty (0 bytes)`);
  return parseFaissIndex(bytes, path);
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  // Four accumulators: the loop is the cost of a search (nlist x dim per query).
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!;
    s1 += a[ao + i + 1]! * b[bo + i + 1]!;
    s2 += a[ao + i + 2]! * b[bo + i + 2]!;
    s3 += a[ao + i + 3]! * b[bo + i + 3]!;
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!;
  return s0 + s1 + s2 + s3;
}

function squaredDistance(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const d0 = a[ao + i]! - b[bo + i]!;
    const d1 = a[ao + i + 1]! - b[bo + i + 1]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
  }
  if (i < n) {
    const d = a[ao + i]! - b[bo + i]!;
    s0 += d * d;
  }
  return s0 + s1;
}

export interface KnnResult {
  /** Stored-row numbers (into index.vectors), -1 where fewer than k were found. */
  rows: Int32Array;
  /** Squared L2 distances, Infinity where nothing was found (as faiss). */
  distances: Float32Array;
}

/**
 * The `nprobe` nearest lists of each of `n` queries (rows of dim floats): -1 where nlist < nprobe.
 * Ranks by ||c||^2 - 2 q.c (the query's norm does not change the order). The centroid table is the
 * cost of a search (nlist x dim, 7.9 MB for RVC's 100k-vector v2 index), so it is read once for all the
 * queries of a block, four queries per pass over each centroid.
 */
export function nearestLists(index: IvfFlatIndex, queries: Float32Array, n: number, nprobe = index.nprobe): Int32Array {
  const { dim, nlist, centroids, centroidNorms } = index;
  const probe = Math.min(nprobe, nlist);
  const lists = new Int32Array(n * probe).fill(-1);
  const scores = new Float64Array(n * probe).fill(Infinity);
  for (let q0 = 0; q0 < n; q0 += 4) {
    const count = Math.min(4, n - q0);
    const a = q0 * dim;
    const b = (q0 + Math.min(1, count - 1)) * dim;
    const c = (q0 + Math.min(2, count - 1)) * dim;
    const d = (q0 + Math.min(3, count - 1)) * dim;
    for (let l = 0; l < nlist; l++) {
      const o = l * dim;
      let sa = 0;
      let sb = 0;
      let sc = 0;
      let sd = 0;
      for (let i = 0; i < dim; i++) {
        const v = centroids[o + i]!;
        sa += v * queries[a + i]!;
        sb += v * queries[b + i]!;
        sc += v * queries[c + i]!;
        sd += v * queries[d + i]!;
      }
      const norm = centroidNorms[l]!;
      for (let k = 0; k < count; k++) {
        const score = norm - 2 * (k === 0 ? sa : k === 1 ? sb : k === 2 ? sc : sd);
        const base = (q0 + k) * probe;
        if (score < scores[base + probe - 1]!) insertSortedAt(scores, lists, base, probe, score, l);
      }
    }
  }
  return lists;
}

/** k nearest stored vectors of one query (dim floats at query[offset]) within the given lists. */
export function searchLists(index: IvfFlatIndex, lists: ArrayLike<number>, query: Float32Array, offset: number, k: number): KnnResult {
  const { dim } = index;
  const rows = new Int32Array(k).fill(-1);
  const scratch = new Float64Array(k).fill(Infinity);
  for (let p = 0; p < lists.length; p++) {
    const list = lists[p]!;
    if (list < 0) continue;
    for (let row = index.listStart[list]!; row < index.listStart[list + 1]!; row++) {
      const d = squaredDistance(index.vectors, row * dim, query, offset, dim);
      if (d < scratch[k - 1]!) insertSortedAt(scratch, rows, 0, k, d, row);
    }
  }
  return { rows, distances: Float32Array.from(scratch) };
}

/** k nearest stored vectors of one query (dim floats at query[offset]), probing index.nprobe lists. */
export function searchKnn(index: IvfFlatIndex, query: Float32Array, offset: number, k: number, nprobe = index.nprobe): KnnResult {
  const lists = nearestLists(index, query.subarray(offset, offset + index.dim), 1, nprobe);
  return searchLists(index, lists, query, offset, k);
}

/** Inserts (score, item) into the ascending run scores[base .. base+len). */
function insertSortedAt(scores: Float64Array, items: Int32Array, base: number, len: number, score: number, item: number): void {
  let j = base + len - 1;
  while (j > base && scores[j - 1]! > score) {
    scores[j] = scores[j - 1]!;
    items[j] = items[j - 1]!;
    j--;
  }
  scores[j] = score;
  items[j] = item;
}


/**
 * RVC's retrieval blend in place on `rows` (n x dim content rows at 50 Hz, before the x2 repeat):
 * each row becomes indexRate * (inverse-square-distance weighted mean of its k neighbours) +
 * (1 - indexRate) * row. An exact match takes all the weight (RVC divides by zero there).
 */
export function blendWithIndex(index: IvfFlatIndex, rows: Float32Array, indexRate: number, k = 8): void {
  if (indexRate <= 0) return;
  const n = Math.floor(rows.length / index.dim);
  blendRows(index, rows, nearestLists(index, rows, n), indexRate, k);
}

/** The blend given each row's probed lists (`lists`: n x min(nprobe, nlist), from nearestLists or IndexSearcher). */
export function blendRows(index: IvfFlatIndex, rows: Float32Array, lists: Int32Array, indexRate: number, k = 8): void {
  const { dim } = index;
  const n = Math.floor(rows.length / dim);
  const probe = Math.min(index.nprobe, index.nlist);
  const mixed = new Float32Array(dim);
  const weights = new Float64Array(k);
  for (let r = 0; r < n; r++) {
    const { rows: found, distances } = searchLists(index, lists.subarray(r * probe, (r + 1) * probe), rows, r * dim, k);
    let weightSum = 0;
    weights.fill(0);
    for (let j = 0; j < k; j++) {
      if (found[j]! < 0) continue;
      weights[j] = 1 / Math.max(distances[j]!, 1e-12) ** 2;
      weightSum += weights[j]!;
    }
    if (weightSum === 0 || !Number.isFinite(weightSum)) continue;
    mixed.fill(0);
    for (let j = 0; j < k; j++) {
      if (found[j]! < 0 || weights[j] === 0) continue;
      const w = weights[j]! / weightSum;
      const base = found[j]! * dim;
      for (let i = 0; i < dim; i++) mixed[i]! += w * index.vectors[base + i]!;
    }
    const o = r * dim;
    for (let i = 0; i < dim; i++) rows[o + i] = indexRate * mixed[i]! + (1 - indexRate) * rows[o + i]!;
  }
}
