// Minimal NumPy .npy reader/writer (format versions 1-3, little-endian numeric dtypes, C order):
// golden data for model ports (CREPE activations) and arrays exchanged with Python tooling.
import { readFile, writeFile } from 'node:fs/promises';
import { SvcError, errorMessage } from '../errors.js';

export type NpyArrayData = Float32Array | Float64Array | Int32Array | Int16Array | Int8Array | Uint8Array | Uint16Array | Uint32Array | BigInt64Array;

export interface NpyArray {
  /** NumPy dtype string as stored, e.g. '<f4'. */
  dtype: string;
  shape: number[];
  data: NpyArrayData;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const CTORS: Record<string, new (buffer: ArrayBuffer, offset: number, length: number) => NpyArrayData> = {
  f4: Float32Array,
  f8: Float64Array,
  i4: Int32Array,
  i2: Int16Array,
  i1: Int8Array,
  u1: Uint8Array,
  b1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  i8: BigInt64Array,
};

/** Parses .npy bytes; `nameForErrors` appears in messages. */
export function parseNpy(bytes: Uint8Array, nameForErrors = 'array'): NpyArray {
  const bad = (why: string): never => {
    throw new SvcError('UNSUPPORTED_FORMAT', `${nameForErrors} is not a readable .npy file: ${why}`);
  };
  if (bytes.length < 10 || !MAGIC.every((b, i) => bytes[i] === b)) bad('missing \\x93NUMPY magic');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const headerStart = major === 1 ? 10 : 12;
  const header = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLength));
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1] ?? bad(`no descr in header ${header}`);
  const fortran = /'fortran_order'\s*:\s*True/.test(header);
  if (fortran) bad('Fortran-ordered arrays are not supported (save with np.ascontiguousarray)');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1] ?? bad('no shape in header');
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const order = descr[0];
  const kind = descr.slice(1);
  if (order === '>') bad(`big-endian dtype ${descr} is not supported`);
  const Ctor = CTORS[kind] ?? bad(`dtype ${descr} is not supported`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = headerStart + headerLength;
  const itemSize = Number(kind.slice(1));
  if (bytes.length - dataStart < count * itemSize) {
    throw new SvcError('FILE_TRUNCATED', `${nameForErrors}: expected ${count * itemSize} data bytes for shape (${shape.join(',')}), got ${bytes.length - dataStart}`);
  }
  // Copy so the typed array is aligned whatever the header length was.
  // (Buffer.slice is a view into a shared pool, so copy explicitly.)
  const copy = new Uint8Array(count * itemSize);
  copy.set(bytes.subarray(dataStart, dataStart + count * itemSize));
  return { dtype: descr, shape, data: new Ctor(copy.buffer, 0, count) };
}

export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new SvcError('FILE_NOT_FOUND', `cannot read ${path}: ${errorMessage(error)}`, { cause: error });
  }
  return parseNpy(bytes, path);
}

/** Encodes a Float32Array (or other supported typed array) with a shape as .npy version 1.0. */
export function encodeNpy(data: NpyArrayData, shape: number[]): Uint8Array {
  const kind = Object.entries(CTORS).find(([k, c]) => k !== 'b1' && data instanceof c)?.[0];
  if (!kind) throw new SvcError('INVALID_ARGUMENT', 'unsupported typed array for .npy');
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new SvcError('INVALID_ARGUMENT', `shape (${shape.join(',')}) needs ${count} values, got ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${kind === 'u1' || kind === 'i1' ? '|' : '<'}${kind}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export async function writeNpy(path: string, data: NpyArrayData, shape: number[]): Promise<void> {
  await writeFile(path, encodeNpy(data, shape));
}
