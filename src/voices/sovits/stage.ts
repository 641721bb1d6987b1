// The So-VITS neural voice as a streaming converter stage. To the pipeline it is stateless per window:
// it gets `contextSamples` of past input plus one block at the model's rate, returns the converted audio
// for that whole window, and the pipeline SOLA-stitches consecutive windows. Inside, everything that is
// expensive or needs a long history is computed once per sample on an absolute timeline (sample 0 = the
// first block) and cached:
//   - f0 (F0Stream at the model hop) and vol (VolumeStream): incremental, frame k centred at k·hop;
//   - the 16 kHz encoder feed (EncoderFeed) in a bounded buffer, and the content rows: each call encodes
//     only the rows that became final, re-running a bounded left context (EncoderContext);
//   - the NSF source phase, accumulated over final frames, so that each window continues it.
// Only the generator re-runs per window, and only on what SOLA can emit plus bounded context: its left
// context (leftContextMs, per model size) + SOLA's crossfade/search + the block + rightContextFrames; the
// rest of the look-ahead is never emitted, so it is not generated (silence in the returned window).
// Because the timeline, the noise (hashed by frame), the f0 and the rows are those of the offline
// converter (src/voices/sovits/model.ts), streamed output matches offline output outside SOLA's crossfades.
// `lookaheadSamples` is what the features need before the right edge of a window is final.
import { SvcError } from '../../errors.js';
import { createF0Stream, type F0Method } from '../../dsp/f0/index.js';
import type { F0Stream } from '../../dsp/f0/stream.js';
import { VolumeStream } from '../../dsp/volume.js';
import {
  DEFAULT_NOISE_SCALE,
  ENCODER_HOP,
  ENCODER_RATE,
  ENCODER_WINDOW,
  EncoderFeed,
  contentRowForFrame,
  defaultEncoderContext,
  encodeRows,
  pitchRatio,
  sourceAdvanceCycles,
  unvoicedF0,
  type EncoderContext,
  type ModelPrecision,
  SovitsModel,
} from './model.js';
import type { SpeakerChoice } from './bundle.js';
import type { OnnxProvider } from '../../onnx/session.js';
import { loadModel, loadRvcModel, modelRoots, resolveModelDir } from '../registry.js';
import { isRvcBundleDir } from '../rvc/bundle.js';
import type { RvcModel } from '../rvc/model.js';
import { createRvcStageFactory, type RvcStageOptions } from '../rvc/stage.js';
import { MODEL_CONTROLS, type ConverterStage, type StageFactory, type VoiceParams } from '../stage.js';

export interface NeuralStageOptions {
  speaker?: string | number;
  f0Method?: F0Method;
  /** The f0 estimator's low-latency mode (truncated look-ahead; default true for streaming). */
  f0LowLatency?: boolean;
  noiseScale?: number;
  seed?: number;
  /** Generator left context before the emitted region, in ms (default per model size: defaultLeftContextMs). More = closer to offline, slower. */
  leftContextMs?: number;
  /** Generator frames after the emitted region that must be final (default 2). */
  rightContextFrames?: number;
  /** Look-ahead of the unvoiced-gap f0 fill in frames (default 2; see sovits.unvoicedF0). */
  f0GapLookaheadFrames?: number;
  encoderContext?: EncoderContext;
  /** Runs the generator over the whole window, look-ahead included (the old behaviour; for benchmarks). */
  generateWholeWindow?: boolean;
  /** Logs a line when a block had to restart the stream state (e.g. after skipped input). */
  log?: (message: string) => void;
}

/** Streaming f0 method default: YIN (70 ms latency in low-latency mode; SwiftF0/hybrid need 115–260 ms). */
export const DEFAULT_STREAM_F0_METHOD: F0Method = 'dsp';
export const DEFAULT_GAP_LOOKAHEAD_FRAMES = 2;

