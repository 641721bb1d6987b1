// A So-VITS-SVC bundle at run time: loading its ONNX sessions and checking them against what the engine
// will feed (SovitsModel), and one generator call (deterministic noise hashed by frame, NSF source phase
// continued from earlier windows). What the generator is fed comes from the feature timeline
// (timeline.ts); offline conversion (convert.ts) and the streaming stage (stage.ts) both drain it.
//
// Generator: c [1,Tc,D], f0 [1,T], mel2ph [1,T] (1-based row of c, 0 = zero row), uv, noise [1,inter,T],
//            sid [1], vol [1,T] → audio [1,1,T·hop]; frame k makes samples [k·hop, (k+1)·hop).
import { closeSync, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { SvcError, isSvcError, errorMessage } from '../../errors.js';
import { createSession, type GraphOptimization, type OnnxModel, type OnnxProvider } from '../../onnx/session.js';
import { readBundle, resolveSpeakerChoice, speakerFeed, speakerName, type SovitsBundle, type SpeakerChoice, type SovitsManifest } from './bundle.js';
import { readFaissIndex } from '../retrieval/faissIndex.js';
import { IndexSearcher } from '../retrieval/indexSearch.js';
import { ContentEncoder, ENCODER_HOP, ENCODER_WINDOW } from './encoder.js';
import type { EncoderContext, GeneratorWindow } from './timeline.js';
import { noiseTensor } from '../noise.js';

/** so-vits-svc's default noise scale (inference `noice_scale`). */
export const DEFAULT_NOISE_SCALE = 0.4;

/**
 * Which graphs a bundle runs: 'float32' (the exported graphs), 'int8' (manifest.int8: int8 generator convs
 * and encoder matmuls, python/svc_py/quantize.py; ~2.5× less CPU per block on the standard model, output
 * ≥ 30 dB SNR against float: docs/models.md), or 'auto' (int8 when the bundle has it and the provider is
 * cpu; GPU providers run the float graphs, since their int8 kernels fall back to the CPU).
 */
export type ModelPrecision = 'auto' | 'float32' | 'int8';
export const MODEL_PRECISIONS: readonly ModelPrecision[] = ['auto', 'float32', 'int8'];

/** The precision `load` will use for a bundle (INVALID_ARGUMENT when int8 is asked of a float-only bundle). */
export function resolvePrecision(bundle: SovitsBundle, requested: ModelPrecision = 'auto', provider: OnnxProvider = 'cpu'): 'float32' | 'int8' {
  if (requested === 'int8' && !bundle.int8) {
    throw new SvcError('INVALID_ARGUMENT', `model ${bundle.manifest.name} has no int8 graphs (manifest.int8)`, {
      hint: 'use --precision float32, or rebuild the bundle with this svc (make-reference, import-sovits and export write int8 graphs for models of 2 M parameters or more)',
    });
  }
  if (requested !== 'auto') return requested;
  return bundle.int8 && provider === 'cpu' ? 'int8' : 'float32';
}

export interface SovitsLoadOptions {
  provider?: OnnxProvider;
  intraOpThreads?: number;
  interOpThreads?: number;
  graphOptimization?: GraphOptimization;
  /**
   * Let ONNX pool threads spin between runs (default false). The encoder and generator run in turn, and
   * with spinning on, the idle session's threads burn the cores the busy one needs: measured on 2 idle
   * cores, alternating encoder (0.43 s) + generator (25 frames) runs took 74 + 143 ms spinning, 44 + 117 ms not.
   */
  allowSpinning?: boolean;
  /** Run each graph once at load (default true): checks the model really accepts the engine's feeds. */
  warmup?: boolean;
  /** Graphs to run (default 'auto': int8 when the bundle has them and the provider is cpu). */
  precision?: ModelPrecision;
  /** Encoder ONNX to use when the bundle has none (a shared encoder, see src/voices/registry.ts). */
  sharedEncoderPath?: string;
  log?: (message: string) => void;
}

export interface GenerateOptions {
  speakerId: number;
  /** so-vits-svc's cluster_infer_ratio: pull content rows toward the speaker's nearest kmeans centre (0 = off). */
  clusterRatio?: number;
  /** A blend of speakers for a speaker-mix graph (bundle.ts resolveSpeakerChoice); null/absent = speakerId alone. */
  mix?: SpeakerChoice['mix'];
  /** Per-frame weights for a speaker-mix graph, float32 [frames, columns] (speakerTrack.ts); overrides `mix`. */
  speakerRows?: Float32Array;
  noiseScale: number;
  seed: number;
  /**
   * Phase (cycles) the NSF sine source should have at the window's first frame, for continuity with
   * earlier windows; undefined leaves the graph's own start (phase 0).
   */
  sourcePhaseCycles?: number;
}

// ---------------------------------------------------------------------------------------------
// Pure functions

/**
 * Makes a window's NSF sine source continue the phase of the whole stream: the generator starts its
 * phase at 0 in every call, so the first frame's f0 is nudged (by at most ½·sr/hop Hz) to advance the
 * extra `phaseCycles`. Every later frame then has the phase a single run over the whole stream gives it;
 * only frame 0 (context, never emitted) changes. Returns the changed array (a copy).
 */
export function alignSourcePhase(f0Hz: Float32Array, phaseCycles: number, hopSamples: number, sampleRate: number): Float32Array {
  const out = Float32Array.from(f0Hz);
  if (out.length === 0 || !(out[0]! > 0)) return out;
  let delta = phaseCycles - Math.floor(phaseCycles);
  if (delta > 0.5) delta -= 1;
  const candidate = out[0]! + (delta * sampleRate) / hopSamples;
  // Keep the nudged f0 positive (a non-positive f0 switches the source off): go the other way round.
  out[0] = candidate > 1 ? candidate : candidate + sampleRate / hopSamples;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The loaded model

function describeSpec(spec: { name: string; dtype: string; shape: Array<number | string> }): string {
  return `${spec.name}:${spec.dtype}[${spec.shape.join(',')}]`;
}

interface ConfigFacts {
  sampling_rate?: number;
  hop_length?: number;
  ssl_dim?: number;
  n_speakers?: number;
  inter_channels?: number;
  vol_embedding?: boolean;
  speech_encoder?: string;
  upsample_rates?: number[];
}

function readConfigFacts(path: string, dir: string): ConfigFacts {
  if (!existsSync(path)) throw new SvcError('MODEL_INVALID', `model bundle ${dir}: config.json is missing`, { hint: 'copy the so-vits-svc config.json the model was trained with into the bundle' });
  let config: { data?: Record<string, unknown>; model?: Record<string, unknown> };
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as typeof config;
  } catch (error) {
    throw new SvcError('MODEL_INVALID', `model bundle ${dir}: config.json is not JSON (${errorMessage(error)})`);
  }
  const data = config.data ?? {};
  const model = config.model ?? {};
  if (typeof data !== 'object' || typeof model !== 'object') throw new SvcError('MODEL_INVALID', `model bundle ${dir}: config.json has no "data" and "model" sections (not a so-vits-svc config)`);
  return {
    sampling_rate: data.sampling_rate as number | undefined,
    hop_length: data.hop_length as number | undefined,
    ssl_dim: (model.ssl_dim ?? model.gin_channels) as number | undefined,
    n_speakers: model.n_speakers as number | undefined,
    inter_channels: model.inter_channels as number | undefined,
    vol_embedding: (model.vol_embedding as boolean | undefined) ?? false,
    speech_encoder: model.speech_encoder as string | undefined,
    upsample_rates: model.upsample_rates as number[] | undefined,
  };
}

/** Differences between config.json and the manifest (empty when they agree). */
export function compareConfigWithManifest(facts: ConfigFacts, manifest: SovitsManifest): string[] {
  const problems: string[] = [];
  const check = (key: string, configValue: unknown, manifestValue: unknown) => {
    if (configValue !== undefined && configValue !== manifestValue) problems.push(`config.json ${key} is ${JSON.stringify(configValue)} but the manifest says ${JSON.stringify(manifestValue)}`);
  };
  check('data.sampling_rate', facts.sampling_rate, manifest.sampling_rate);
  check('data.hop_length', facts.hop_length, manifest.hop_length);
  check('model.ssl_dim', facts.ssl_dim, manifest.ssl_dim);
  check('model.n_speakers', facts.n_speakers, manifest.n_speakers);
  check('model.inter_channels', facts.inter_channels, manifest.inter_channels);
  check('model.vol_embedding', facts.vol_embedding, manifest.vol_embedding);
  if (facts.upsample_rates) {
    const product = facts.upsample_rates.reduce((a, b) => a * b, 1);
    if (product !== manifest.hop_length) problems.push(`config.json upsample_rates ${JSON.stringify(facts.upsample_rates)} multiply to ${product}, but hop_length is ${manifest.hop_length}`);
  }
  return problems;
}

/**
 * A loaded bundle: generator + content encoder sessions, validated against the manifest and config.
 * Shared by any number of converters and streaming sessions; `dispose()` releases both sessions.
 */
export class SovitsModel {
  readonly sampleRate: number;
  readonly hopSamples: number;
  readonly contentDim: number;
  readonly interChannels: number;
  readonly volEmbedding: boolean;
  readonly provider: string;
  private disposed = false;

  /** The bundle's cluster.onnx (kmeans), when it has one. */
  private cluster: OnnxModel | undefined;
  /** The feature index's searchers by speaker row (manifest.cluster.kind 'index'), loaded on first use. */
  private readonly searchers = new Map<number, Promise<IndexSearcher>>();

  private constructor(
    readonly bundle: SovitsBundle,
    /** The graphs this model runs ('int8': the bundle's manifest.int8 files). */
    readonly precision: 'float32' | 'int8',
    readonly generator: OnnxModel,
    readonly encoder: ContentEncoder,
  ) {
    const m = bundle.manifest;
    this.sampleRate = m.sampling_rate;
    this.hopSamples = m.hop_length;
    this.contentDim = m.ssl_dim;
    this.interChannels = m.inter_channels;
    this.volEmbedding = m.vol_embedding;
    this.provider = generator.provider;
  }

  get manifest(): SovitsManifest {
    return this.bundle.manifest;
  }

  get name(): string {
    return this.bundle.manifest.name;
  }

  /** Loads a bundle folder: manifest + config checks, both sessions, graph checks, a warm-up run. */
  static async load(dir: string, options: SovitsLoadOptions = {}): Promise<SovitsModel> {
    const bundle = readBundle(dir);
    const m = bundle.manifest;
    const configProblems = compareConfigWithManifest(readConfigFacts(bundle.configPath, dir), m);
    if (configProblems.length) {
      throw new SvcError('MODEL_INVALID', `model bundle ${dir}: config.json does not match the manifest: ${configProblems.join('; ')}`, {
        hint: 'rebuild the bundle from the checkpoint and its own config with `svc import-sovits`',
      });
    }
    const precision = resolvePrecision(bundle, options.precision, options.provider);
    const encoderPath = (precision === 'int8' ? bundle.int8!.encoderPath : null) ?? bundle.encoderPath ?? options.sharedEncoderPath;
    if (!encoderPath) {
      throw new SvcError('MODEL_NOT_FOUND', `model ${m.name} has no content encoder and no shared '${m.speech_encoder}' encoder was found`, {
        hint: `put the ${m.speech_encoder} encoder ONNX at <models dir>/encoders/${m.speech_encoder}.onnx (see docs/models.md)`,
      });
    }
    // Small graphs (the tiny reference: 0.2 M parameters) lose more to thread hand-offs than they gain
    // (measured: 18 vs 44 ms per 200 ms block on 2 busy cores), so they default to one thread.
    const small = (m.parameters?.generator_inference ?? Infinity) < 2e6;
    const intraOpThreads = options.intraOpThreads ?? (small ? 1 : undefined);
    // Both sessions report the same provider fallback: say it once.
    const said = new Set<string>();
    const log = options.log && ((message: string) => (said.has(message) ? undefined : (said.add(message), options.log!(message))));
    const sessionOptions = { provider: options.provider, intraOpThreads, interOpThreads: options.interOpThreads, graphOptimization: options.graphOptimization, allowSpinning: options.allowSpinning ?? false, log };
    const generator = await createSession(precision === 'int8' ? bundle.int8!.generatorPath : bundle.generatorPath, sessionOptions);
    let encoder: ContentEncoder | undefined;
    try {
      checkGeneratorGraph(generator, m, dir);
      encoder = await ContentEncoder.load(encoderPath, { ...sessionOptions, convention: m.encoder?.convention, output: m.encoder?.output });
      checkEncoderAgainstManifest(encoder, m);
      const model = new SovitsModel(bundle, precision, generator, encoder);
      if (m.cluster?.kind === 'kmeans') model.cluster = await createSession(join(dir, m.cluster.file), { ...sessionOptions, log: undefined });
      // A feature index is parsed now (a broken file fails the load, not the first block); searchers come per speaker.
      if (m.cluster?.kind === 'index') for (const file of m.cluster.files) checkIndexFile(join(dir, file), m);
      if (options.warmup ?? true) await model.warmUp();
      return model;
    } catch (error) {
      await generator.dispose();
      await encoder?.dispose();
      throw error;
    }
  }

  /** Speaker id from a name or id (INVALID_ARGUMENT listing the speakers when unknown); a mix gives its heaviest speaker. */
  speakerId(speaker: string | number | undefined): number {
    return this.speakerChoice(speaker).speakerId;
  }

  /** A speaker or a mix `a:0.7,b:0.3` (mixes need a speaker-mix graph; bundle.ts resolveSpeakerChoice). */
  speakerChoice(speaker: string | number | undefined): SpeakerChoice {
    return resolveSpeakerChoice(this.manifest, speaker);
  }

  /** One short run of each graph; a failure names the feeds and becomes MODEL_INVALID. */
  async warmUp(): Promise<void> {
    const rows = 2;
    let content: Float32Array;
    try {
      content = (await this.encode(new Float32Array(ENCODER_WINDOW + ENCODER_HOP))).content;
    } catch (error) {
      throw asInvalid(error, `content encoder ${this.encoder.modelPath} failed its warm-up run`);
    }
    const frames = 4;
    try {
      const audio = await this.generate(
        {
          content: content.length === rows * this.contentDim ? content : new Float32Array(rows * this.contentDim),
          rows,
          mel2ph: BigInt64Array.from([1n, 1n, 2n, 2n]),
          f0Hz: new Float32Array(frames).fill(200),
          uv: new Float32Array(frames).fill(1),
          vol: new Float32Array(frames).fill(0.05),
          frameOffset: 0,
        },
        { speakerId: 0, noiseScale: DEFAULT_NOISE_SCALE, seed: 0 },
      );
      if (audio.length !== frames * this.hopSamples) {
        throw new SvcError('MODEL_INVALID', `generator ${this.generator.modelPath} made ${audio.length} samples for ${frames} frames; hop_length ${this.hopSamples} means ${frames * this.hopSamples}`, {
          hint: 'the manifest/config hop_length does not match the generator graph; rebuild the bundle',
        });
      }
    } catch (error) {
      throw asInvalid(error, `generator ${this.generator.modelPath} failed its warm-up run`);
    }
  }

  /** 16 kHz mono → content rows [rows, dim] (HuBERT framing: floor((n − 400)/320) + 1 rows). */
  async encode(audio16k: Float32Array): Promise<{ content: Float32Array; rows: number }> {
    const { content, rows, dim } = await this.encoder.encode(audio16k);
    if (dim !== this.contentDim) {
      throw new SvcError('MODEL_INVALID', `content encoder ${this.encoder.modelPath} returned ${this.encoder.outputName} [1,${rows},${dim}]; expected [1, rows, ${this.contentDim}] for a model with ssl_dim ${this.contentDim} (${this.manifest.speech_encoder})`, {
        hint: `use the ${this.manifest.speech_encoder} encoder the model was trained with`,
      });
    }
    return { content, rows };
  }

  /**
   * Checks a cluster ratio against the bundle: 0..1, and > 0 only with a cluster model that covers the
   * speaker (INVALID_ARGUMENT naming what is missing).
   */
  checkClusterRatio(ratio: number | undefined, speakerId: number): void {
    if (ratio === undefined || ratio === 0) return;
    if (!(Number.isFinite(ratio) && ratio >= 0 && ratio <= 1)) throw new SvcError('INVALID_ARGUMENT', `cluster ratio must be from 0 to 1, got ${ratio}`);
    const cluster = this.manifest.cluster;
    if (!cluster) {
      throw new SvcError('INVALID_ARGUMENT', `model ${this.name} has no cluster model or feature index, so a cluster ratio of ${ratio} cannot apply`, { hint: 'import the model with `--cluster kmeans_10000.pt` or `--cluster feature_and_index.pkl` (or build one: `svc train-index RUN --bundle DIR`), or leave the ratio at 0' });
    }
    if (!cluster.speakers.includes(speakerName(this.manifest, speakerId) ?? '')) {
      throw new SvcError('INVALID_ARGUMENT', `the cluster model of ${this.name} has no centres for speaker id ${speakerId}`, { hint: `it covers ${cluster.speakers.join(', ')}` });
    }
  }

  /**
   * rows × contentDim content → the same rows pulled by `ratio` toward the speaker's nearest kmeans centre
   * (kmeans) or toward the 1/d²-weighted mean of its 8 nearest training rows (feature index; as upstream's
   * infer_tool feature_retrieval, and RVC's index). Rows are per content frame: with upstream's nearest
   * unit interpolation every generator frame copies one row, so per row is per frame.
   */
  async clusterMix(content: Float32Array, rows: number, speakerId: number, ratio: number): Promise<Float32Array> {
    this.checkClusterRatio(ratio, speakerId);
    const cluster = this.manifest.cluster!;
    const index = cluster.speakers.indexOf(speakerName(this.manifest, speakerId)!);
    if (cluster.kind === 'index') {
      const mixed = content.slice(0, rows * this.contentDim);
      await (await this.indexSearcher(speakerId)).blend(mixed, ratio);
      return mixed;
    }
    const out = await this.cluster!.run({
      c: { data: content.subarray(0, rows * this.contentDim), dims: [rows, this.contentDim] },
      speaker: { data: BigInt64Array.from([BigInt(index)]), dims: [1] },
      ratio: { data: Float32Array.from([ratio]), dims: [1] },
    });
    return out.mixed!.data as Float32Array;
  }

  /** The feature index of a speaker, parsed and given its search session once (then shared by every stage). */
  indexSearcher(speakerId: number): Promise<IndexSearcher> {
    const cluster = this.manifest.cluster;
    if (cluster?.kind !== 'index') throw new SvcError('INTERNAL', `model ${this.name} has no feature index`);
    const row = cluster.speakers.indexOf(speakerName(this.manifest, speakerId) ?? '');
    let searcher = this.searchers.get(row);
    if (!searcher) {
      searcher = Promise.resolve().then(() => IndexSearcher.create(readFaissIndex(join(this.bundle.dir, cluster.files[row]!))));
      this.searchers.set(row, searcher);
      searcher.catch(() => this.searchers.delete(row));
    }
    return searcher;
  }

  /** One generator call: frames [frameOffset, frameOffset + frames) → frames·hop samples. */
  async generate(window: GeneratorWindow, options: GenerateOptions): Promise<Float32Array> {
    const frames = window.f0Hz.length;
    // so-vits-svc applies the cluster to the content rows before the generator (infer_tool.get_unit_f0).
    if (options.clusterRatio) window = { ...window, content: await this.clusterMix(window.content, window.rows, options.speakerId, options.clusterRatio) };
    const f0 = options.sourcePhaseCycles === undefined ? window.f0Hz : alignSourcePhase(window.f0Hz, options.sourcePhaseCycles, this.hopSamples, this.sampleRate);
    const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
      c: { data: window.content, dims: [1, window.rows, this.contentDim] },
      f0: { data: f0, dims: [1, frames] },
      mel2ph: { data: window.mel2ph, dims: [1, frames] },
      uv: { data: window.uv, dims: [1, frames] },
      noise: { data: noiseTensor(options.seed, window.frameOffset, frames, this.interChannels, options.noiseScale), dims: [1, this.interChannels, frames] },
      sid: options.speakerRows && this.manifest.speaker_mix
        ? { data: options.speakerRows, dims: [frames, this.manifest.speaker_mix.columns.length] }
        : speakerFeed(this.manifest, { speakerId: options.speakerId, mix: options.mix ?? null }, frames),
    };
    if (this.volEmbedding) feeds.vol = { data: window.vol, dims: [1, frames] };
    const out = await this.generator.run(feeds);
    const audio = out[this.generator.outputNames[0]!]!;
    return audio.data as Float32Array;
  }

  get isOpen(): boolean {
    return !this.disposed;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const searchers = await Promise.allSettled([...this.searchers.values()]);
    await Promise.all([this.generator.dispose(), this.encoder.dispose(), this.cluster?.dispose(),
      ...searchers.map((s) => (s.status === 'fulfilled' ? s.value.dispose() : undefined))]);
  }
}

