// So-VITS-SVC bundles at run time: loading a bundle's ONNX sessions and checking them against what the
// engine will feed (SovitsModel), the pure feature plumbing shared by offline and streaming conversion
// (content-row → frame mapping, deterministic noise, NSF source-phase continuity, pitch shift), and the
// offline converter (convertWithModel). The streaming stage (src/voices/sovits/stage.ts) reuses the same
// pieces, which is what makes streamed output match offline output.
//
// Data flow of one conversion (shapes for the 44.1 kHz template: hop 512, ssl_dim 768):
//   input → model rate (xs, N samples) ─┬→ f0 at the model hop (floor(N/hop) frames, centre k·hop) → uv,
//                                       │   unvoiced gaps interpolated, ×2^(pitch/12)
//                                       ├→ vol: RMS per hop (only when manifest.vol_embedding)
//                                       └→ 16 kHz → content encoder → c [Tc, ssl_dim], one row per 20 ms
//   generator(c [1,Tc,D], f0 [1,T], mel2ph [1,T] (1-based row of c, 0 = zero row), uv, noise [1,inter,T],
//             sid [1], vol [1,T]) → audio [1,1,T·hop]; frame k makes samples [k·hop, (k+1)·hop).
import { existsSync, readFileSync } from 'node:fs';
import { resample, StreamingResampler } from '../../audio/resample.js';
import { SvcError, isSvcError } from '../../errors.js';
import { DEFAULT_F0_METHOD, estimateF0, type F0Method } from '../../dsp/f0/index.js';
import { volumeRms } from '../../dsp/volume.js';
import { readBundle, resolveSpeakerChoice, speakerFeed, speakerName, type SovitsBundle, type SpeakerChoice, type SovitsManifest } from './bundle.js';
import { createSession, type GraphOptimization, type OnnxModel, type OnnxProvider } from '../../onnx/session.js';

export const ENCODER_RATE = 16000;
export const ENCODER_HOP = 320;
/** HuBERT-style framing: row r sees 16 kHz samples [320r, 320r + 400). */
export const ENCODER_WINDOW = 400;
/** so-vits-svc's default noise scale (inference `noice_scale`). */
export const DEFAULT_NOISE_SCALE = 0.4;
/** Resampler quality for the encoder's 16 kHz feed (the same offline and streaming, so both agree). */
export const ENCODER_RESAMPLER_QUALITY = 7;

export type ContentMapping = 'time' | 'upstream';

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

/** Generator inputs for frames [frameOffset, frameOffset + frames) of a stream. */
export interface GeneratorWindow {
  /** Content rows, row-major [rows, dim]. */
  content: Float32Array;
  rows: number;
  /** 1-based row of `content` per frame (0 = the zero row), length frames. */
  mel2ph: BigInt64Array;
  /** Hz per frame after interpolation and pitch shift (> 0 wherever any voiced frame is known). */
  f0Hz: Float32Array;
  /** 1 voiced / 0 unvoiced. */
  uv: Float32Array;
  /** RMS per frame (used when the model has vol_embedding). */
  vol: Float32Array;
  /** Absolute index of the first frame (for the noise and the source phase). */
  frameOffset: number;
}