/**
 * Generator left context per model size, ms. Measured against offline on the standard reference bundle
 * (200 ms blocks, SNR outside crossfades): 0 ms 22.9 dB, 10 ms 45.3, 25 ms 45.5, 50 ms 45.7, 100 ms
 * 46.4, 150 ms 46.6 dB; 50 ms keeps a 2× margin over the cliff. Each 50 ms of context costs the 44.1 kHz
 * generator ~10 % of its per-block time. The tiny bundle's generator is cheap: it keeps 150 ms.
 */
export function defaultLeftContextMs(model: SovitsModel): number {
  return model.manifest.encoder?.kind === 'tiny_conv' ? 150 : 50;
}

/** Facts measured once per model (the f0 estimator's latency), shared by every stage of a factory. */
interface StageShape {
  f0LatencySamples: number;
  lookaheadSamples: number;
  contextSamples: number;
}

/** Growable frame-indexed buffer with a moving start (bounded by trimBefore). */
class FrameBuffer {
  private data: Float32Array;
  /** Absolute index of data[0]. */
  base = 0;
  length = 0;

  constructor(readonly width = 1, capacity = 1024) {
    this.data = new Float32Array(capacity * width);
  }

  get end(): number {
    return this.base + this.length;
  }

  push(values: ArrayLike<number>): void {
    const count = values.length / this.width;
    if ((this.length + count) * this.width > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, (this.length + count) * this.width));
      grown.set(this.data.subarray(0, this.length * this.width));
      this.data = grown;
    }
    this.data.set(values as Float32Array, this.length * this.width);
    this.length += count;
  }

  /** Row k (absolute) as a view, or undefined when it is not held. */
  row(k: number): Float32Array | undefined {
    if (k < this.base || k >= this.end) return undefined;
    const i = (k - this.base) * this.width;
    return this.data.subarray(i, i + this.width);
  }

  at(k: number): number | undefined {
    return k < this.base || k >= this.end ? undefined : this.data[(k - this.base) * this.width]!;
  }

  /** The held rows [base, end), row-major (a view). */
  view(): Float32Array {
    return this.data.subarray(0, this.length * this.width);
  }

  /** Forgets every row before absolute index k. */
  trimBefore(k: number): void {
    const drop = Math.min(this.length, k - this.base);
    if (drop <= 0) return;
    this.data.copyWithin(0, drop * this.width, this.length * this.width);
    this.length -= drop;
    this.base += drop;
  }
}

/** Per-stream state (recreated when the stream restarts). */
interface StreamState {
  f0: F0Stream;
  vol: VolumeStream | null;
  feed: EncoderFeed;
  /** Model-rate samples fed so far (the absolute index of the next one). */
  received: number;
  /** f0 frames: Hz (0 = unvoiced) and voiced flag. */
  f0Hz: FrameBuffer;
  voiced: FrameBuffer;
  volume: FrameBuffer;
  /** Last voiced frame (absolute) and its f0, also when it was trimmed. */
  lastVoicedFrame: number;
  lastVoicedHz: number;
  firstVoicedHz: number;
  /** 16 kHz encoder input (absolute samples). */
  audio16k: FrameBuffer;
  /** Final content rows [rows.base, rows.end). */
  rows: FrameBuffer;
  /** Source phase (cycles) committed at the start of frame phaseFrame. */
  phaseFrame: number;
  phaseCycles: number;
}

export class NeuralStage implements ConverterStage {
  readonly name: string;
  readonly sampleRate: number;
  readonly stateful = false;
  /** The timbre is the model speaker's: only the pitch shift applies. */
  readonly controls = MODEL_CONTROLS;
  readonly lookaheadSamples: number;
  readonly contextSamples: number;
  private readonly hop: number;
  private readonly speakerId: number;
  private readonly speakerMix: SpeakerChoice['mix'];
  private readonly noiseScale: number;
  private readonly seed: number;
  private readonly rightFrames: number;
  /** Look-ahead of the unvoiced-gap f0 fill, in frames. */
  readonly gapFrames: number;
  private readonly encoderContext: EncoderContext;
  private ratio: number;
  private state: StreamState | null = null;
  private previousWindow: Float32Array | null = null;
  private blockSamples = 0;
  private disposed = false;

