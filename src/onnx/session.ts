// The one place svc talks to onnxruntime-node. `createSession` loads a model with an execution
// provider and thread settings; the returned `OnnxModel` checks every feed against the graph's
// declared inputs (names, dtypes, ranks, fixed dims) before running, so a wrong tensor fails with
// a message naming expected vs received shapes instead of a cryptic ORT status. ORT failures are
// wrapped as SvcError with stable codes (MODEL_NOT_FOUND, MODEL_INVALID, ONNX_INPUT_MISMATCH,
// ONNX_RUN_FAILED, PROVIDER_UNAVAILABLE).
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { SvcError } from '../errors.js';

// ORT's native logger prints failures (e.g. a provider library that cannot load during 'auto'
// fallback) straight to stderr; every failure reaches the caller as an SvcError instead.
if (!process.env.SVC_DEBUG) ort.env.logLevel = 'fatal';
export type OnnxTensor = ort.Tensor;
export type OnnxDataType = ort.Tensor.Type;

export type OnnxProvider = 'cpu' | 'cuda' | 'coreml' | 'auto';
export type GraphOptimization = 'all' | 'basic' | 'none';

export interface SessionOptions {
  /** Execution provider; 'auto' tries cuda (Linux) / coreml (macOS) and falls back to cpu. Default 'cpu'. */
  provider?: OnnxProvider;
  /** Threads inside one operator. Default: min(2, available cores). */
  intraOpThreads?: number;
  /** Threads across independent operators. Default 1. */
  interOpThreads?: number;
  /** Graph optimisation level. Default 'all'. */
  graphOptimization?: GraphOptimization;
  /**
   * Let idle pool threads spin-wait for the next run (ORT's default, true). Sessions that take turns (the
   * So-VITS encoder and generator) should pass false: one's spinning threads steal the cores the other runs on.
   */
  allowSpinning?: boolean;
  /** Receives notes such as a provider fallback ('auto'). Default: console.warn when SVC_DEBUG is set. */
  log?: (message: string) => void;
}

/** Declared shape of one graph input or output: numbers are fixed dims, strings symbolic, -1 unknown. */
export interface TensorInfo {
  name: string;
  /** ORT dtype name ('float32', 'int64', ...) or 'unknown' for non-tensor values. */
  type: OnnxDataType | 'unknown';
  /** Empty when the graph declares no shape (then only the dtype is checked). */
  dims: ReadonlyArray<number | string>;
  /** False when the graph gave no shape at all. */
  hasShape: boolean;
}

/** A tensor to feed: an ort.Tensor or plain typed-array data plus dims. */
export type FeedValue = ort.Tensor | { data: ort.Tensor.DataType; dims: readonly number[]; type?: OnnxDataType };

const DTYPE_OF_ARRAY: Array<[new (...args: never[]) => unknown, OnnxDataType]> = [
  [Float32Array, 'float32'],
  [Float64Array, 'float64'],
  [Int32Array, 'int32'],
  [BigInt64Array, 'int64'],
  [Uint8Array, 'uint8'],
  [Int8Array, 'int8'],
  [Int16Array, 'int16'],
  [Uint16Array, 'uint16'],
  [Uint32Array, 'uint32'],
  [BigUint64Array, 'uint64'],
];

function dtypeOfData(data: unknown): OnnxDataType | undefined {
  if (Array.isArray(data)) return typeof data[0] === 'boolean' ? 'bool' : 'string';
  for (const [ctor, type] of DTYPE_OF_ARRAY) if (data instanceof ctor) return type;
  return undefined;
}

/** Formats `name:float32[1,T,256]` for messages. */
export function describeTensorInfo(info: TensorInfo): string {
  return `${info.name}:${info.type}${info.hasShape ? `[${info.dims.join(',')}]` : '[?]'}`;
}

function describeFeed(name: string, value: FeedValue | undefined): string {
  if (value === undefined) return `${name}:missing`;
  const type = value instanceof ort.Tensor ? value.type : (value.type ?? dtypeOfData(value.data) ?? 'unknown');
  return `${name}:${type}[${value.dims.join(',')}]`;
}

/** Execution providers this onnxruntime-node build ships for this platform. */
export function availableProviders(): Array<Exclude<OnnxProvider, 'auto'>> {
  const out: Array<Exclude<OnnxProvider, 'auto'>> = ['cpu'];
  try {
    const backends = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> }).listSupportedBackends?.() ?? [];
    for (const b of backends) {
      if (b.name === 'cuda' || b.name === 'coreml') out.push(b.name);
    }
  } catch {
    // older builds have no listSupportedBackends: cpu only
  }
  return out;
}

