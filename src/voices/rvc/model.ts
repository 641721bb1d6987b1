// A loaded RVC voice: the generator (RVC's export signature), the content encoder (the bundle's, or a
// shared one: RVC v1 takes the features so-vits-svc calls vec256l9 — hubert_base layer 9 + final_proj —
// and v2 those it calls vec768l12 — layer 12), and the optional retrieval index.
// `generate` runs frames at 100 Hz; graphs frozen at one length (RVC's torch-1.x exports) are fed
// exactly that many frames, padded, and cropped back.
import { SvcError } from '../../errors.js';
import { createSession, type OnnxModel, type OnnxProvider } from '../../onnx/session.js';
import { noiseTensor } from '../noise.js';
import { readRvcBundle, type RvcBundle, type RvcManifest } from './bundle.js';
import { readFaissIndex, type IvfFlatIndex } from '../retrieval/faissIndex.js';
import { IndexSearcher } from '../retrieval/indexSearch.js';
import { RVC_NOISE_SCALE, rvcCoarsePitch } from './features.js';

export interface RvcLoadOptions {
  provider?: OnnxProvider;
  /** Content encoder to use when the bundle has none. */
  sharedEncoderPath?: string;
  intraOpThreads?: number;
}

/** The so-vits-svc name of the content features an RVC version takes (for shared encoders). */
export function rvcSpeechEncoder(manifest: Pick<RvcManifest, 'rvc_version'>): string {
  return manifest.rvc_version === 'v1' ? 'vec256l9' : 'vec768l12';
}

export interface RvcFrames {
  /** [frames, content_dim] content at 100 Hz. */
  phone: Float32Array;
  /** Hz per frame, 0 = unvoiced (used by f0 models only). */
  f0Hz: Float32Array;
  /** Absolute frame number of the first frame (keys the seeded noise, so re-runs are identical). */
  frameOffset: number;
}

export class RvcModel {
  readonly sampleRate: number;
  readonly hopSamples: number;
  readonly contentDim: number;
  readonly hasF0: boolean;
  readonly provider: string;
  private disposed = false;

  private constructor(
    readonly bundle: RvcBundle,
    readonly generator: OnnxModel,
    readonly encoder: OnnxModel,
    readonly index: IvfFlatIndex | null,
    /** The index's search with its coarse step on onnxruntime (../retrieval/indexSearch.ts). */
    readonly searcher: IndexSearcher | null,
  ) {
    const m = bundle.manifest;
    this.sampleRate = m.sampling_rate;
    this.hopSamples = m.hop_length;
    this.contentDim = m.content_dim;
    this.hasF0 = m.f0;
    this.provider = generator.provider;
  }

  get manifest(): RvcManifest {
    return this.bundle.manifest;
  }

  get name(): string {
    return this.bundle.manifest.name;
  }

  static async load(dir: string, options: RvcLoadOptions = {}): Promise<RvcModel> {
    const bundle = readRvcBundle(dir);
    const m = bundle.manifest;
    const encoderPath = bundle.encoderPath ?? options.sharedEncoderPath;
    if (!encoderPath) {
      const name = rvcSpeechEncoder(m);
      throw new SvcError('MODEL_NOT_FOUND', `RVC model ${m.name} has no content encoder and no shared '${name}' encoder was found`, {
        hint: `put a ${m.content_dim}-d hubert_base encoder ONNX at <models dir>/encoders/${name}.onnx, or re-import with --encoder`,
      });
    }
    const index = bundle.indexPath ? readFaissIndex(bundle.indexPath) : null;
    if (index && index.dim !== m.content_dim) {
      throw new SvcError('MODEL_INVALID', `RVC bundle ${dir}: the index holds ${index.dim}-d features, the model takes ${m.content_dim}-d`);
    }
    const sessionOptions = { provider: options.provider, intraOpThreads: options.intraOpThreads, allowSpinning: false };
    const generator = await createSession(bundle.generatorPath, sessionOptions);
    let encoder: OnnxModel | undefined;
    let searcher: IndexSearcher | null = null;
    try {
      const names = generator.inputNames.join(',');
      const want = m.generator.inputs.map((i) => i.name).join(',');
      if (names !== want) {
        throw new SvcError('MODEL_INVALID', `RVC bundle ${dir}: generator.onnx takes [${names}], the manifest says [${want}]`, { hint: 'rebuild it with `svc import-rvc`' });
      }
      encoder = await createSession(encoderPath, sessionOptions);
      searcher = index ? await IndexSearcher.create(index) : null;
      const model = new RvcModel(bundle, generator, encoder, index, searcher);
      await model.warmUp();
      return model;
    } catch (error) {
      await generator.dispose();
      await encoder?.dispose();
      await searcher?.dispose();
      throw error;
    }
  }