/**
 * A bundle's feature-index file must be a faiss IndexIVFFlat of ssl_dim-wide rows (MODEL_INVALID otherwise).
 * Only its header is read here: the vectors (up to 10 000 × D per speaker, or all rows below 200 000) are
 * parsed when a speaker's index is first used.
 */
function checkIndexFile(path: string, m: SovitsManifest): void {
  const header = Buffer.alloc(8);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, 8, 0);
  } finally {
    closeSync(fd);
  }
  const tag = header.toString('latin1', 0, 4);
  if (tag !== 'IwFl') throw new SvcError('MODEL_INVALID', `feature index ${path} is not a faiss IndexIVFFlat (starts with ${JSON.stringify(tag)}, expected "IwFl")`, { hint: 'import feature_and_index.pkl again with `svc import-sovits --cluster`' });
  const index = { dim: header.readInt32LE(4) };
  if (index.dim !== m.ssl_dim) {
    throw new SvcError('MODEL_INVALID', `feature index ${path} holds ${index.dim}-d rows but the model takes ${m.ssl_dim}-d (${m.speech_encoder})`, { hint: 'import the feature_and_index.pkl built on this model\'s features' });
  }
}

function asInvalid(error: unknown, what: string): SvcError {
  if (isSvcError(error) && error.code === 'MODEL_INVALID') return error;
  const message = error instanceof Error ? error.message : String(error);
  return new SvcError('MODEL_INVALID', `${what}: ${message}`, { hint: 'the ONNX graph does not accept what its manifest promises; rebuild the bundle', cause: error });
}