  constructor(readonly model: SovitsModel, voice: VoiceParams, private readonly options: NeuralStageOptions, shape: StageShape) {
    if (!model.isOpen) throw new SvcError('INTERNAL', `model ${model.name} was already released`);
    this.name = model.name;
    this.sampleRate = model.sampleRate;
    this.hop = model.hopSamples;
    ({ speakerId: this.speakerId, mix: this.speakerMix } = model.speakerChoice(options.speaker));
    this.noiseScale = options.noiseScale ?? DEFAULT_NOISE_SCALE;
    this.seed = options.seed ?? 0;
    this.rightFrames = options.rightContextFrames ?? 2;
    this.gapFrames = options.f0GapLookaheadFrames ?? DEFAULT_GAP_LOOKAHEAD_FRAMES;
    this.encoderContext = options.encoderContext ?? defaultEncoderContext(model);
    this.lookaheadSamples = shape.lookaheadSamples;
    this.contextSamples = shape.contextSamples;
    this.ratio = pitchRatio(voice.pitch);
  }

  setVoice(voice: Partial<VoiceParams>): void {
    // The neural voice's timbre is the model speaker's: formant does not apply.
    if (voice.pitch !== undefined) this.ratio = pitchRatio(voice.pitch);
  }

  reset(): void {
    this.previousWindow = null;
    this.dropState();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropState();
  }

  private dropState(): void {
    const s = this.state;
    this.state = null;
    if (!s) return;
    s.feed.dispose();
    s.vol?.dispose();
    void s.f0.dispose().catch(() => {});
  }

  private async newState(): Promise<StreamState> {
    await EncoderFeed.ready();
    const f0 = await createF0Stream(this.sampleRate, { method: this.options.f0Method ?? DEFAULT_STREAM_F0_METHOD, hopSamples: this.hop, lowLatency: this.options.f0LowLatency ?? true });
    return {
      f0,
      vol: this.model.volEmbedding ? new VolumeStream(this.hop) : null,
      feed: new EncoderFeed(this.sampleRate),
      received: 0,
      f0Hz: new FrameBuffer(),
      voiced: new FrameBuffer(),
      volume: new FrameBuffer(),
      lastVoicedFrame: -1,
      lastVoicedHz: 0,
      firstVoicedHz: 0,
      audio16k: new FrameBuffer(1, 16384),
      rows: new FrameBuffer(this.model.contentDim, 256),
      phaseFrame: 0,
      phaseCycles: 0,
    };
  }

  /** New input since the previous window: the block, or more after blocks the pipeline skipped; null = discontinuity. */
  private newSamples(window: Float32Array): Float32Array | null {
    const previous = this.previousWindow;
    if (!previous || this.blockSamples === 0) return null;
    const w = window.length;
    for (let shift = this.blockSamples; shift < w; shift += this.blockSamples) {
      let same = true;
      for (let i = 0, n = w - shift; i < n; i++) {
        if (window[i] !== previous[i + shift]) {
          same = false;
          break;
        }
      }
      if (same) return window.subarray(w - shift);
    }
    return null;
  }

  async process(window: Float32Array): Promise<Float32Array> {
    if (this.disposed) throw new SvcError('INTERNAL', `neural stage ${this.name} used after dispose`);
    const w = window.length;
    if (this.blockSamples === 0) this.blockSamples = Math.max(1, w - Math.max(0, this.contextSamples));
    let fresh = this.newSamples(window);
    if (fresh === null || !this.state) {
      if (this.state && this.previousWindow) this.options.log?.(`neural stage ${this.name}: input is not continuous; restarting its features`);
      const firstEver = this.previousWindow === null && this.state === null;
      this.dropState();
      this.state = await this.newState();
      // The very first window is zeros + the first block: the stream starts at the block (as a file
      // starts at its first sample). After a discontinuity the whole window becomes the new history.
      fresh = firstEver ? window.subarray(w - this.blockSamples) : window;
    }
    this.previousWindow = window;
    const s = this.state!;
    await this.feed(s, fresh);
    // The generator stops `rightFrames` frames after the last sample SOLA can use (the window's last
    // lookaheadSamples are never emitted): re-running that look-ahead region each block was ~40 % of the
    // generator's work at 200 ms blocks for nothing. The unused tail of the returned window is silence.
    const start = s.received - w;
    const usedEnd = s.received - this.lookaheadSamples;
    const generateEnd = this.options.generateWholeWindow ? s.received : Math.min(s.received, (Math.ceil(usedEnd / this.hop) + this.rightFrames) * this.hop);
    return this.generateWindow(s, start, Math.max(1, generateEnd - start), w);
  }