  private async warmUp(): Promise<void> {
    const rows = await this.encode(new Float32Array(16000 * 0.1));
    if (rows.rows < 1) throw new SvcError('MODEL_INVALID', `content encoder ${this.encoder.modelPath} made no rows for 100 ms of audio`);
    const frames = 8;
    const audio = await this.generate({ phone: new Float32Array(frames * this.contentDim), f0Hz: new Float32Array(frames).fill(200), frameOffset: 0 }, 0, 0);
    if (audio.length !== frames * this.hopSamples) {
      throw new SvcError('MODEL_INVALID', `generator made ${audio.length} samples for ${frames} frames; expected ${frames * this.hopSamples}`);
    }
  }

  speakerId(speaker: string | number | undefined): number {
    const n = this.manifest.n_speakers;
    const id = speaker === undefined ? 0 : typeof speaker === 'number' ? speaker : /^\d+$/.test(speaker) ? Number(speaker) : NaN;
    if (!Number.isInteger(id) || id < 0 || id >= n) {
      throw new SvcError('INVALID_ARGUMENT', `unknown speaker '${String(speaker)}' for RVC model ${this.name}`, { hint: `use a speaker id 0..${n - 1}` });
    }
    return id;
  }

  /** 16 kHz mono → content rows [rows, dim] at 50 Hz. */
  async encode(audio16k: Float32Array): Promise<{ content: Float32Array; rows: number }> {
    const input = this.encoder.inputs[0]!;
    const dims = input.dims.length === 2 ? [1, audio16k.length] : [1, 1, audio16k.length];
    const out = await this.encoder.run({ [input.name]: { data: audio16k, dims } });
    const tensor = out[this.encoder.outputNames[0]!]!;
    const [, rows = 0, dim = 0] = tensor.dims;
    if (tensor.dims.length !== 3 || dim !== this.contentDim) {
      throw new SvcError('MODEL_INVALID', `content encoder ${this.encoder.modelPath} returned [${tensor.dims.join(',')}]; expected [1, rows, ${this.contentDim}] for RVC ${this.manifest.rvc_version}`, {
        hint: `use a ${rvcSpeechEncoder(this.manifest)} encoder (hubert_base ${this.manifest.rvc_version === 'v1' ? 'layer 9 + final_proj' : 'layer 12'})`,
      });
    }
    return { content: tensor.data as Float32Array, rows };
  }

  /** One generator call over `frames.f0Hz.length` frames → frames · hop samples. */
  async generate(frames: RvcFrames, speakerId: number, seed: number): Promise<Float32Array> {
    const n = frames.f0Hz.length;
    const fixed = this.manifest.fixed_frames ?? null;
    if (fixed !== null && n > fixed) throw new SvcError('INTERNAL', `generator window of ${n} frames exceeds the graph's fixed ${fixed}`);
    const T = fixed ?? n;
    const dim = this.contentDim;
    const inter = this.manifest.inter_channels;
    let phone = frames.phone;
    let f0 = frames.f0Hz;
    let rnd = noiseTensor(seed, frames.frameOffset, n, inter, RVC_NOISE_SCALE);
    if (T !== n) {
      phone = new Float32Array(T * dim);
      phone.set(frames.phone.subarray(0, n * dim));
      f0 = new Float32Array(T);
      f0.set(frames.f0Hz.subarray(0, n));
      const padded = new Float32Array(inter * T);
      for (let c = 0; c < inter; c++) padded.set(rnd.subarray(c * n, (c + 1) * n), c * T);
      rnd = padded;
    }
    const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
      phone: { data: phone, dims: [1, T, dim] },
      // RVC feeds the full length; a fixed-length graph sees zero padding after the real frames.
      phone_lengths: { data: BigInt64Array.of(BigInt(T)), dims: [1] },
      ds: { data: BigInt64Array.of(BigInt(speakerId)), dims: [1] },
      rnd: { data: rnd, dims: [1, inter, T] },
    };
    if (this.hasF0) {
      feeds.pitch = { data: rvcCoarsePitch(f0), dims: [1, T] };
      feeds.pitchf = { data: f0, dims: [1, T] };
    }
    const out = await this.generator.run(feeds);
    const audio = out[this.generator.outputNames[0]!]!.data as Float32Array;
    return T === n ? audio : audio.subarray(0, n * this.hopSamples).slice();
  }

  get isOpen(): boolean {
    return !this.disposed;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([this.generator.dispose(), this.encoder.dispose(), this.searcher?.dispose()]);
  }
}