export interface GenerateOptions {
  speakerId: number;
  /** A blend of speakers for a speaker-mix graph (bundle.ts resolveSpeakerChoice); null/absent = speakerId alone. */
  mix?: SpeakerChoice['mix'];
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

/** Content rows the encoder gives for n samples at 16 kHz (HuBERT framing; 0 when n < 400). */
export function encoderRowCount(samples16k: number): number {
  return samples16k < ENCODER_WINDOW ? 0 : Math.floor((samples16k - ENCODER_WINDOW) / ENCODER_HOP) + 1;
}

/**
 * Content row (0-based) for generator frame k.
 * 'time': the row whose 20 ms span holds the frame centre, floor(k·hop/sr / 0.02), clamped to the rows
 *   that exist — the streaming engine's mapping (it cannot know the final row count).
 * 'upstream': so-vits-svc's repeat_expand / nearest interpolation of Tc rows onto T frames, floor(k·Tc/T);
 *   it stretches the content by the encoder's missing ¼ row over the file (≤ 1.25 rows at the end).
 */
export function contentRowForFrame(frame: number, mapping: ContentMapping, hopSamples: number, sampleRate: number, rows: number, frames: number): number {
  if (rows <= 0) return -1;
  const row = mapping === 'upstream' ? Math.floor((frame * rows) / frames) : Math.floor((frame * hopSamples * 50) / sampleRate + 1e-9);
  return Math.min(rows - 1, Math.max(0, row));
}

/** Upstream's mel2ph for a whole file: 1-based rows, so row 0 of the padded features is never used. */
export function buildMel2ph(frames: number, rows: number, mapping: ContentMapping, hopSamples: number, sampleRate: number): BigInt64Array {
  const out = new BigInt64Array(frames);
  for (let k = 0; k < frames; k++) out[k] = BigInt(contentRowForFrame(k, mapping, hopSamples, sampleRate, rows, frames) + 1);
  return out;
}

function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d);
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b);
  return (x ^ (x >>> 16)) >>> 0;
}

/**
 * N(0,1) value for (seed, frame, channel), independent of how frames are windowed: offline slices and
 * streaming windows draw identical noise for the same frame (Box–Muller on two hashed uniforms).
 */
export function frameNoise(seed: number, frame: number, channel: number): number {
  const h1 = mix32(mix32(mix32(seed | 0) ^ (frame | 0)) ^ Math.imul(channel + 1, 0x9e3779b9));
  const h2 = mix32(h1 ^ 0x5bd1e995);
  const u1 = (h1 + 1) / 4294967297; // (0, 1)
  const u2 = h2 / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** noise [1, channels, frames] · scale for frames [frameOffset, frameOffset + frames). */
export function noiseTensor(seed: number, frameOffset: number, frames: number, channels: number, scale: number): Float32Array {
  const out = new Float32Array(channels * frames);
  for (let c = 0; c < channels; c++) for (let k = 0; k < frames; k++) out[c * frames + k] = frameNoise(seed, frameOffset + k, c) * scale;
  return out;
}

/**
 * Cycles the NSF fundamental advances during one frame at f0 (the generator accumulates frac(f0·hop/sr)
 * per frame and restarts at 0 in every call; every overtone m advances m times this, mod 1).
 */
export function sourceAdvanceCycles(f0Hz: number, hopSamples: number, sampleRate: number): number {
  const x = (f0Hz * hopSamples) / sampleRate;
  return x - Math.floor(x);
}

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

/** Semitones → frequency ratio. */
export function pitchRatio(semitones: number): number {
  return 2 ** (semitones / 12);
}

/** Median of the voiced f0 values (0 when none). */
export function medianVoicedF0(f0Hz: ArrayLike<number>, voiced: ArrayLike<number>): number {
  const values: number[] = [];
  for (let i = 0; i < f0Hz.length; i++) if (voiced[i] && f0Hz[i]! > 0) values.push(f0Hz[i]!);
  if (values.length === 0) return 0;
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2;
}

/**
 * Auto-pitch: the whole-semitone shift (clamped to ±24) that moves the input's median voiced f0 nearest
 * to the speaker's typical f0. 0 when the input has no voiced frame.
 */
export function autoPitchSemitones(inputMedianHz: number, targetHz: number): number {
  if (!(inputMedianHz > 0) || !(targetHz > 0)) return 0;
  return Math.max(-24, Math.min(24, Math.round(12 * Math.log2(targetHz / inputMedianHz))));
}

/** Typical f0 of a speaker: manifest.speaker_f0_hz[name], else manifest.speaker_f0_hz["*"]; undefined if unknown. */
export function speakerTypicalF0(manifest: SovitsManifest, speakerId: number): number | undefined {
  const table = (manifest as SovitsManifest & { speaker_f0_hz?: Record<string, number> }).speaker_f0_hz;
  if (!table) return undefined;
  const name = speakerName(manifest, speakerId);
  const value = (name !== undefined ? table[name] : undefined) ?? table['*'];
  return typeof value === 'number' && value > 0 ? value : undefined;
}

/**
 * f0 the generator takes at an unvoiced frame k, between the previous voiced frame p (f0 prevHz; p < 0:
 * none) and the next voiced frame q (nextHz; q = Infinity: none known), seeing at most `lookaheadFrames`
 * ahead: gaps that close within the look-ahead are interpolated linearly (so-vits-svc / np.interp);
 * a longer gap holds prevHz and glides to nextHz over its last `lookaheadFrames` frames. With an infinite
 * look-ahead this is exactly upstream's interpolation; the streaming stage uses a finite one (it cannot
 * see further), and offline conversion can use the same to match it.
 */
export function unvoicedF0(k: number, p: number, prevHz: number, q: number, nextHz: number, lookaheadFrames: number): number {
  const nextVisible = Number.isFinite(q) && q - k <= lookaheadFrames && nextHz > 0;
  if (!nextVisible) return p >= 0 ? prevHz : 0;
  if (!(p >= 0 && prevHz > 0)) return nextHz;
  const s = Math.max(p, q - lookaheadFrames);
  if (k <= s) return prevHz;
  return prevHz + ((nextHz - prevHz) * (k - s)) / (q - s);
}

/**
 * f0 track → what the generator takes: uv from voicing, unvoiced frames filled (unvoicedF0; default:
 * linear interpolation between voiced neighbours with the edges held, as so-vits-svc), times the ratio.
 */
export function prepareF0(f0Hz: Float32Array, voiced: Uint8Array, ratio: number, gapLookaheadFrames = Infinity): { f0Hz: Float32Array; uv: Float32Array } {
  const n = f0Hz.length;
  const filled = new Float32Array(n);
  const uv = new Float32Array(n);
  const isVoiced = (i: number) => voiced[i] === 1 && f0Hz[i]! > 0;
  // next[i]: first voiced frame ≥ i (Infinity when none).
  const next = new Float64Array(n + 1);
  next[n] = Infinity;
  for (let i = n - 1; i >= 0; i--) next[i] = isVoiced(i) ? i : next[i + 1]!;
  let p = -1;
  for (let i = 0; i < n; i++) {
    if (isVoiced(i)) {
      uv[i] = 1;
      filled[i] = f0Hz[i]!;
      p = i;
      continue;
    }
    const q = next[i]!;
    filled[i] = unvoicedF0(i, p, p >= 0 ? f0Hz[p]! : 0, q, Number.isFinite(q) ? f0Hz[q]! : 0, gapLookaheadFrames);
  }
  if (ratio !== 1) for (let i = 0; i < n; i++) filled[i] = filled[i]! * ratio;
  return { f0Hz: filled, uv };
}

/** Raised-cosine weight rising 0 → 1 over n samples, at sample i. */
function fadeIn(i: number, n: number): number {
  return 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / n);
}