function defaultLog(message: string): void {
  if (process.env.SVC_DEBUG) console.warn(`svc: ${message}`);
}

function checkThreads(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1 || value > 256) {
    throw new SvcError('INVALID_ARGUMENT', `${name} must be an integer from 1 to 256, got ${value}`);
  }
}

/** Loads an ONNX model. Missing file → MODEL_NOT_FOUND; unreadable graph → MODEL_INVALID. */
export async function createSession(modelPath: string, options: SessionOptions = {}): Promise<OnnxModel> {
  const log = options.log ?? defaultLog;
  checkThreads('intraOpThreads', options.intraOpThreads);
  checkThreads('interOpThreads', options.interOpThreads);
  if (!existsSync(modelPath)) {
    throw new SvcError('MODEL_NOT_FOUND', `ONNX model not found: ${modelPath}`, {
      hint: 'check the path, or run the script that creates it (e.g. scripts/convert-crepe.py)',
    });
  }
  if (!statSync(modelPath).isFile()) {
    throw new SvcError('MODEL_NOT_FOUND', `ONNX model path is not a file: ${modelPath}`);
  }
  const requested = options.provider ?? 'cpu';
  const available = availableProviders();
  let chain: Array<Exclude<OnnxProvider, 'auto'>>;
  if (requested === 'auto') {
    const preferred = process.platform === 'darwin' ? 'coreml' : process.platform === 'linux' || process.platform === 'win32' ? 'cuda' : undefined;
    chain = preferred && available.includes(preferred) ? [preferred, 'cpu'] : ['cpu'];
    if (preferred && !available.includes(preferred)) log(`provider auto: ${preferred} is not available in this onnxruntime-node build (have ${available.join(', ')}); using cpu`);
  } else {
    if (!available.includes(requested)) {
      throw new SvcError('PROVIDER_UNAVAILABLE', `execution provider '${requested}' is not available; this build has: ${available.join(', ')}`, {
        hint: `use --provider ${available.join('|')} (or auto)`,
      });
    }
    chain = [requested];
  }

  const graphOptimizationLevel = (
    { all: 'all', basic: 'basic', none: 'disabled' } as const
  )[options.graphOptimization ?? 'all'];
  const intraOpNumThreads = options.intraOpThreads ?? Math.max(1, Math.min(2, availableParallelism()));
  const interOpNumThreads = options.interOpThreads ?? 1;

  let lastError: unknown;
  for (let i = 0; i < chain.length; i++) {
    const provider = chain[i]!;
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        executionProviders: [provider],
        graphOptimizationLevel,
        intraOpNumThreads,
        interOpNumThreads,
        logSeverityLevel: 3,
        ...(options.allowSpinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } } : {}),
      });
      return new OnnxModel(session, modelPath, provider);
    } catch (error) {
      lastError = error;
      const message = error instanceof Error ? error.message : String(error);
      const looksLikeProvider = /provider|cuda|coreml|libcu|dlopen|\.so/i.test(message) && provider !== 'cpu';
      if (i < chain.length - 1 && looksLikeProvider) {
        log(`provider auto: ${provider} failed (${message.split('\n')[0]}); falling back to cpu`);
        continue;
      }
      if (looksLikeProvider) {
        throw new SvcError('PROVIDER_UNAVAILABLE', `execution provider '${provider}' failed to start (${message.split('\n')[0]}); cpu is always available`, {
          hint: `install the ${provider} runtime libraries for onnxruntime-node, or use --provider cpu (or auto)`,
          cause: error,
        });
      }
      throw new SvcError('MODEL_INVALID', `cannot load ONNX model ${modelPath}: ${message.split('\n')[0]}`, {
        hint: 'the file is not a valid ONNX graph (truncated download or wrong file?)',
        cause: error,
      });
    }
  }
  throw new SvcError('MODEL_INVALID', `cannot load ONNX model ${modelPath}`, { cause: lastError });
}

function metadataToInfo(meta: ort.InferenceSession.ValueMetadata | undefined, name: string): TensorInfo {
  if (!meta || !meta.isTensor) return { name, type: 'unknown', dims: [], hasShape: false };
  const dims = meta.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : typeof d === 'string' ? d : -1));
  return { name, type: meta.type, dims, hasShape: meta.shape.length > 0 };
}

