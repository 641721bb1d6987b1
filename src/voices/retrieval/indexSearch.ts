// The retrieval index's hot loop on onnxruntime: the coarse search compares every query with every
// centroid (RVC's 100k-vector v2 index: 2564 x 768, 9.8 M multiply-adds per 100 ms block), which plain
// JavaScript does at ~0.6 GMAC/s; one MatMul in onnxruntime's SIMD kernels does it in about a millisecond.
// The graph is written here as a few protobuf bytes (ModelProto: MatMul(q [N, d], ct [d, nlist]) -> dots),
// so nothing is shipped or downloaded. The list scan and RVC's blend stay in ./faissIndex.ts.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSession, type OnnxModel } from '../../onnx/session.js';
import { blendRows, type IvfFlatIndex } from './faissIndex.js';

// Minimal protobuf writer: varints, length-delimited fields, strings.
function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v > 127) {
    out.push((v & 127) | 128);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const field = (number: number, wire: number): number[] => varint(number * 8 + wire);
const int = (number: number, value: number): number[] => [...field(number, 0), ...varint(value)];
const bytes = (number: number, payload: number[]): number[] => [...field(number, 2), ...varint(payload.length), ...payload];
const str = (number: number, text: string): number[] => bytes(number, [...Buffer.from(text, 'utf8')]);

/** ValueInfoProto of a float tensor; dims are sizes or symbolic names. */
function floatTensor(name: string, dims: Array<number | string>): number[] {
  const shape = dims.flatMap((d) => bytes(1, typeof d === 'number' ? int(1, d) : str(2, d)));
  return [...str(1, name), ...bytes(2, bytes(1, [...int(1, 1), ...bytes(2, shape)]))];
}

/** ONNX bytes of dots = MatMul(q [N, dim], ct [dim, nlist]) at opset 13. */
export function matmulModelBytes(dim: number, nlist: number): Uint8Array {
  const node = [...str(1, 'q'), ...str(1, 'ct'), ...str(2, 'dots'), ...str(3, 'matmul'), ...str(4, 'MatMul')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'rvc_coarse_search'),
    ...bytes(11, floatTensor('q', ['N', dim])),
    ...bytes(11, floatTensor('ct', [dim, nlist])),
    ...bytes(12, floatTensor('dots', ['N', nlist])),
  ];
  return Uint8Array.from([...int(1, 7), ...str(2, 'svc'), ...bytes(7, graph), ...bytes(8, [...str(1, ''), ...int(2, 13)])]);
}

/** An index with its coarse search on onnxruntime (one session per loaded index). */
export class IndexSearcher {
  private constructor(
    readonly index: IvfFlatIndex,
    private readonly session: OnnxModel,
    private readonly centroidsT: Float32Array,
  ) {}

  static async create(index: IvfFlatIndex): Promise<IndexSearcher> {
    const { dim, nlist } = index;
    const path = join(tmpdir(), `svc-rvc-coarse-${process.pid}-${dim}x${nlist}-${Math.random().toString(36).slice(2)}.onnx`);
    writeFileSync(path, matmulModelBytes(dim, nlist));
    let session: OnnxModel;
    try {
      session = await createSession(path, { intraOpThreads: 1, allowSpinning: false });
    } finally {
      rmSync(path, { force: true });
    }
    const centroidsT = new Float32Array(dim * nlist);
    for (let l = 0; l < nlist; l++) for (let i = 0; i < dim; i++) centroidsT[i * nlist + l] = index.centroids[l * dim + i]!;
    return new IndexSearcher(index, session, centroidsT);
  }

  /** The `nprobe` nearest lists of each of the n query rows (as faissIndex.nearestLists). */
  async nearestLists(queries: Float32Array, n: number): Promise<Int32Array> {
    const { dim, nlist, centroidNorms } = this.index;
    const probe = Math.min(this.index.nprobe, nlist);
    const out = await this.session.run({ q: { data: queries.subarray(0, n * dim), dims: [n, dim] }, ct: { data: this.centroidsT, dims: [dim, nlist] } });
    const dots = out.dots!.data as Float32Array;
    const lists = new Int32Array(n * probe).fill(-1);
    for (let q = 0; q < n; q++) {
      const best = new Float64Array(probe).fill(Infinity);
      for (let l = 0; l < nlist; l++) {
        const score = centroidNorms[l]! - 2 * dots[q * nlist + l]!;
        if (score >= best[probe - 1]!) continue;
        let j = probe - 1;
        while (j > 0 && best[j - 1]! > score) {
          best[j] = best[j - 1]!;
          lists[q * probe + j] = lists[q * probe + j - 1]!;
          j--;
        }
        best[j] = score;
        lists[q * probe + j] = l;
      }
    }
    return lists;
  }

  /** RVC's retrieval blend in place on `rows` (as faissIndex.blendWithIndex). */
  async blend(rows: Float32Array, indexRate: number, k = 8): Promise<void> {
    if (indexRate <= 0) return;
    const n = Math.floor(rows.length / this.index.dim);
    if (n === 0) return;
    blendRows(this.index, rows, await this.nearestLists(rows, n), indexRate, k);
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