  /** Block size the pipeline uses; called by the factory's sessions through `prepare` when available. */
  prepare(shape: { blockSamples: number; windowSamples: number }): void {
    this.blockSamples = shape.blockSamples;
  }

  private async feed(s: StreamState, samples: Float32Array): Promise<void> {
    s.received += samples.length;
    const frames = await s.f0.process(samples);
    for (const f of frames) {
      s.f0Hz.push([f.f0Hz]);
      s.voiced.push([f.voiced ? 1 : 0]);
      if (f.voiced && f.f0Hz > 0) {
        if (s.lastVoicedFrame < 0) s.firstVoicedHz = f.f0Hz;
        s.lastVoicedFrame = f.index;
        s.lastVoicedHz = f.f0Hz;
      }
    }
    if (s.vol) s.volume.push(s.vol.process(samples));
    s.audio16k.push(s.feed.process(samples));
    await this.encodeFinalRows(s);
  }

  /** Encodes the rows whose input (and the encoder's right context) has fully arrived. */
  private async encodeFinalRows(s: StreamState): Promise<void> {
    const available = s.audio16k.end;
    const { leftRows, rightRows } = this.encoderContext;
    const finalRows = Math.floor((available - (ENCODER_WINDOW - ENCODER_HOP)) / ENCODER_HOP) - rightRows;
    const from = s.rows.end;
    if (finalRows <= from) return;
    const audioStart = s.audio16k.base;
    const audio = s.audio16k.view();
    s.rows.push(await encodeRows(this.model, audio, audioStart, from, finalRows, this.encoderContext));
    // Keep the audio the next run's left context needs.
    s.audio16k.trimBefore(Math.max(0, s.rows.end - leftRows) * ENCODER_HOP);
  }

  /** f0 the generator gets at frame k before the pitch shift (sovits.unvoicedF0 with this stage's gap look-ahead). */
  private f0At(s: StreamState, k: number): number {
    const known = s.f0Hz.end;
    if (k >= known) k = known - 1;
    if (k < 0) k = 0;
    const v = s.voiced.at(k);
    const hz = s.f0Hz.at(k);
    if (v && hz !== undefined && hz > 0) return hz;
    // Previous voiced frame: the tracked last one when k is past it, else search back.
    let p = -1;
    let prevHz = 0;
    if (k > s.lastVoicedFrame) {
      p = s.lastVoicedFrame;
      prevHz = s.lastVoicedHz;
    } else {
      for (let j = k - 1; j >= s.f0Hz.base; j--) {
        if (s.voiced.at(j) && s.f0Hz.at(j)! > 0) {
          p = j;
          prevHz = s.f0Hz.at(j)!;
          break;
        }
      }
    }
    // Next voiced frame within the look-ahead (only frames already known).
    let q = Infinity;
    let nextHz = 0;
    for (let j = k + 1; j <= Math.min(known - 1, k + this.gapFrames); j++) {
      if (s.voiced.at(j) && s.f0Hz.at(j)! > 0) {
        q = j;
        nextHz = s.f0Hz.at(j)!;
        break;
      }
    }
    return unvoicedF0(k, p, prevHz, q, nextHz, this.gapFrames);
  }