// ---------------------------------------------------------------------------------------------
// 16 kHz feed for the content encoder

/**
 * Model-rate audio → 16 kHz, chunk by chunk, with the resampler's delay removed by pre-padding so that
 * output sample j is the input at time j/16000 s. Any chunking gives identical samples, so the offline
 * converter and the streaming stage feed the encoder the same audio.
 */
export class EncoderFeed {
  private readonly resampler: StreamingResampler | null;
  private toDrop: number;
  /** Model-rate input samples still inside the resampler before output sample j exists (its lookahead). */
  readonly lookaheadInputSamples: number;

  constructor(readonly fromRate: number) {
    if (fromRate === ENCODER_RATE) {
      this.resampler = null;
      this.toDrop = 0;
      this.lookaheadInputSamples = 0;
      return;
    }
    this.resampler = new StreamingResampler({ fromRate, toRate: ENCODER_RATE, quality: ENCODER_RESAMPLER_QUALITY });
    const g = gcd(fromRate, ENCODER_RATE);
    const step = fromRate / g;
    const half = this.resampler.filterLengthSamples / 2;
    const pad = (step - (half % step)) % step;
    this.toDrop = ((half + pad) * ENCODER_RATE) / fromRate;
    this.lookaheadInputSamples = Math.ceil(half);
    this.drop(this.resampler.process(new Float32Array(pad)));
  }

  static ready(): Promise<void> {
    return StreamingResampler.ready();
  }