/** The generator graph must take exactly what the engine feeds (names, dtypes, ranks, fixed dims). */
function checkGeneratorGraph(generator: OnnxModel, m: SovitsManifest, dir: string): void {
  const expected = m.generator.inputs;
  const problems: string[] = [];
  const graphNames = generator.inputs.map((i) => i.name);
  const want = expected.map((e) => e.name);
  for (const name of want) if (!graphNames.includes(name)) problems.push(`the graph has no input '${name}'`);
  for (const name of graphNames) if (!want.includes(name)) problems.push(`the graph has an input '${name}' the engine does not feed`);
  const fixed: Record<string, Array<[number, number]>> = { c: [[2, m.ssl_dim]], noise: [[1, m.inter_channels]] };
  for (const spec of expected) {
    const info = generator.inputs.find((i) => i.name === spec.name);
    if (!info) continue;
    if (info.type !== 'unknown' && info.type !== spec.dtype) problems.push(`input '${spec.name}' is ${info.type} in the graph, ${spec.dtype} in the manifest`);
    if (info.hasShape && info.dims.length !== spec.shape.length) problems.push(`input '${spec.name}' has rank ${info.dims.length} in the graph, ${spec.shape.length} in the manifest (${describeSpec(spec)})`);
    for (const [axis, size] of fixed[spec.name] ?? []) {
      const d = info.dims[axis];
      if (info.hasShape && typeof d === 'number' && d >= 0 && d !== size) problems.push(`input '${spec.name}' dim ${axis} is ${d} in the graph, but the manifest/config says ${size}`);
    }
  }
  if (generator.outputs.length === 0) problems.push('the graph has no output');
  if (problems.length) {
    throw new SvcError('MODEL_INVALID', `model bundle ${dir}: generator.onnx does not match the manifest: ${problems.join('; ')}. Graph inputs: ${generator.describeInputs()}`, {
      hint: 'the config.json/manifest and the generator ONNX come from different models; rebuild with `svc import-sovits`',
    });
  }
}