  /** Generates samples [start, start + length) of the stream into a zeroed array of `outLength` samples (the pipeline's window). */
  private async generateWindow(s: StreamState, start: number, length: number, outLength: number): Promise<Float32Array> {
    const hop = this.hop;
    const sr = this.sampleRate;
    const k0 = Math.floor(start / hop);
    const k1 = Math.ceil((start + length) / hop);
    const frames = k1 - k0;
    const f0Hz = new Float32Array(frames);
    const uv = new Float32Array(frames);
    const vol = new Float32Array(frames);
    const knownF0 = s.f0Hz.end;
    const knownVol = s.volume.end;
    for (let i = 0; i < frames; i++) {
      const k = k0 + i;
      f0Hz[i] = this.f0At(s, k) * this.ratio;
      if (k >= 0) {
        uv[i] = s.voiced.at(Math.min(k, knownF0 - 1)) ?? 0;
        vol[i] = s.volume.at(Math.min(k, knownVol - 1)) ?? 0;
      }
    }
    // Content rows for the frames: the time mapping; rows not final yet (look-ahead) hold the last one.
    const finalRows = s.rows.end;
    const mel2phRows = new Int32Array(frames);
    let minRow = Infinity;
    let maxRow = -1;
    for (let i = 0; i < frames; i++) {
      const k = k0 + i;
      if (k < 0 || finalRows === 0) {
        mel2phRows[i] = -1;
        continue;
      }
      const r = Math.max(s.rows.base, contentRowForFrame(k, 'time', hop, sr, finalRows, Infinity));
      mel2phRows[i] = r;
      minRow = Math.min(minRow, r);
      maxRow = Math.max(maxRow, r);
    }
    const dim = this.model.contentDim;
    let content: Float32Array;
    let rows: number;
    const mel2ph = new BigInt64Array(frames);
    if (maxRow < 0) {
      content = new Float32Array(dim);
      rows = 1;
    } else {
      rows = maxRow - minRow + 1;
      content = new Float32Array(rows * dim);
      for (let r = minRow; r <= maxRow; r++) content.set(s.rows.row(r)!, (r - minRow) * dim);
      for (let i = 0; i < frames; i++) mel2ph[i] = mel2phRows[i]! < 0 ? 0n : BigInt(mel2phRows[i]! - minRow + 1);
    }
    const audio = await this.model.generate(
      { content, rows, mel2ph, f0Hz, uv, vol, frameOffset: k0 },
      { speakerId: this.speakerId, mix: this.speakerMix, noiseScale: this.noiseScale, seed: this.seed, sourcePhaseCycles: this.phaseAt(s, k0, f0Hz) },
    );
    this.forget(s, k0);
    const offset = start - k0 * hop;
    const out = new Float32Array(outLength);
    out.set(audio.subarray(offset, offset + Math.min(length, outLength)));
    return out;
  }

  /**
   * Source phase at frame k0 (cycles), continuing the stream. Frames up to the last voiced one have
   * final f0 and are committed (with the pitch ratio of the time, as they were emitted); the open unvoiced
   * tail after it is summed afresh each call.
   */
  private phaseAt(s: StreamState, k0: number, windowF0: Float32Array): number {
    const hop = this.hop;
    const sr = this.sampleRate;
    if (k0 < 0) {
      // Frames before the stream start: the phase must reach 0 at frame 0 (the offline start).
      let sum = 0;
      for (let i = 0; i < Math.min(-k0, windowF0.length); i++) sum += sourceAdvanceCycles(windowF0[i]!, hop, sr);
      return -sum;
    }
    // Beyond ~4096 frames of open unvoiced tail the held f0 is committed anyway (bounded history).
    const commitTo = Math.min(k0, s.f0Hz.end, Math.max(s.lastVoicedFrame + 1, k0 - 4096));
    for (let k = s.phaseFrame; k < commitTo; k++) s.phaseCycles += sourceAdvanceCycles(this.f0At(s, k) * this.ratio, hop, sr);
    s.phaseCycles -= Math.floor(s.phaseCycles);
    s.phaseFrame = Math.max(s.phaseFrame, commitTo);
    let phase = s.phaseCycles;
    for (let k = s.phaseFrame; k < k0; k++) phase += sourceAdvanceCycles(this.f0At(s, k) * this.ratio, hop, sr);
    return phase - Math.floor(phase);
  }

