// SwiftF0 (lars76/swift-f0, MIT) through onnxruntime: 16 kHz audio [1, N] in, pitch_hz and
// confidence [1, floor(N/256)] out. The graph pads 384 samples each side before its 1024-point
// STFT (hop 256), so frame k's window is centred at sample 256k + 127.5 (placed at 256k + 80, see
// below). Its 2-D CNN sees ±10 frames, so a frame is final once the audio reaches 10 frames past
// the end of its window: 3120 samples (195 ms) after its centre; 12 frames of left context
// reproduce the one-shot result. Streaming runs the model once 4 frames are final (+48 ms).
import { join } from 'node:path';
import { createSession, type OnnxModel } from '../../onnx/session.js';
import { shippedModelsDir } from '../../paths.js';
import type { NativeSource } from './source.js';
import { IndexedBuffer } from '../indexed-buffer.js';
import type { NativeFrame } from './types.js';

export const SWIFT_MODEL_PATH = join(shippedModelsDir, 'swift_f0', 'model.onnx');
export const SWIFT_HOP = 256;
const PAD = 384;
const WINDOW = 1024;
const RIGHT_FRAMES = 10;
const LEFT_FRAMES = 12;

/** Streaming context of the model: frames of look-ahead/left context and the run batch size. */
export interface SwiftContext {
  lookaheadFrames: number;
  leftFrames: number;
  minBatch: number;
}

/** Frames identical to the one-shot result (±1e-5); 260 ms latency, ~7 model-frames per frame. */
export const SWIFT_EXACT: SwiftContext = { lookaheadFrames: RIGHT_FRAMES, leftFrames: LEFT_FRAMES, minBatch: 4 };
/**
 * Truncated context for live use: 3 frames of look-ahead, 4 of left context, runs every 2 frames
 * (latency ~100 ms). Measured against the one-shot frames: mean 2 cents on singing, 3-150 cents
 * on a few speech onsets, voicing flips on < 1 % of frames.
 */
export const SWIFT_LOW_LATENCY: SwiftContext = { lookaheadFrames: 3, leftFrames: 4, minBatch: 2 };
const SILENCE_PEAK = 1e-3;
/** The model's pitch range (Hz). */
export const SWIFT_MIN_HZ = 46.875;
export const SWIFT_MAX_HZ = 2093.75;

export class SwiftSource implements NativeSource {
  readonly hop = SWIFT_HOP;
  // The graph's window centre is 127.5, but on fast glides its estimates fit the signal 48 samples
  // earlier best (measured: tmp offset scan, rms error 22 vs 27 cents), so frames are placed there.
  readonly centreOffset = 80;
  readonly lookahead: number;
  private readonly audio = new IndexedBuffer();
  private next = 0;

  private constructor(private readonly model: OnnxModel, private readonly context: SwiftContext) {
    this.lookahead = (context.lookaheadFrames + context.minBatch - 1) * SWIFT_HOP + (WINDOW - PAD) - this.centreOffset;
  }

  /** `threads`: ONNX intra-op threads (default 1: small runs gain nothing from more, measured). */
  static async create(options: { threads?: number; modelPath?: string; context?: SwiftContext } = {}): Promise<SwiftSource> {
    const model = await createSession(options.modelPath ?? SWIFT_MODEL_PATH, { intraOpThreads: options.threads ?? 1 });
    return new SwiftSource(model, options.context ?? SWIFT_EXACT);
  }

  push(samples16k: Float32Array): void {
    this.audio.push(samples16k);
  }

  async frames(final: boolean, endCentre = 0): Promise<NativeFrame[]> {
    // Last frame index that is final now.
    let last: number;
    if (final) last = Math.floor((endCentre - this.centreOffset) / SWIFT_HOP) + 1;
    else last = Math.floor((this.audio.end - (WINDOW - PAD)) / SWIFT_HOP) - this.context.lookaheadFrames;
    if (final) {
      // make sure the segment produces frames up to `last` (model emits floor(len/256) frames)
      const needEnd = (last + 1) * SWIFT_HOP;
      if (needEnd > this.audio.end) this.audio.push(new Float32Array(needEnd - this.audio.end));
    }
    // Each run re-analyses ~24 frames of context, so while streaming wait until a few frames are
    // ready (adds at most (minBatch−1)·16 ms of delay, cuts the model cost ~minBatch times).
    if (last < this.next || (!final && last - this.next + 1 < this.context.minBatch)) return [];
    const first = this.next;
    const segFrame = Math.max(0, first - this.context.leftFrames);
    const segStart = segFrame * SWIFT_HOP;
    const segment = this.audio.slice(segStart, this.audio.end);
    if (segment.length < SWIFT_HOP) return [];
    const out = await this.model.run({ input_audio: { data: segment, dims: [1, segment.length] } });
    const pitch = out.pitch_hz!.data as Float32Array;
    const confidence = out.confidence!.data as Float32Array;
    const frames: NativeFrame[] = [];
    for (let j = first; j <= last; j++) {
      const k = j - segFrame;
      if (k >= pitch.length) break;
      // Digital silence sits on the STFT's log floor, which the model never saw in training and
      // answers with random voiced frames (upstream swift-f0 zeroes these too).
      let peak = 0;
      const hopStart = k * SWIFT_HOP;
      for (let i = hopStart; i < Math.min(segment.length, hopStart + SWIFT_HOP); i++) peak = Math.max(peak, Math.abs(segment[i]!));
      frames.push({ f0Hz: pitch[k]!, confidence: peak < SILENCE_PEAK ? 0 : confidence[k]! });
    }
    this.next = first + frames.length;
    this.audio.trimBefore(Math.max(0, this.next - this.context.leftFrames) * SWIFT_HOP, 16384);
    return frames;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