/** A content encoder that opened fine must also be the one the manifest describes. */
function checkEncoderAgainstManifest(encoder: ContentEncoder, m: SovitsManifest): void {
  if (m.encoder && m.encoder.convention !== encoder.convention) {
    throw new SvcError('MODEL_INVALID', `content encoder ${encoder.modelPath} is ${encoder.convention} (input rank ${encoder.convention === 'audio-units' ? 2 : 3}) but the manifest says ${m.encoder.convention}`);
  }
  if (encoder.dim !== null && encoder.dim !== m.ssl_dim) {
    throw new SvcError('MODEL_INVALID', `content encoder ${encoder.modelPath} gives ${encoder.dim}-d features but the generator takes ${m.ssl_dim}-d (${m.speech_encoder})`, {
      hint: `use the ${m.speech_encoder} encoder the model was trained with`,
    });
  }
}

/**
 * Default encoder context. HuBERT-size encoders are global (attention): 0.3 s left / 2 rows right, the
 * streaming stage's per-block cost being block + this context (25 rows = 0.5 s cost ~60 % more per 200 ms
 * block than 15). How close bounded-context rows come to whole-file rows depends on the trained weights;
 * the random-weight reference HuBERT attends almost uniformly, so its rows never match (row SNR 5–9 dB at
 * 0–50 rows) while the generator output still does (≥ 45 dB): `encoderContext` overrides this per stage.
 */
export function defaultEncoderContext(model: SovitsModel): EncoderContext {
  const kind = model.manifest.encoder?.kind;
  if (kind === 'tiny_conv') return { leftRows: 2, rightRows: 2 };
  // svc's phone encoder (models/svc_phone_encoder) is causal in rows: a row sees 34 rows back (input conv
  // + dilations 1,2,4,8,1 at kernel 3) and nothing ahead, so this context makes streamed rows exact and
  // costs no look-ahead (3 right rows were 60 ms of the small model's latency).
  if (model.manifest.speech_encoder === SVC_PHONE_ENCODER) return { leftRows: 34, rightRows: 0 };
  // 2 right rows (40 ms) rather than 3: the third row was 20 ms of the standard model's look-ahead, above
  // the f0 tracker's (74 + 2 frames = 97 ms): with 2 the f0 bounds it. Streamed vs offline on the standard
  // reference at 100 ms blocks: 43.1 dB with 3 rows and with 2 (random weights; RVC and w-okada's
  // realtime run HuBERT with no rows of right context at all).
  return { leftRows: 15, rightRows: 2 };
}

/** speech_encoder name of svc's own phone encoder (python/svc_py/content). */
export const SVC_PHONE_ENCODER = 'svcphone40';