  /** Drops frames and rows no later window can need (windows only move forward). */
  private forget(s: StreamState, k0: number): void {
    const keepFrame = Math.min(k0, s.phaseFrame) - 1;
    if (keepFrame > s.f0Hz.base + 4096) {
      s.f0Hz.trimBefore(keepFrame);
      s.voiced.trimBefore(keepFrame);
      s.volume.trimBefore(keepFrame);
    }
    const firstRow = Math.max(0, contentRowForFrame(Math.max(0, k0), 'time', this.hop, this.sampleRate, Number.MAX_SAFE_INTEGER, Infinity) - 1);
    if (firstRow > s.rows.base + 256) s.rows.trimBefore(firstRow);
  }
}

/**
 * Stage factory for a loaded model (the model is shared; each session gets its own stage and streams).
 * Measures the f0 estimator's latency once, to size the look-ahead.
 */
export async function createNeuralStageFactory(model: SovitsModel, options: NeuralStageOptions = {}): Promise<StageFactory & { shape: StageShape }> {
  await EncoderFeed.ready();
  model.speakerChoice(options.speaker); // unknown speaker or a mix the graph cannot take: fail now, not per session
  const probe = await createF0Stream(model.sampleRate, { method: options.f0Method ?? DEFAULT_STREAM_F0_METHOD, hopSamples: model.hopSamples, lowLatency: options.f0LowLatency ?? true });
  const f0LatencySamples = probe.latencySamples;
  await probe.dispose();
  const shape = neuralStageShape(model, f0LatencySamples, options);
  const factory: StageFactory = ({ voice }) => new NeuralStage(model, voice, options, shape);
  return Object.assign(factory, { shape });
}

/** Look-ahead and context of a model's stage (samples at the model rate). */
export function neuralStageShape(model: SovitsModel, f0LatencySamples: number, options: NeuralStageOptions = {}): StageShape {
  const sr = model.sampleRate;
  const hop = model.hopSamples;
  const right = options.rightContextFrames ?? 2;
  const { rightRows } = options.encoderContext ?? defaultEncoderContext(model);
  const feedLookahead = new EncoderFeed(sr);
  const resamplerLookahead = feedLookahead.lookaheadInputSamples;
  feedLookahead.dispose();
  // A row is final once 320·(row + 1 + rightRows) + 80 samples at 16 kHz exist (plus the resampler's look-ahead).
  const encoderLatency = Math.ceil((((1 + rightRows) * ENCODER_HOP + (ENCODER_WINDOW - ENCODER_HOP)) * sr) / ENCODER_RATE) + resamplerLookahead;
  const gap = options.f0GapLookaheadFrames ?? DEFAULT_GAP_LOOKAHEAD_FRAMES;
  // Frame k + right must be final when sample k·hop is emitted: its f0 needs `gap` more frames known.
  const lookaheadSamples = Math.max(f0LatencySamples + (right + gap + 1) * hop, encoderLatency + (right + 1) * hop) + hop;
  const leftContext = Math.round(((options.leftContextMs ?? defaultLeftContextMs(model)) * sr) / 1000);
  return { f0LatencySamples, lookaheadSamples, contextSamples: lookaheadSamples + leftContext + Math.round(0.02 * sr) };
}

export interface ModelResolverOptions extends Omit<NeuralStageOptions, 'speaker'> {
  provider?: OnnxProvider;
  intraOpThreads?: number;
  /** RVC voices' defaults (src/voices/rvc/stage.ts); clients change index rate and protect with `set`. */
  rvc?: Pick<RvcStageOptions, 'indexRate' | 'protect' | 'rmsMixRate'>;
  precision?: ModelPrecision;
  /** The built-in DSP voice's factory, for the name "builtin". */
  builtin: () => Promise<StageFactory>;
}

/**
 * Server-side model selection by name: "builtin" (the DSP voice) or an installed model, optionally with a
 * speaker ("NAME:SPEAKER"). Only installed names are accepted — never paths — since names come from
 * clients. Each model is loaded once (sessions, checks, warm-up) and shared by every session using it;
 * `close()` releases them all. A failed load is not cached, so a fixed bundle can be retried.
 */
