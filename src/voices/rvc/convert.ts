// RVC conversion of a signal, as RVC's pipeline does it (infer/modules/vc/pipeline.py), on one path that
// both the offline converter and the streaming stage drain:
//   audio → 16 kHz → f0 at 100 Hz (hop 160), shifted by the pitch key → coarse + fine pitch
//         → content rows at 50 Hz → retrieval blend (index rate) → ×2 repeat → protect → generator
//         (in slices with context, crossfaded) → rms mix → back to the caller's rate.
import { generateInSlices } from '../../engine/slices.js';
import { SvcError } from '../../errors.js';
import { resample } from '../../audio/resample.js';
import { DEFAULT_F0_METHOD, estimateF0, type F0Choice } from '../../dsp/f0/index.js';
import { DEFAULT_INDEX_RATE, DEFAULT_PROTECT, DEFAULT_RMS_MIX_RATE, applyProtect, mixRms, rowsToFrames } from './features.js';
import type { RvcModel } from './model.js';
import { VOICE_LIMITS } from '../stage.js';

export const RVC_INPUT_RATE = 16000;
/** 16 kHz samples per 100 Hz frame. */
export const RVC_INPUT_HOP = 160;
const ENCODER_HOP = 320;
const ENCODER_WINDOW = 400;
/** f0 method when none is chosen (svc's default; RVC's own default is rmvpe, see `svc import-f0`). */
export const DEFAULT_RVC_F0_METHOD: F0Choice = DEFAULT_F0_METHOD;

export interface RvcVoiceOptions {
  speaker?: string | number;
  /** Pitch shift, semitones (RVC's f0_up_key). */
  pitch?: number;
  f0Method?: F0Choice;
  /** 0..1: share of retrieved features (RVC default 0.75); ignored without an index. */
  indexRate?: number;
  /** 0..0.5: unvoiced frames keep (1 − protect) of the encoder's own features (RVC default 0.33; 0.5 = off). */
  protect?: number;
  /** 0..1: 1 keeps the model's loudness envelope, 0 takes the input's (RVC default 0.25). */
  rmsMixRate?: number;
  seed?: number;
}

export interface RvcConvertOptions extends RvcVoiceOptions {
  /** Generator frames per slice (default 1000 = 10 s; graphs with a fixed length use theirs). */
  sliceFrames?: number;
  /** Frames re-run on each side of a slice (default 50 = 0.5 s) and crossfaded (10). */
  contextFrames?: number;
  /** Seconds per RMS frame for rms mixing (RVC offline: 1 s frames, 0.5 s hop; streaming uses 40/10 ms). */
  rmsFrameSeconds?: number;
  rmsHopSeconds?: number;
  outputRate?: 'input' | 'model';
}

export interface RvcConvertResult {
  samples: Float32Array;
  sampleRate: number;
  frames: number;
}

function checkRange(name: string, value: number | undefined, lo: number, hi: number): void {
  if (value !== undefined && !(Number.isFinite(value) && value >= lo && value <= hi)) {
    throw new SvcError('INVALID_ARGUMENT', `${name} must be from ${lo} to ${hi}, got ${value}`);
  }
}

export function validateRvcOptions(options: RvcVoiceOptions): void {
  checkRange('pitch', options.pitch, VOICE_LIMITS.pitch.min, VOICE_LIMITS.pitch.max);
  checkRange('index rate', options.indexRate, 0, 1);
  checkRange('protect', options.protect, 0, 0.5);
  checkRange('rms mix rate', options.rmsMixRate, 0, 1);
}

/** Content rows of a 16 kHz signal (HuBERT framing: floor((n − 400) / 320) + 1), encoded in bounded runs. */
async function encodeAll(model: RvcModel, audio16k: Float32Array, maxRows = 1500, contextRows = 25): Promise<{ content: Float32Array; rows: number }> {
  const padded = audio16k.length >= ENCODER_WINDOW ? audio16k : Float32Array.from({ length: ENCODER_WINDOW }, (_, i) => audio16k[i] ?? 0);
  const rows = Math.floor((padded.length - ENCODER_WINDOW) / ENCODER_HOP) + 1;
  const dim = model.contentDim;
  const content = new Float32Array(rows * dim);
  for (let from = 0; from < rows; from += maxRows) {
    const to = Math.min(rows, from + maxRows);
    const first = Math.max(0, from - contextRows);
    const last = Math.min(rows, to + contextRows);
    const run = await model.encode(padded.subarray(first * ENCODER_HOP, (last - 1) * ENCODER_HOP + ENCODER_WINDOW));
    for (let r = from; r < to; r++) {
      const local = Math.min(run.rows - 1, r - first);
      content.set(run.content.subarray(local * dim, (local + 1) * dim), r * dim);
    }
  }
  return { content, rows };
}

export interface RvcFeatures {
  frames: number;
  /** [frames, dim] after retrieval and protect. */
  phone: Float32Array;
  /** Shifted f0 per frame, 0 = unvoiced. */
  f0Hz: Float32Array;
}

