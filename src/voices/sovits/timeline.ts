// The So-VITS feature timeline: every per-frame input the generator takes, computed once per sample on
// an absolute timeline (sample 0 = the first sample pushed; frame k centred at sample k·hop) from
// model-rate audio pushed in chunks of any size:
//   - ONE 16 kHz feed (AlignedResampler, speex, delay removed) that both the f0 analysers and the content
//     encoder read: each block is resampled once;
//   - f0 + voicing (F0Stream at the model hop, fed that 16 kHz audio) and RMS volume (VolumeStream);
//   - the content rows [rows, dim]: each push encodes only the rows that became final, re-running a
//     bounded left context (EncoderContext);
//   - the unvoiced-gap f0 fill (dsp/f0 unvoicedF0, with this timeline's look-ahead) and the NSF source
//     phase at any frame, accumulated over frames that are final.
// Three paths drain it, so they share one implementation: the streaming stage (push per block, window()
// per block), offline conversion (drainFile, then window() per slice) and dataset preprocessing
// (drainFile, then trainingFeatures()). Training features therefore equal runtime features.
import { AlignedResampler } from '../../audio/resample.js';
import { IndexedBuffer } from '../../dsp/indexed-buffer.js';
import { createF0Stream, unvoicedF0, type F0Choice } from '../../dsp/f0/index.js';
import type { F0Stream } from '../../dsp/f0/stream.js';
import { VolumeStream } from '../../dsp/volume.js';
import { SvcError } from '../../errors.js';
import { ENCODER_HOP, ENCODER_RATE, ENCODER_WINDOW, encoderRowCount } from './encoder.js';

/** Speex quality of the 16 kHz feed (f0 and content): one setting for live conversion, files and training data. */
export const ENCODER_RESAMPLER_QUALITY = 7;
/**
 * What made a dataset's features, recorded in its manifest (features.feed) and checked at train time:
 * features from another feed (speex quality 10 before, or f0 from its own Kaiser resampler) differ from
 * what the engine computes at run time.
 */
export const FEATURE_FEED = `speex-q${ENCODER_RESAMPLER_QUALITY}-16k; f0 and content from one feed`;
/** Rows encoded per encoder run at most when a whole file arrives at once (bounded memory). */
const MAX_ROWS_PER_RUN = 1500;

export type ContentMapping = 'time' | 'upstream';

export interface EncoderContext {
  /** Rows of left context re-encoded before the first wanted row (bounded re-run context). */
  leftRows: number;
  /** Rows after the last wanted row that must exist before it is final (encoder look-ahead). */
  rightRows: number;
}

/** What the timeline needs from a content encoder. */
export interface RowEncoder {
  encode(audio16k: Float32Array): Promise<{ content: Float32Array; rows: number }>;
}

/**
 * The shortest dsp tracker lag a low-latency stream takes, in 10 ms frames. On bench f0truth's re-synthesised
 * sets, streamed live (RPA / VFA %, singing A, speech A, singing B, speech B): lag 2 100/3.1, 97.8/2.5,
 * 99.5/4.7, 98.6/2.4; lag 1 100/3.1, 97.6/2.5, 99.4/4.5, 98.7/2.4; lag 0 99.9/2.6, 97.4/2.2, 99.0/3.5,
 * 98.2/2.0 (misses speech A's 97.5 %).
 */
export const LOW_LATENCY_MIN_TRACK_LAG_FRAMES = 1;

/** What the timeline's f0 stream depends on. */
type F0TimelineOptions = Pick<TimelineOptions, 'sampleRate' | 'hopSamples' | 'f0Method' | 'f0LowLatency' | 'f0TrackLagFrames'>;