export class ModelResolver {
  private readonly loaded = new Map<string, Promise<SovitsModel>>();
  private readonly factories = new Map<string, Promise<StageFactory>>();
  private readonly rvcLoaded = new Map<string, Promise<RvcModel>>();

  constructor(private readonly options: ModelResolverOptions) {}

  /** Stage factory for a protocol model name; rejects with MODEL_NOT_FOUND / MODEL_INVALID / INVALID_ARGUMENT. */
  resolve(name: string): Promise<StageFactory> {
    if (name === 'builtin') return this.options.builtin();
    const colon = name.indexOf(':');
    const modelName = colon < 0 ? name : name.slice(0, colon);
    const speaker = colon < 0 ? undefined : name.slice(colon + 1);
    if (!/^[\w][\w.-]*$/.test(modelName) || modelName.includes('..')) {
      return Promise.reject(new SvcError('MODEL_NOT_FOUND', `model names are installed folder names (letters, digits, '.', '-', '_'), got ${JSON.stringify(name)}`, { hint: 'see `svc models` on the server' }));
    }
    let factory = this.factories.get(name);
    if (!factory) {
      factory = this.isRvc(modelName, true)
        ? this.rvcModel(modelName, true).then((model) => createRvcStageFactory(model, { ...this.options.rvc, speaker, f0Method: this.options.f0Method }))
        : this.model(modelName, { installedOnly: true }).then((model) => createNeuralStageFactory(model, { ...this.options, speaker }));
      this.factories.set(name, factory);
      factory.catch(() => this.factories.delete(name));
    }
    return factory;
  }

  /** Loads (or reuses) a model by registry name or, for the server's own --model, a path (not `installedOnly`). */
  model(nameOrPath: string, options: { installedOnly?: boolean } = {}): Promise<SovitsModel> {
    let model = this.loaded.get(nameOrPath);
    if (!model) {
      model = loadModel(nameOrPath, { provider: this.options.provider, intraOpThreads: this.options.intraOpThreads, precision: this.options.precision, log: this.options.log, installedOnly: options.installedOnly });
      this.loaded.set(nameOrPath, model);
      model.catch(() => this.loaded.delete(nameOrPath));
    }
    return model;
  }

  /** True when a name or path resolves to an RVC bundle (src/voices/rvc); unknown names are left to the loaders' errors. */
  private isRvc(nameOrPath: string, installedOnly = false): boolean {
    try {
      return isRvcBundleDir(resolveModelDir(nameOrPath, modelRoots(), { installedOnly }));
    } catch {
      return false;
    }
  }

  /** Loads (or reuses) an RVC model by registry name or path. */
  rvcModel(nameOrPath: string, installedOnly = false): Promise<RvcModel> {
    let model = this.rvcLoaded.get(nameOrPath);
    if (!model) {
      model = loadRvcModel(nameOrPath, { provider: this.options.provider, intraOpThreads: this.options.intraOpThreads, installedOnly });
      this.rvcLoaded.set(nameOrPath, model);
      model.catch(() => this.rvcLoaded.delete(nameOrPath));
    }
    return model;
  }

  /** Stage factory for the server's default voice (a name or a bundle path given on its command line). */
  async defaultFactory(nameOrPath: string, speaker?: string): Promise<StageFactory> {
    if (this.isRvc(nameOrPath)) return createRvcStageFactory(await this.rvcModel(nameOrPath), { ...this.options.rvc, speaker, f0Method: this.options.f0Method });
    const model = await this.model(nameOrPath);
    return createNeuralStageFactory(model, { ...this.options, speaker });
  }

  async close(): Promise<void> {
    const models: Array<Promise<{ dispose(): Promise<void> }>> = [...this.loaded.values(), ...this.rvcLoaded.values()];
    this.loaded.clear();
    this.rvcLoaded.clear();
    this.factories.clear();
    for (const m of models) await m.then((x) => x.dispose(), () => {});
  }
}
