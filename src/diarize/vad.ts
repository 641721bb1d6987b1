// Voice activity with Silero VAD v5 (ONNX, MIT, models/silero_vad): 16 kHz audio in 512-sample
// chunks (32 ms), each fed with the previous chunk's last 64 samples as context and a recurrent
// state [2, B, 128]; the graph returns one speech probability per chunk. Long files run as B
// parallel streams (the file cut into B pieces that each warm up on 0.5 s of the audio before
// them), so one ONNX call covers B chunks: the recurrence is sequential only within a stream.
// `speechRegions` turns the probabilities into speech regions with hysteresis, as silero's own
// get_speech_timestamps does (threshold / threshold − 0.15, minimum speech and silence lengths).
import { join } from 'node:path';
import { SvcError } from '../errors.js';
import { createSession, type OnnxModel } from '../onnx/session.js';
import { shippedModelsDir } from '../paths.js';

export const VAD_SAMPLE_RATE = 16000;
export const VAD_CHUNK_SAMPLES = 512;
const CONTEXT_SAMPLES = 64;
const STATE_SIZE = 2 * 128;
/** Audio each parallel stream runs over before the part it reports (the recurrent state settles). */
const WARMUP_CHUNKS = 16;

export const SILERO_VAD_PATH = join(shippedModelsDir, 'silero_vad', 'silero_vad.onnx');

/** A speech region in seconds, [startSeconds, endSeconds). */
export interface TimeRegion {
  startSeconds: number;
  endSeconds: number;
}

export interface SpeechRegionOptions {
  /** Probability above which speech starts. Default 0.5 (silero's default). */
  threshold?: number;
  /** Speech shorter than this is dropped, seconds. Default 0.25. */
  minSpeechSeconds?: number;
  /** Pauses shorter than this do not end a region, seconds. Default 0.1. */
  minSilenceSeconds?: number;
  /** Padding added on both sides of each region (clipped to neighbours), seconds. Default 0.03. */
  padSeconds?: number;
}

export class SileroVad {
  private constructor(private readonly model: OnnxModel) {}

  static async load(path = SILERO_VAD_PATH): Promise<SileroVad> {
    const model = await createSession(path, { intraOpThreads: 1 });
    const names = model.inputNames.join(',');
    if (names !== 'input,state,sr') {
      await model.dispose();
      throw new SvcError('MODEL_INVALID', `${path} is not a Silero VAD v5 graph: expected inputs input,state,sr, got ${names}`, { hint: 'use silero_vad.onnx from snakers4/silero-vad v5' });
    }
    return new SileroVad(model);
  }

  /** Speech probability per 512-sample chunk of 16 kHz audio (chunk i covers samples [512 i, 512 i + 512)). */
  async probabilities(samples16k: Float32Array, streams = 16): Promise<Float32Array> {
    const chunks = Math.ceil(samples16k.length / VAD_CHUNK_SAMPLES);
    const out = new Float32Array(chunks);
    if (chunks === 0) return out;
    const batch = Math.max(1, Math.min(streams, Math.floor(chunks / (4 * WARMUP_CHUNKS)) || 1));
    const perStream = Math.ceil(chunks / batch);
    // Stream b reports chunks [b*perStream, (b+1)*perStream) after warming up on the WARMUP chunks before them.
    const firstChunk = Array.from({ length: batch }, (_, b) => Math.max(0, b * perStream - WARMUP_CHUNKS));
    const steps = perStream + (batch > 1 ? WARMUP_CHUNKS : 0);
    const width = CONTEXT_SAMPLES + VAD_CHUNK_SAMPLES;
    const input = new Float32Array(batch * width);
    let state = new Float32Array(STATE_SIZE * batch);
    const sr = new BigInt64Array([BigInt(VAD_SAMPLE_RATE)]);
    for (let step = 0; step < steps; step++) {
      for (let b = 0; b < batch; b++) {
        const chunk = firstChunk[b]! + step;
        const row = input.subarray(b * width, (b + 1) * width);
        // Context: the last 64 samples of this stream's previous chunk (zeros at its start).
        if (step === 0) row.fill(0, 0, CONTEXT_SAMPLES);
        else row.copyWithin(0, width - CONTEXT_SAMPLES, width);
        const start = chunk * VAD_CHUNK_SAMPLES;
        const piece = start < samples16k.length ? samples16k.subarray(start, Math.min(samples16k.length, start + VAD_CHUNK_SAMPLES)) : new Float32Array(0);
        row.set(piece, CONTEXT_SAMPLES);
        row.fill(0, CONTEXT_SAMPLES + piece.length);
      }
      const result = await this.model.run({
        input: { data: input, dims: [batch, width] },
        state: { data: state, dims: [2, batch, 128] },
        sr: { data: sr, dims: [] },
      });
      const probs = result.output!.data as Float32Array;
      state = new Float32Array(result.stateN!.data as Float32Array);
      for (let b = 0; b < batch; b++) {
        const chunk = firstChunk[b]! + step;
        const owned = chunk >= b * perStream && chunk < Math.min(chunks, (b + 1) * perStream);
        if (owned) out[chunk] = probs[b]!;
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

/** Speech regions from per-chunk probabilities (hysteresis + minimum lengths + padding). */
export function speechRegions(probabilities: Float32Array, durationSeconds: number, options: SpeechRegionOptions = {}): TimeRegion[] {
  const threshold = options.threshold ?? 0.5;
  const offThreshold = Math.max(0.01, threshold - 0.15);
  const minSpeech = options.minSpeechSeconds ?? 0.25;
  const minSilence = options.minSilenceSeconds ?? 0.1;
  const pad = options.padSeconds ?? 0.03;
  const chunkSeconds = VAD_CHUNK_SAMPLES / VAD_SAMPLE_RATE;
  const raw: TimeRegion[] = [];
  let start = -1;
  let lastSpeech = -1;
  for (let i = 0; i < probabilities.length; i++) {
    const p = probabilities[i]!;
    if (start < 0) {
      if (p >= threshold) {
        start = i;
        lastSpeech = i;
      }
    } else if (p >= offThreshold) {
      lastSpeech = i;
    } else if ((i - lastSpeech) * chunkSeconds >= minSilence) {
      raw.push({ startSeconds: start * chunkSeconds, endSeconds: (lastSpeech + 1) * chunkSeconds });
      start = -1;
    }
  }
  if (start >= 0) raw.push({ startSeconds: start * chunkSeconds, endSeconds: (lastSpeech + 1) * chunkSeconds });
  const kept = raw.filter((r) => r.endSeconds - r.startSeconds >= minSpeech);
  return kept.map((r, i) => ({
    startSeconds: Math.max(0, r.startSeconds - pad, i > 0 ? (kept[i - 1]!.endSeconds + r.startSeconds) / 2 : 0),
    endSeconds: Math.min(durationSeconds, r.endSeconds + pad, i + 1 < kept.length ? (r.endSeconds + kept[i + 1]!.startSeconds) / 2 : Infinity),
  }));
}