export interface TimelineOptions {
  sampleRate: number;
  hopSamples: number;
  f0Method: F0Choice;
  f0LowLatency: boolean;
  /** dsp f0: the Viterbi's lag in 10 ms frames (default: the f0 mode's; see lowLatencyF0TrackLagFrames). */
  f0TrackLagFrames?: number;
  /** Compute RMS volume (models with vol_embedding, and training data). */
  volume: boolean;
  encoder: RowEncoder;
  /** Row width when known up front (a model's ssl_dim); else taken from the encoder's first run. */
  contentDim?: number;
  encoderContext: EncoderContext;
  /** Look-ahead of the unvoiced-gap f0 fill, in frames (Infinity = so-vits-svc's interpolation). */
  gapLookaheadFrames: number;
}

/** Generator inputs for frames [frameOffset, frameOffset + frames) of a stream. */
export interface GeneratorWindow {
  /** Content rows, row-major [rows, dim]. */
  content: Float32Array;
  rows: number;
  /** 1-based row of `content` per frame (0 = the zero row), length frames. */
  mel2ph: BigInt64Array;
  /** Hz per frame after gap fill and pitch shift (> 0 wherever any voiced frame is known). */
  f0Hz: Float32Array;
  /** 1 voiced / 0 unvoiced. */
  uv: Float32Array;
  /** RMS per frame (used when the model has vol_embedding). */
  vol: Float32Array;
  /** Absolute index of the first frame (for the noise and the source phase). */
  frameOffset: number;
}

/** Per-clip training features (docs/dataset.md), frames = floor(samples / hop). */
export interface TrainingFeatures {
  units: { rows: number; dim: number; data: Float32Array };
  /** Hz per frame, unvoiced gaps filled (no pitch shift). */
  f0Hz: Float32Array;
  uv: Float32Array;
  volume: Float32Array;
  frames: number;
  voicedFrames: number;
}

/**
 * Content row (0-based) for generator frame k.
 * 'time': the row whose 20 ms span holds the frame centre, floor(k·hop/sr / 0.02), clamped to the rows
 *   that exist — the streaming mapping (a stream cannot know its final row count).
 * 'upstream': so-vits-svc's repeat_expand / nearest interpolation of Tc rows onto T frames, floor(k·Tc/T);
 *   it stretches the content by the encoder's missing ¼ row over the file (≤ 1.25 rows at the end).
 */
export function contentRowForFrame(frame: number, mapping: ContentMapping, hopSamples: number, sampleRate: number, rows: number, frames: number): number {
  if (rows <= 0) return -1;
  const row = mapping === 'upstream' ? Math.floor((frame * rows) / frames) : Math.floor((frame * hopSamples * 50) / sampleRate + 1e-9);
  return Math.min(rows - 1, Math.max(0, row));
}

/**
 * Cycles the NSF fundamental advances during one frame at f0 (the generator accumulates frac(f0·hop/sr)
 * per frame and restarts at 0 in every call; every overtone m advances m times this, mod 1).
 */
export function sourceAdvanceCycles(f0Hz: number, hopSamples: number, sampleRate: number): number {
  const x = (f0Hz * hopSamples) / sampleRate;
  return x - Math.floor(x);
}

export class SovitsTimeline {
  /** Model-rate samples pushed so far (the absolute index of the next one). */
  received = 0;
  private readonly hop: number;
  private readonly sampleRate: number;
  private readonly feed: AlignedResampler;
  private readonly volumeStream: VolumeStream | null;
  /** f0 frames: Hz (0 = unvoiced) and voiced flag; RMS volume. */
  private readonly f0Hz = new IndexedBuffer();
  private readonly voiced = new IndexedBuffer();
  private readonly volume = new IndexedBuffer();
  /** 16 kHz encoder input (absolute samples). */
  private readonly audio16k = new IndexedBuffer(1, { capacityRows: 16384 });
  /** Final content rows [rows.base, rows.end); created with the encoder's width on its first run. */
  private rows: IndexedBuffer | null = null;
  /** Last voiced frame (absolute) and its f0, also when it was trimmed. */
  private lastVoicedFrame = -1;
  private lastVoicedHz = 0;
  /** Frames [unvoicedFrom, unvoicedTo) are known unvoiced (cache of the forward gap search). */
  private unvoicedFrom = 0;
  private unvoicedTo = 0;
  /** Previous voiced frame before frame prevQueryFrame (cache of the backward search). */
  private prevQueryFrame = -1;
  private prevQueryVoiced = -1;
  /** Source phase (cycles) committed at the start of frame phaseFrame. */
  private phaseFrame = 0;
  private phaseCycles = 0;
  private finished = false;
  private disposed = false;