/** A loaded ONNX graph. Not safe to `run` concurrently from one instance with feeds that alias. */
export class OnnxModel {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly inputs: readonly TensorInfo[];
  readonly outputs: readonly TensorInfo[];
  private session: ort.InferenceSession | undefined;

  constructor(session: ort.InferenceSession, readonly modelPath: string, readonly provider: Exclude<OnnxProvider, 'auto'>) {
    this.session = session;
    this.inputNames = [...session.inputNames];
    this.outputNames = [...session.outputNames];
    const inMeta = (session as Partial<ort.InferenceSession>).inputMetadata ?? [];
    const outMeta = (session as Partial<ort.InferenceSession>).outputMetadata ?? [];
    this.inputs = this.inputNames.map((n, i) => metadataToInfo(inMeta.find((m) => m.name === n) ?? inMeta[i], n));
    this.outputs = this.outputNames.map((n, i) => metadataToInfo(outMeta.find((m) => m.name === n) ?? outMeta[i], n));
  }

  /** `a:float32[1,T,256], b:int64[1]` — the expected inputs, for messages and `svc` diagnostics. */
  describeInputs(): string {
    return this.inputs.map(describeTensorInfo).join(', ');
  }

  /**
   * Checks feeds against the declared inputs without running. Returns the list of problems
   * (empty when the feeds fit).
   */
  checkFeeds(feeds: Record<string, FeedValue>): string[] {
    const problems: string[] = [];
    for (const info of this.inputs) {
      const value = feeds[info.name];
      if (value === undefined) {
        problems.push(`missing input '${info.name}'`);
        continue;
      }
      const type = value instanceof ort.Tensor ? value.type : (value.type ?? dtypeOfData(value.data));
      if (info.type !== 'unknown' && type !== info.type) problems.push(`'${info.name}' has dtype ${type ?? 'unknown'}, expected ${info.type}`);
      if (info.hasShape) {
        if (value.dims.length !== info.dims.length) {
          problems.push(`'${info.name}' has rank ${value.dims.length}, expected ${info.dims.length}`);
        } else {
          info.dims.forEach((d, axis) => {
            if (typeof d === 'number' && d >= 0 && value.dims[axis] !== d) problems.push(`'${info.name}' dim ${axis} is ${value.dims[axis]}, expected ${d}`);
          });
        }
      }
      const size = value.dims.reduce((a, b) => a * b, 1);
      const dataLength = value instanceof ort.Tensor ? value.size : (value.data as ArrayLike<unknown>).length;
      if (dataLength !== size) problems.push(`'${info.name}' has ${dataLength} values but dims [${value.dims.join(',')}] need ${size}`);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) problems.push(`unknown input '${name}'`);
    }
    return problems;
  }

  /**
   * Runs the graph. Feeds are validated first (ONNX_INPUT_MISMATCH lists expected vs got); an
   * ORT failure becomes ONNX_RUN_FAILED naming the feeds' shapes. Returns every output by name.
   */
  async run(feeds: Record<string, FeedValue>): Promise<Record<string, ort.Tensor>> {
    const session = this.session;
    if (!session) throw new SvcError('INTERNAL', `ONNX session for ${this.modelPath} was already disposed`);
    const got = Object.keys(feeds).map((n) => describeFeed(n, feeds[n])).join(', ') || 'nothing';
    const problems = this.checkFeeds(feeds);
    if (problems.length) {
      throw new SvcError('ONNX_INPUT_MISMATCH', `expected inputs ${this.describeInputs()}; got ${got} (${problems.join('; ')})`, {
        hint: `model ${this.modelPath}`,
      });
    }
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, value] of Object.entries(feeds)) {
      if (value instanceof ort.Tensor) tensors[name] = value;
      else {
        const type = value.type ?? dtypeOfData(value.data);
        tensors[name] = new ort.Tensor(type as 'float32', value.data as Float32Array, value.dims as number[]);
      }
    }
    try {
      const result = await session.run(tensors);
      const out: Record<string, ort.Tensor> = {};
      for (const [name, value] of Object.entries(result)) out[name] = value as ort.Tensor;
      return out;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SvcError('ONNX_RUN_FAILED', `ONNX model ${this.modelPath} failed on inputs ${got}: ${message.split('\n')[0]}`, {
        hint: `the model expects ${this.describeInputs()}`,
        cause: error,
      });
    }
  }

  /** True until dispose(). */
  get isOpen(): boolean {
    return this.session !== undefined;
  }

  /** Releases the native session; safe to call twice. */
  async dispose(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.release();
  }
}