  process(chunk: Float32Array): Float32Array {
    if (!this.resampler) return Float32Array.from(chunk);
    return this.drop(this.resampler.process(chunk));
  }

  flush(): Float32Array {
    if (!this.resampler) return new Float32Array(0);
    return this.drop(this.resampler.flush());
  }

  private drop(samples: Float32Array): Float32Array {
    if (this.toDrop <= 0) return samples;
    const cut = Math.min(this.toDrop, samples.length);
    this.toDrop -= cut;
    return samples.subarray(cut).slice();
  }

  dispose(): void {
    this.resampler?.dispose();
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
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
    throw new SvcError('MODEL_INVALID', `model bundle ${dir}: config.json is not JSON (${(error as Error).message})`);
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

  private constructor(
    readonly bundle: SovitsBundle,
    /** The graphs this model runs ('int8': the bundle's manifest.int8 files). */
    readonly precision: 'float32' | 'int8',
    readonly generator: OnnxModel,
    readonly encoder: OnnxModel,
    private readonly encoderConvention: 'source-embed' | 'audio-units',
    private readonly encoderInput: string,
    private readonly encoderOutput: string,
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
    let encoder: OnnxModel | undefined;
    try {
      checkGeneratorGraph(generator, m, dir);
      encoder = await createSession(encoderPath, sessionOptions);
      const { convention, input, output } = checkEncoderGraph(encoder, m, encoderPath);
      const model = new SovitsModel(bundle, precision, generator, encoder, convention, input, output);
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
    const dims = this.encoderConvention === 'source-embed' ? [1, 1, audio16k.length] : [1, audio16k.length];
    const out = await this.encoder.run({ [this.encoderInput]: { data: audio16k, dims } });
    const tensor = out[this.encoderOutput]!;
    const [, rows = 0, dim = 0] = tensor.dims;
    if (tensor.dims.length !== 3 || dim !== this.contentDim) {
      throw new SvcError('MODEL_INVALID', `content encoder ${this.encoder.modelPath} returned ${this.encoderOutput} [${tensor.dims.join(',')}]; expected [1, rows, ${this.contentDim}] for a model with ssl_dim ${this.contentDim} (${this.manifest.speech_encoder})`, {
        hint: `use the ${this.manifest.speech_encoder} encoder the model was trained with`,
      });
    }
    return { content: tensor.data as Float32Array, rows };
  }

  /** One generator call: frames [frameOffset, frameOffset + frames) → frames·hop samples. */
  async generate(window: GeneratorWindow, options: GenerateOptions): Promise<Float32Array> {
    const frames = window.f0Hz.length;
    const f0 = options.sourcePhaseCycles === undefined ? window.f0Hz : alignSourcePhase(window.f0Hz, options.sourcePhaseCycles, this.hopSamples, this.sampleRate);
    const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
      c: { data: window.content, dims: [1, window.rows, this.contentDim] },
      f0: { data: f0, dims: [1, frames] },
      mel2ph: { data: window.mel2ph, dims: [1, frames] },
      uv: { data: window.uv, dims: [1, frames] },
      noise: { data: noiseTensor(options.seed, window.frameOffset, frames, this.interChannels, options.noiseScale), dims: [1, this.interChannels, frames] },
      sid: speakerFeed(this.manifest, { speakerId: options.speakerId, mix: options.mix ?? null }, frames),
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
    await Promise.all([this.generator.dispose(), this.encoder.dispose()]);
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

function checkEncoderGraph(encoder: OnnxModel, m: SovitsManifest, path: string): { convention: 'source-embed' | 'audio-units'; input: string; output: string } {
  if (encoder.inputs.length !== 1) {
    throw new SvcError('MODEL_INVALID', `content encoder ${path} has inputs ${encoder.describeInputs()}; expected one audio input (source [1,1,N] or audio [1,N])`);
  }
  const input = encoder.inputs[0]!;
  const rank = input.hasShape ? input.dims.length : m.encoder?.convention === 'audio-units' ? 2 : 3;
  const convention = rank === 2 ? 'audio-units' : rank === 3 ? 'source-embed' : undefined;
  if (!convention || (input.type !== 'unknown' && input.type !== 'float32')) {
    throw new SvcError('MODEL_INVALID', `content encoder ${path} takes ${encoder.describeInputs()}; expected float32 source [1,1,N] or audio [1,N] at 16 kHz`);
  }
  if (m.encoder && m.encoder.convention !== convention) {
    throw new SvcError('MODEL_INVALID', `content encoder ${path} is ${convention} (input rank ${rank}) but the manifest says ${m.encoder.convention}`);
  }
  const outputName = m.encoder?.output && encoder.outputNames.includes(m.encoder.output) ? m.encoder.output : encoder.outputNames[0]!;
  const output = encoder.outputs.find((o) => o.name === outputName);
  const dim = output?.hasShape ? output.dims[output.dims.length - 1] : undefined;
  if (typeof dim === 'number' && dim >= 0 && dim !== m.ssl_dim) {
    throw new SvcError('MODEL_INVALID', `content encoder ${path} gives ${dim}-d features but the generator takes ${m.ssl_dim}-d (${m.speech_encoder})`, {
      hint: `use the ${m.speech_encoder} encoder the model was trained with`,
    });
  }
  return { convention, input: input.name, output: outputName };
}

// ---------------------------------------------------------------------------------------------
// Content rows, incrementally and offline

export interface EncoderContext {
  /** Rows of left context re-encoded before the first wanted row (bounded re-run context). */
  leftRows: number;
  /** Rows after the last wanted row that must exist before it is final (encoder look-ahead). */
  rightRows: number;
}

/**
 * Default encoder context. HuBERT-size encoders are global (attention): 0.3 s left / 3 rows right, the
 * streaming stage's per-block cost being block + this context (25 rows = 0.5 s cost ~60 % more per 200 ms
 * block than 15). How close bounded-context rows come to whole-file rows depends on the trained weights;
 * the random-weight reference HuBERT attends almost uniformly, so its rows never match (row SNR 5–9 dB at
 * 0–50 rows) while the generator output still does (≥ 45 dB): `encoderContext` overrides this per stage.
 */
export function defaultEncoderContext(model: SovitsModel): EncoderContext {
  const kind = model.manifest.encoder?.kind;
  return kind === 'tiny_conv' ? { leftRows: 2, rightRows: 2 } : { leftRows: 15, rightRows: 3 };
}

/**
 * Rows [fromRow, toRow) of a 16 kHz signal whose sample 0 is absolute sample `audioStart` (a multiple of
 * 320, ≥ 0). The encoder runs on [320·max(0, fromRow − left), min(end, 320·(toRow + right) + 80)) and
 * only the wanted rows are kept, so rows do not depend on where a run starts (exactly, for encoders whose
 * receptive field fits the context; approximately for global ones such as HuBERT).
 */
export async function encodeRows(model: SovitsModel, audio: Float32Array, audioStart: number, fromRow: number, toRow: number, context: EncoderContext): Promise<Float32Array> {
  const dim = model.contentDim;
  const out = new Float32Array(Math.max(0, toRow - fromRow) * dim);
  if (toRow <= fromRow) return out;
  const firstRow = Math.max(0, fromRow - context.leftRows);
  const start = firstRow * ENCODER_HOP;
  const end = Math.min(audioStart + audio.length, (toRow + context.rightRows) * ENCODER_HOP + (ENCODER_WINDOW - ENCODER_HOP));
  if (start < audioStart) throw new SvcError('INTERNAL', `encoder context starts at ${start}, before the kept audio (${audioStart})`);
  const { content, rows } = await model.encode(audio.subarray(start - audioStart, end - audioStart));
  for (let r = fromRow; r < toRow; r++) {
    const local = Math.min(rows - 1, r - firstRow);
    if (local < 0) continue;
    out.set(content.subarray(local * dim, (local + 1) * dim), (r - fromRow) * dim);
  }
  return out;
}

/** All rows of a 16 kHz signal, encoded in runs of at most `maxRows` wanted rows (bounded memory). */
export async function encodeAllRows(model: SovitsModel, audio16k: Float32Array, context: EncoderContext, maxRows = 1500): Promise<{ content: Float32Array; rows: number }> {
  const padded = audio16k.length >= ENCODER_WINDOW ? audio16k : (() => {
    const p = new Float32Array(ENCODER_WINDOW);
    p.set(audio16k);
    return p;
  })();
  const rows = encoderRowCount(padded.length);
  const content = new Float32Array(rows * model.contentDim);
  for (let from = 0; from < rows; from += maxRows) {
    const to = Math.min(rows, from + maxRows);
    content.set(await encodeRows(model, padded, 0, from, to, context), from * model.contentDim);
  }
  return { content, rows };
}

// ---------------------------------------------------------------------------------------------
// Offline conversion

export interface ConvertOptions {
  speaker?: string | number;
  /** Pitch shift in semitones (added to the auto-pitch shift when both are given). */
  pitch?: number;
  /** Shift so the input's median f0 lands on the speaker's typical f0 (manifest speaker_f0_hz or targetF0Hz). */
  autoPitch?: boolean;
  /** Typical f0 of the target voice for auto-pitch, Hz (overrides the manifest). */
  targetF0Hz?: number;
  f0Method?: F0Method;
  /** The f0 estimator's low-latency mode (what the streaming stage uses; default false offline). */
  f0LowLatency?: boolean;
  noiseScale?: number;
  seed?: number;
  mapping?: ContentMapping;
  /** Look-ahead (frames) of the unvoiced-gap fill (unvoicedF0); default Infinity = so-vits-svc's interpolation. */
  f0GapLookaheadFrames?: number;
  /** Generator frames per slice for long inputs (default ≈ 20 s). */
  sliceFrames?: number;
  /** Context frames re-run on each side of a slice boundary, and crossfaded (default ≈ 0.5 s / 0.1 s). */
  sliceContextFrames?: number;
  crossfadeFrames?: number;
  encoderContext?: EncoderContext;
  /** Receives the generator inputs (tests: parity with the PyTorch reference). */
  onFeatures?: (features: OfflineFeatures) => void;
  onProgress?: (done: number, total: number) => void;
}

export interface OfflineFeatures {
  audio16k: Float32Array;
  content: Float32Array;
  rows: number;
  mel2ph: BigInt64Array;
  f0Hz: Float32Array;
  uv: Float32Array;
  vol: Float32Array;
  speakerId: number;
  noiseScale: number;
  seed: number;
  pitchSemitones: number;
  frames: number;
}

export interface ConvertResult {
  samples: Float32Array;
  sampleRate: number;
  pitchSemitones: number;
  speakerId: number;
  /** The speaker's name in speakers.json (its id as text when it has none); a mix lists `name weight` pairs. */
  speakerName: string;
  frames: number;
}

function validateConvertOptions(options: ConvertOptions): void {
  if (options.pitch !== undefined && !(Number.isFinite(options.pitch) && Math.abs(options.pitch) <= 36)) {
    throw new SvcError('INVALID_ARGUMENT', `pitch must be a number of semitones from -36 to 36, got ${options.pitch}`);
  }
  if (options.noiseScale !== undefined && !(Number.isFinite(options.noiseScale) && options.noiseScale >= 0 && options.noiseScale <= 2)) {
    throw new SvcError('INVALID_ARGUMENT', `noise scale must be from 0 to 2 (so-vits-svc uses 0.4), got ${options.noiseScale}`);
  }
  if (options.targetF0Hz !== undefined && !(options.targetF0Hz >= 50 && options.targetF0Hz <= 1100)) {
    throw new SvcError('INVALID_ARGUMENT', `target f0 must be 50..1100 Hz, got ${options.targetF0Hz}`);
  }
}

/** Resolves the pitch shift (auto-pitch + manual) for an input f0 track. */
export function resolvePitch(model: SovitsModel, speakerId: number, f0Hz: Float32Array, voiced: Uint8Array, options: Pick<ConvertOptions, 'pitch' | 'autoPitch' | 'targetF0Hz'>): number {
  let semitones = options.pitch ?? 0;
  if (options.autoPitch) {
    const target = options.targetF0Hz ?? speakerTypicalF0(model.manifest, speakerId);
    if (target === undefined) {
      throw new SvcError('INVALID_ARGUMENT', `auto-pitch needs the speaker's typical f0, and model ${model.name} does not record one (manifest speaker_f0_hz)`, {
        hint: 'pass --target-f0 HZ (e.g. 120 for a low voice, 220 for a high one) or set --pitch N yourself',
      });
    }
    semitones += autoPitchSemitones(medianVoicedF0(f0Hz, voiced), target);
  }
  return semitones;
}

/**
 * Offline conversion of mono audio at the model rate. Returns exactly `samples.length` samples at the
 * model rate. The generator runs in overlapping slices (sliceFrames) crossfaded over crossfadeFrames,
 * with the NSF source phase and the noise continued across slices.
 */
export async function convertAtModelRate(model: SovitsModel, samples: Float32Array, options: ConvertOptions = {}): Promise<ConvertResult> {
  validateConvertOptions(options);
  const sr = model.sampleRate;
  const hop = model.hopSamples;
  const { speakerId, mix } = model.speakerChoice(options.speaker);
  const noiseScale = options.noiseScale ?? DEFAULT_NOISE_SCALE;
  const seed = options.seed ?? 0;
  const mapping = options.mapping ?? 'time';
  const n = samples.length;
  if (n === 0) throw new SvcError('FILE_EMPTY', 'the input holds no audio samples');

  // f0 on the model-rate audio at the model hop: floor(n/hop) frames; the generator makes ceil(n/hop).
  const track = await estimateF0(samples, sr, { method: options.f0Method ?? DEFAULT_F0_METHOD, hopSamples: hop, lowLatency: options.f0LowLatency ?? false });
  const frames = Math.max(1, Math.ceil(n / hop));
  const rawF0 = new Float32Array(frames);
  const voiced = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) {
    const j = Math.min(k, track.f0Hz.length - 1);
    if (j >= 0) {
      rawF0[k] = track.f0Hz[j]!;
      voiced[k] = track.voiced[j]!;
    }
  }
  const pitchSemitones = resolvePitch(model, speakerId, rawF0, voiced, options);
  const { f0Hz, uv } = prepareF0(rawF0, voiced, pitchRatio(pitchSemitones), options.f0GapLookaheadFrames ?? Infinity);
  const vol = new Float32Array(frames);
  if (model.volEmbedding) {
    const v = volumeRms(samples, hop);
    for (let k = 0; k < frames; k++) vol[k] = v[Math.min(k, v.length - 1)] ?? 0;
  }

  // Content: 16 kHz feed (same resampling as streaming) → encoder rows → mel2ph.
  await EncoderFeed.ready();
  const feed = new EncoderFeed(sr);
  let audio16k: Float32Array;
  try {
    const head = feed.process(samples);
    const tail = feed.flush();
    const total = Math.round((n * ENCODER_RATE) / sr);
    audio16k = new Float32Array(total);
    audio16k.set(head.subarray(0, total));
    if (head.length < total) audio16k.set(tail.subarray(0, total - head.length), head.length);
  } finally {
    feed.dispose();
  }
  const { content, rows } = await encodeAllRows(model, audio16k, options.encoderContext ?? defaultEncoderContext(model));
  const mel2ph = buildMel2ph(frames, rows, mapping, hop, sr);
  options.onFeatures?.({ audio16k, content, rows, mel2ph, f0Hz, uv, vol, speakerId, noiseScale, seed, pitchSemitones, frames });

  const out = await generateSliced(model, { content, rows, mel2ph, f0Hz, uv, vol, frameOffset: 0 }, { speakerId, mix, noiseScale, seed }, options);
  const nameOf = (id: number): string => speakerName(model.manifest, id) ?? String(id);
  const label = mix ? mix.map((entry) => `${nameOf(entry.id)} ${entry.weight.toFixed(2)}`).join(' + ') : nameOf(speakerId);
  return { samples: out.subarray(0, n).slice(), sampleRate: sr, pitchSemitones, speakerId, speakerName: label, frames };
}

/** Phase (cycles) of the NSF fundamental at the start of frame k, summing each frame's advance. */
export function sourcePhaseAt(f0Hz: Float32Array, frame: number, hopSamples: number, sampleRate: number): number {
  let phase = 0;
  for (let k = 0; k < frame; k++) phase += sourceAdvanceCycles(f0Hz[k]!, hopSamples, sampleRate);
  return phase - Math.floor(phase);
}

async function generateSliced(model: SovitsModel, all: GeneratorWindow, generate: Omit<GenerateOptions, 'sourcePhaseCycles'>, options: ConvertOptions): Promise<Float32Array> {
  const hop = model.hopSamples;
  const sr = model.sampleRate;
  const frames = all.f0Hz.length;
  const framesPerSecond = sr / hop;
  const slice = Math.max(8, options.sliceFrames ?? Math.round(20 * framesPerSecond));
  const context = Math.max(0, options.sliceContextFrames ?? Math.round(0.5 * framesPerSecond));
  const fade = Math.max(1, Math.min(context, options.crossfadeFrames ?? Math.max(1, Math.round(0.1 * framesPerSecond))));
  const out = new Float32Array(frames * hop);
  const dim = model.contentDim;
  for (let from = 0; from < frames; from += slice) {
    const to = Math.min(frames, from + slice);
    const runFrom = Math.max(0, from - context);
    const runTo = Math.min(frames, to + context);
    // The slice's rows: only those its frames use, renumbered (mel2ph stays 1-based, 0 = zero row).
    let minRow = Infinity;
    let maxRow = -1;
    for (let k = runFrom; k < runTo; k++) {
      const r = Number(all.mel2ph[k]!) - 1;
      if (r < 0) continue;
      minRow = Math.min(minRow, r);
      maxRow = Math.max(maxRow, r);
    }
    if (maxRow < 0) minRow = maxRow = 0;
    const mel2ph = new BigInt64Array(runTo - runFrom);
    for (let k = runFrom; k < runTo; k++) {
      const r = Number(all.mel2ph[k]!) - 1;
      mel2ph[k - runFrom] = r < 0 ? 0n : BigInt(r - minRow + 1);
    }
    const window: GeneratorWindow = {
      content: all.content.subarray(minRow * dim, (maxRow + 1) * dim),
      rows: maxRow - minRow + 1,
      mel2ph,
      f0Hz: all.f0Hz.subarray(runFrom, runTo),
      uv: all.uv.subarray(runFrom, runTo),
      vol: all.vol.subarray(runFrom, runTo),
      frameOffset: runFrom,
    };
    const phase = runFrom === 0 ? undefined : sourcePhaseAt(all.f0Hz, runFrom, hop, sr);
    const audio = await model.generate(window, { ...generate, sourcePhaseCycles: phase });
    // Keep [from − fade/2, to + fade/2) of this run; crossfade the overlap with the previous slice.
    const keepFrom = from === 0 ? 0 : (from - Math.floor(fade / 2)) * hop;
    const keepTo = to === frames ? frames * hop : (to + Math.ceil(fade / 2)) * hop;
    const fadeSamples = fade * hop;
    for (let s = keepFrom; s < keepTo; s++) {
      const v = audio[s - runFrom * hop] ?? 0;
      if (from > 0 && s < keepFrom + fadeSamples) {
        const w = fadeIn(s - keepFrom, fadeSamples);
        out[s] = out[s]! * (1 - w) + v * w;
      } else out[s] = v;
    }
    options.onProgress?.(to, frames);
  }
  return out;
}

/**
 * Offline conversion of mono audio at any rate: resampled to the model rate, converted, and returned at
 * the model rate or back at the input's rate (outputRate 'input', the default).
 */
export async function convertMono(model: SovitsModel, samples: Float32Array, sampleRate: number, options: ConvertOptions & { outputRate?: 'input' | 'model' } = {}): Promise<ConvertResult> {
  const atModelRate = sampleRate === model.sampleRate ? samples : await resample(samples, sampleRate, model.sampleRate);
  const result = await convertAtModelRate(model, atModelRate, options);
  if ((options.outputRate ?? 'input') === 'model' || sampleRate === model.sampleRate) return result;
  const back = await resample(result.samples, model.sampleRate, sampleRate);
  // Exactly the input's length (resampling rounds).
  const out = new Float32Array(samples.length);
  out.set(back.subarray(0, samples.length));
  return { ...result, samples: out, sampleRate };
}