  private constructor(private readonly options: TimelineOptions, private readonly f0: F0Stream, feed: AlignedResampler) {
    this.hop = options.hopSamples;
    this.sampleRate = options.sampleRate;
    this.feed = feed;
    this.volumeStream = options.volume ? new VolumeStream(options.hopSamples) : null;
    if (options.contentDim) this.rows = new IndexedBuffer(options.contentDim, { capacityRows: 256 });
  }

  /** Loads the resampler's WASM module (once per process); encoderLatencySamples needs it. */
  static ready(): Promise<void> {
    return AlignedResampler.ready();
  }

  static async create(options: TimelineOptions): Promise<SovitsTimeline> {
    await AlignedResampler.ready();
    const feed = new AlignedResampler(options.sampleRate, ENCODER_RATE, ENCODER_RESAMPLER_QUALITY);
    try {
      return new SovitsTimeline(options, await SovitsTimeline.createF0(options, feed.lookaheadInputSamples), feed);
    } catch (error) {
      feed.dispose();
      throw error;
    }
  }

  /** The f0 stream on the timeline's 16 kHz feed (its latency counts the feed's look-ahead). */
  private static createF0(options: F0TimelineOptions, lookaheadInputSamples: number): Promise<F0Stream> {
    return createF0Stream(options.sampleRate, { method: options.f0Method, hopSamples: options.hopSamples, lowLatency: options.f0LowLatency, trackLagFrames: options.f0TrackLagFrames, feed16k: { lookaheadInputSamples } });
  }

  /** Model-rate samples after a frame's centre before its f0 is final (the f0 method's look-ahead + the feed's). */
  static async f0LatencySamples(options: F0TimelineOptions): Promise<number> {
    await AlignedResampler.ready();
    const feed = new AlignedResampler(options.sampleRate, ENCODER_RATE, ENCODER_RESAMPLER_QUALITY);
    const lookahead = feed.lookaheadInputSamples;
    feed.dispose();
    const f0 = await SovitsTimeline.createF0(options, lookahead);
    await f0.dispose();
    return f0.latencySamples;
  }

  /**
   * The dsp tracker's lag for a low-latency stream of this shape: LOW_LATENCY_MIN_TRACK_LAG_FRAMES where
   * the f0 bounds the look-ahead even then (the content rows are final no later than the f0 at that lag,
   * so every frame of lag cut is 10 ms off the look-ahead: svc's causal phone encoder, the small model);
   * else undefined, the low-latency mode's own lag (2 frames: the encoder bounds the look-ahead anyway, so
   * a shorter lag would cost f0 accuracy and buy nothing). Other methods: undefined (no tracker lag).
   */
  static async lowLatencyF0TrackLagFrames(options: Omit<F0TimelineOptions, 'f0LowLatency' | 'f0TrackLagFrames'> & { encoderContext: EncoderContext; gapLookaheadFrames: number }): Promise<number | undefined> {
    if (options.f0Method !== 'dsp') return undefined;
    const f0 = await SovitsTimeline.f0LatencySamples({ ...options, f0LowLatency: true, f0TrackLagFrames: LOW_LATENCY_MIN_TRACK_LAG_FRAMES });
    const gap = Number.isFinite(options.gapLookaheadFrames) ? options.gapLookaheadFrames * options.hopSamples : Infinity;
    return f0 + gap >= SovitsTimeline.encoderLatencySamples(options.sampleRate, options.encoderContext) ? LOW_LATENCY_MIN_TRACK_LAG_FRAMES : undefined;
  }