/** The generator's inputs for a 16 kHz signal: floor(n / 160) frames. */
export async function rvcFeatures(model: RvcModel, audio16k: Float32Array, options: RvcVoiceOptions): Promise<RvcFeatures> {
  const frames = Math.max(1, Math.floor(audio16k.length / RVC_INPUT_HOP));
  const f0Hz = new Float32Array(frames);
  if (model.hasF0) {
    const track = await estimateF0(audio16k, RVC_INPUT_RATE, { method: options.f0Method ?? DEFAULT_RVC_F0_METHOD, hopSamples: RVC_INPUT_HOP });
    const ratio = 2 ** ((options.pitch ?? 0) / 12);
    for (let k = 0; k < frames; k++) {
      const j = Math.min(k, track.f0Hz.length - 1);
      if (j >= 0 && track.voiced[j]) f0Hz[k] = track.f0Hz[j]! * ratio;
    }
  }
  const { content } = await encodeAll(model, audio16k);
  const dim = model.contentDim;
  const original = rowsToFrames(content, dim, frames);
  const indexRate = options.indexRate ?? DEFAULT_INDEX_RATE;
  if (!model.searcher || indexRate <= 0) return { frames, phone: original, f0Hz };
  const blended = Float32Array.from(content);
  await model.searcher.blend(blended, indexRate);
  const phone = rowsToFrames(blended, dim, frames);
  if (model.hasF0) applyProtect(phone, original, f0Hz, dim, options.protect ?? DEFAULT_PROTECT);
  return { frames, phone, f0Hz };
}

/** Runs the generator over all frames in slices with context on both sides, crossfaded. */
export async function generateAll(model: RvcModel, features: RvcFeatures, speakerId: number, seed: number, options: Pick<RvcConvertOptions, 'sliceFrames' | 'contextFrames'> = {}): Promise<Float32Array> {
  const { frames, phone, f0Hz } = features;
  const hop = model.hopSamples;
  const dim = model.contentDim;
  const fixed = model.manifest.fixed_frames ?? null;
  let context = Math.max(0, options.contextFrames ?? 50);
  if (fixed !== null) context = Math.min(context, Math.floor(fixed / 4));
  const slice = Math.max(8, fixed !== null ? fixed - 2 * context : (options.sliceFrames ?? 1000));
  const fade = Math.max(1, Math.min(context, 10));
  return generateInSlices({ frames, hopSamples: hop, sliceFrames: slice, contextFrames: context, fadeFrames: fade }, (runFrom, runTo) =>
    model.generate({ phone: phone.subarray(runFrom * dim, runTo * dim), f0Hz: f0Hz.subarray(runFrom, runTo), frameOffset: runFrom }, speakerId, seed),
  );
}

/** Converts a 16 kHz signal; returns floor(n / 160) · hop samples at the model rate. */
export async function convertRvc16k(model: RvcModel, audio16k: Float32Array, options: RvcConvertOptions = {}): Promise<{ samples: Float32Array; frames: number }> {
  validateRvcOptions(options);
  const speakerId = model.speakerId(options.speaker);
  const features = await rvcFeatures(model, audio16k, options);
  const samples = await generateAll(model, features, speakerId, options.seed ?? 0, options);
  mixRms(audio16k, RVC_INPUT_RATE, samples, model.sampleRate, options.rmsMixRate ?? DEFAULT_RMS_MIX_RATE, options.rmsFrameSeconds ?? 1, options.rmsHopSeconds ?? 0.5);
  return { samples, frames: features.frames };
}

/** Offline conversion of mono audio at any rate; the output has the input's duration (and rate, by default). */
export async function convertRvcMono(model: RvcModel, samples: Float32Array, sampleRate: number, options: RvcConvertOptions = {}): Promise<RvcConvertResult> {
  if (samples.length === 0) throw new SvcError('FILE_EMPTY', 'the input holds no audio samples');
  const audio16k = sampleRate === RVC_INPUT_RATE ? samples : await resample(samples, sampleRate, RVC_INPUT_RATE);
  const { samples: converted, frames } = await convertRvc16k(model, audio16k, options);
  const modelLength = Math.round((samples.length * model.sampleRate) / sampleRate);
  const atModel = new Float32Array(modelLength);
  atModel.set(converted.subarray(0, modelLength));
  if ((options.outputRate ?? 'input') === 'model' || sampleRate === model.sampleRate) {
    return { samples: sampleRate === model.sampleRate ? atModel.subarray(0, samples.length).slice() : atModel, sampleRate: (options.outputRate ?? 'input') === 'model' ? model.sampleRate : sampleRate, frames };
  }
  const back = await resample(atModel, model.sampleRate, sampleRate);
  const out = new Float32Array(samples.length);
  out.set(back.subarray(0, samples.length));
  return { samples: out, sampleRate, frames };
}