  /**
   * Model-rate samples a frame needs after its centre before its encoder rows are final (16 kHz feed
   * look-ahead + the encoder's right context); with the f0 latency this sizes a stage's look-ahead.
   */
  static encoderLatencySamples(sampleRate: number, context: EncoderContext): number {
    const feed = new AlignedResampler(sampleRate, ENCODER_RATE, ENCODER_RESAMPLER_QUALITY);
    const resamplerLookahead = feed.lookaheadInputSamples;
    feed.dispose();
    // A row is final once 320·(row + 1 + rightRows) + 80 samples at 16 kHz exist (plus the resampler's look-ahead).
    return Math.ceil((((1 + context.rightRows) * ENCODER_HOP + (ENCODER_WINDOW - ENCODER_HOP)) * sampleRate) / ENCODER_RATE) + resamplerLookahead;
  }

  /** Live input: appends samples and encodes the content rows that became final. */
  async push(samples: Float32Array): Promise<void> {
    await this.feedSignals(samples);
    const { rightRows } = this.options.encoderContext;
    const finalRows = Math.floor((this.audio16k.end - (ENCODER_WINDOW - ENCODER_HOP)) / ENCODER_HOP) - rightRows;
    await this.encodeRowsTo(finalRows);
  }

  /** Ends the input: the last f0 frames, the 16 kHz tail and every remaining row (file semantics). */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    // The feed's tail up to round(n·16000/sr) samples in all, for f0 and the encoder alike.
    const total16k = Math.round((this.received * ENCODER_RATE) / this.sampleRate);
    const tail = this.feed.flush();
    const part = new Float32Array(Math.max(0, total16k - this.audio16k.end));
    part.set(tail.subarray(0, part.length));
    this.pushF0Frames(await this.f0.flush(part));
    // File mode keeps floor(n/hop) volume frames, as so-vits-svc's Volume_Extractor.
    this.volume.truncate(Math.floor(this.received / this.hop));
    if (part.length > 0) this.audio16k.push(part);
    else this.audio16k.truncate(total16k);
    // The encoder needs one window: a shorter input is zero-padded to 400 samples (one row).
    if (this.audio16k.end < ENCODER_WINDOW) this.audio16k.push(new Float32Array(ENCODER_WINDOW - this.audio16k.end));
    await this.encodeRowsTo(encoderRowCount(this.audio16k.end));
  }

  /** A whole signal: push without encoding, then finish (rows in runs of MAX_ROWS_PER_RUN). */
  async drainFile(samples: Float32Array): Promise<void> {
    await this.feedSignals(samples);
    await this.finish();
  }

  private async feedSignals(samples: Float32Array): Promise<void> {
    if (this.disposed || this.finished) throw new SvcError('INTERNAL', 'feature timeline fed after finish() or dispose()');
    this.received += samples.length;
    const audio16k = this.feed.process(samples);
    this.pushF0Frames(await this.f0.processResampled(audio16k, samples.length));
    if (this.volumeStream) this.volume.push(this.volumeStream.process(samples));
    this.audio16k.push(audio16k);
  }

  private pushF0Frames(frames: ReadonlyArray<{ index: number; f0Hz: number; voiced: boolean }>): void {
    for (const f of frames) {
      this.f0Hz.push([f.f0Hz]);
      this.voiced.push([f.voiced ? 1 : 0]);
      if (f.voiced && f.f0Hz > 0) {
        this.lastVoicedFrame = f.index;
        this.lastVoicedHz = f.f0Hz;
      }
    }
  }

  /**
   * Encodes rows [rows.end, toRow): the encoder runs on [320·max(0, from − left), min(end, 320·(to +
   * right) + 80)) and only the wanted rows are kept, so rows do not depend on where a run starts (exactly
   * for encoders whose receptive field fits the context; approximately for global ones such as HuBERT).
   */
  private async encodeRowsTo(toRow: number): Promise<void> {
    const { leftRows, rightRows } = this.options.encoderContext;
    for (let fromRow = this.rows?.end ?? 0; fromRow < toRow; fromRow = this.rows!.end) {
      const runTo = Math.min(toRow, fromRow + MAX_ROWS_PER_RUN);
      const firstRow = Math.max(0, fromRow - leftRows);
      const start = firstRow * ENCODER_HOP;
      const end = Math.min(this.audio16k.end, (runTo + rightRows) * ENCODER_HOP + (ENCODER_WINDOW - ENCODER_HOP));
      if (start < this.audio16k.base) throw new SvcError('INTERNAL', `encoder context starts at ${start}, before the kept audio (${this.audio16k.base})`);
      const audio = this.audio16k.view();
      const { content, rows } = await this.options.encoder.encode(audio.subarray(start - this.audio16k.base, end - this.audio16k.base));
      if (rows === 0) throw new SvcError('MODEL_INVALID', `the content encoder returned no rows for ${end - start} samples at 16 kHz (expected ${encoderRowCount(end - start)})`);
      this.rows ??= new IndexedBuffer(content.length / rows, { capacityRows: 256 });
      const width = this.rows.width;
      const wanted = new Float32Array((runTo - fromRow) * width);
      for (let r = fromRow; r < runTo; r++) {
        const local = Math.min(rows - 1, r - firstRow);
        if (local < 0) continue;
        wanted.set(content.subarray(local * width, (local + 1) * width), (r - fromRow) * width);
      }
      this.rows.push(wanted);
    }
    // Live: keep only the audio the next run's left context needs.
    if (!this.finished && this.rows) this.audio16k.trimBefore(Math.max(0, this.rows.end - leftRows) * ENCODER_HOP);
  }

  /** f0 frames known so far. */
  get framesKnown(): number {
    return this.f0Hz.end;
  }

  private isVoiced(k: number): boolean {
    return this.voiced.at(k) === 1 && this.f0Hz.at(k)! > 0;
  }

  /** Frame k's f0 before gap fill (the last known frame's beyond the end). */
  rawF0(k: number): { f0Hz: number; voiced: boolean } {
    const j = Math.min(Math.max(k, 0), this.f0Hz.end - 1);
    return { f0Hz: this.f0Hz.at(j) ?? 0, voiced: this.isVoiced(j) };
  }

  /**
   * Frame k's f0 with unvoiced gaps filled (unvoicedF0 with this timeline's look-ahead), as float32 and
   * before any pitch shift; frames beyond the known ones take the last known frame's value.
   */
  filledF0(k: number): number {
    const known = this.f0Hz.end;
    if (k >= known) k = known - 1;
    if (k < 0) k = 0;
    if (this.isVoiced(k)) return this.f0Hz.at(k)!;
    const p = this.previousVoiced(k);
    const gap = this.options.gapLookaheadFrames;
    const q = this.nextVoiced(k, Math.min(known - 1, k + gap));
    return Math.fround(unvoicedF0(k, p, p >= 0 ? this.f0Hz.at(p) ?? this.lastVoicedHz : 0, q, Number.isFinite(q) ? this.f0Hz.at(q)! : 0, gap));
  }

  /**
   * What the generator takes at frame k: filled f0 × pitch ratio, rounded to float32 at each step (the
   * filled value, then the product), as offline conversion's float32 arrays always were. Live windows,
   * file slices and the source phase (sourcePhase sums exactly these values, which are what the
   * generator integrates) all read this one rule: the live stage once shifted the unrounded fill and
   * summed unrounded products, 2.9e-6 away from offline at pitch +5 (test/neural-stream.test.ts).
   */
  generatorF0(k: number, ratio: number): number {
    const hz = this.filledF0(k);
    return ratio === 1 ? hz : Math.fround(hz * ratio);
  }

  /** Last voiced frame before k (−1: none held). Sequential queries cost O(1) each. */
  private previousVoiced(k: number): number {
    let p: number;
    if (k > this.lastVoicedFrame) p = this.lastVoicedFrame;
    else if (this.prevQueryFrame >= this.f0Hz.base && this.prevQueryFrame <= k) {
      p = this.prevQueryVoiced;
      for (let j = this.prevQueryFrame; j < k; j++) if (this.isVoiced(j)) p = j;
    } else {
      p = -1;
      for (let j = k - 1; j >= this.f0Hz.base; j--) {
        if (this.isVoiced(j)) {
          p = j;
          break;
        }
      }
    }
    if (k <= this.lastVoicedFrame) {
      this.prevQueryFrame = k;
      this.prevQueryVoiced = p;
    }
    // Only held frames count (their f0 is known), except the tracked last voiced one.
    return p >= 0 && p < this.f0Hz.base && p !== this.lastVoicedFrame ? -1 : p;
  }

  /** First voiced frame in (k, limit] (Infinity: none). Known frames never change, so unvoiced runs are cached. */
  private nextVoiced(k: number, limit: number): number {
    let j = k + 1;
    if (j >= this.unvoicedFrom && j <= this.unvoicedTo) j = this.unvoicedTo;
    else this.unvoicedFrom = j;
    for (; j <= limit; j++) {
      if (this.isVoiced(j)) {
        this.unvoicedTo = j;
        return j;
      }
    }
    this.unvoicedTo = Math.max(j, this.unvoicedFrom);
    return Infinity;
  }

  /**
   * Generator inputs for frames [k0, k1) (k0 may be negative: frames before the stream start are
   * unvoiced, silent and use the zero row). Rows not final yet hold the last final one; the window's
   * rows are renumbered from its first (mel2ph stays 1-based, 0 = the zero row).
   */
  window(k0: number, k1: number, ratio: number, mapping: ContentMapping = 'time'): GeneratorWindow {
    const frames = k1 - k0;
    const f0Hz = new Float32Array(frames);
    const uv = new Float32Array(frames);
    const vol = new Float32Array(frames);
    const knownVol = this.volume.end;
    for (let i = 0; i < frames; i++) {
      const k = k0 + i;
      f0Hz[i] = this.generatorF0(k, ratio);
      if (k >= 0) {
        uv[i] = this.rawF0(k).voiced ? 1 : 0;
        vol[i] = this.volume.at(Math.min(k, knownVol - 1)) ?? 0;
      }
    }
    const rows = this.rows;
    const finalRows = rows?.end ?? 0;
    if (mapping === 'upstream' && !this.finished) throw new SvcError('INTERNAL', "the 'upstream' content mapping needs the whole file (finish() first)");
    const totalFrames = this.generatorFrames;
    const rowOf = new Int32Array(frames);
    let minRow = Infinity;
    let maxRow = -1;
    for (let i = 0; i < frames; i++) {
      const k = k0 + i;
      if (k < 0 || finalRows === 0) {
        rowOf[i] = -1;
        continue;
      }
      const r = Math.max(rows!.base, contentRowForFrame(k, mapping, this.hop, this.sampleRate, finalRows, totalFrames));
      rowOf[i] = r;
      minRow = Math.min(minRow, r);
      maxRow = Math.max(maxRow, r);
    }
    const mel2ph = new BigInt64Array(frames);
    if (maxRow < 0) {
      const dim = rows?.width ?? this.options.contentDim;
      if (!dim) throw new SvcError('INTERNAL', 'the feature timeline does not know the content width yet (pass contentDim)');
      return { content: new Float32Array(dim), rows: 1, mel2ph, f0Hz, uv, vol, frameOffset: k0 };
    }
    const content = rows!.slice(minRow, maxRow + 1);
    for (let i = 0; i < frames; i++) mel2ph[i] = rowOf[i]! < 0 ? 0n : BigInt(rowOf[i]! - minRow + 1);
    return { content, rows: maxRow - minRow + 1, mel2ph, f0Hz, uv, vol, frameOffset: k0 };
  }

  /** Frames the generator makes for the whole input (file mode): ceil(n/hop), at least 1. */
  get generatorFrames(): number {
    return Math.max(1, Math.ceil(this.received / this.hop));
  }

  /**
   * NSF source phase (cycles) at the start of frame k0, continuing the stream. Frames up to the last
   * voiced one have final f0 and are committed (with the pitch ratio of the time, as they were emitted);
   * the open unvoiced tail after it is summed afresh each call. Frames before the stream start (k0 < 0):
   * the phase that reaches 0 at frame 0, over `windowF0` (the window's own generator f0).
   */
  sourcePhase(k0: number, ratio: number, windowF0?: Float32Array): number {
    const hop = this.hop;
    const sr = this.sampleRate;
    if (k0 < 0) {
      let sum = 0;
      for (let i = 0; i < Math.min(-k0, windowF0?.length ?? 0); i++) sum += sourceAdvanceCycles(windowF0![i]!, hop, sr);
      return -sum;
    }
    // Beyond ~4096 frames of open unvoiced tail the held f0 is committed anyway (bounded history).
    const commitTo = Math.min(k0, this.f0Hz.end, Math.max(this.lastVoicedFrame + 1, k0 - 4096));
    for (let k = this.phaseFrame; k < commitTo; k++) this.phaseCycles += sourceAdvanceCycles(this.generatorF0(k, ratio), hop, sr);
    this.phaseCycles -= Math.floor(this.phaseCycles);
    this.phaseFrame = Math.max(this.phaseFrame, commitTo);
    let phase = this.phaseCycles;
    for (let k = this.phaseFrame; k < k0; k++) phase += sourceAdvanceCycles(this.generatorF0(k, ratio), hop, sr);
    return phase - Math.floor(phase);
  }

  /** Drops frames and rows no window from frame k0 on can need (live windows only move forward). */
  forgetBefore(k0: number): void {
    const keepFrame = Math.min(k0, this.phaseFrame) - 1;
    if (keepFrame > this.f0Hz.base + 4096) {
      this.f0Hz.trimBefore(keepFrame);
      this.voiced.trimBefore(keepFrame);
      this.volume.trimBefore(keepFrame);
    }
    const firstRow = Math.max(0, contentRowForFrame(Math.max(0, k0), 'time', this.hop, this.sampleRate, Number.MAX_SAFE_INTEGER, Infinity) - 1);
    if (this.rows && firstRow > this.rows.base + 256) this.rows.trimBefore(firstRow);
  }

  /** The 16 kHz feed held (file mode: all of it, after finish()). */
  get audio16kView(): Float32Array {
    return this.audio16k.view();
  }

  /** All rows held, row-major, and their count (file mode: every row of the input). */
  get contentRows(): { content: Float32Array; rows: number; dim: number } {
    return { content: this.rows?.view() ?? new Float32Array(0), rows: this.rows?.length ?? 0, dim: this.rows?.width ?? 0 };
  }

  /** Training features of a finished clip: floor(n/hop) frames of filled f0, uv, volume; every row. */
  trainingFeatures(): TrainingFeatures {
    if (!this.finished) throw new SvcError('INTERNAL', 'training features need the whole clip (finish() first)');
    const frames = Math.floor(this.received / this.hop);
    const f0Hz = new Float32Array(frames);
    const uv = new Float32Array(frames);
    let voicedFrames = 0;
    for (let k = 0; k < frames; k++) {
      f0Hz[k] = this.filledF0(k);
      if (k < this.f0Hz.end && this.isVoiced(k)) (uv[k] = 1), voicedFrames++;
    }
    const volume = this.volume.slice(0, frames);
    const { content, rows, dim } = this.contentRows;
    return { units: { rows, dim, data: content.slice() }, f0Hz, uv, volume, frames, voicedFrames };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.feed.dispose();
    this.volumeStream?.dispose();
    void this.f0.dispose().catch(() => {});
  }
}
