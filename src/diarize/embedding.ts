// Speaker embeddings of short windows: the mean and standard deviation of the MFCCs (and of log f0)
// over the speech frames of a window (1.5 s, every 0.5 s inside each speech region), projected by a linear
// discriminant analysis trained here on other speakers (models/speaker_lda/lda.json, see
// scripts/train-speaker-lda.ts), so the dimensions that separate speakers dominate and those that
// follow the words are damped. Shapes: stats [STATS_DIM], embedding [lda.outputDim].
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SvcError, errorMessage } from '../errors.js';
import { shippedModelsDir } from '../paths.js';
import { MFCC_HOP_SECONDS, type MfccFrames } from './mfcc.js';
import type { TimeRegion } from './vad.js';

export const WINDOW_SECONDS = 1.5;
export const WINDOW_HOP_SECONDS = 0.5;
/** A region shorter than this gets no window of its own (its frames are labelled by resegmentation). */
export const MIN_WINDOW_SECONDS = 0.5;

export interface SpeakerWindow {
  startFrame: number;
  endFrame: number;
  stats: Float32Array;
}

/** Values per window: MFCC mean and std, then log-f0 mean and std over voiced frames, voiced share. */
export const STATS_DIM = 2 * 19 + 3;

/**
 * log f0 per MFCC frame (natural log of Hz; NaN where unvoiced): with the MFCCs it says what the
 * vocal tract does, with f0 what the larynx does — two speakers rarely match on both.
 */
export type LogF0Frames = Float32Array;

/** Mean and standard deviation of each coefficient over frames [start, end), then the pitch statistics. */
export function frameStats(features: MfccFrames, logF0: LogF0Frames, fallbackLogF0: number, startFrame: number, endFrame: number): Float32Array {
  const { dim, data } = features;
  const out = new Float32Array(2 * dim + 3);
  const n = Math.max(1, endFrame - startFrame);
  for (let t = startFrame; t < endFrame; t++) for (let k = 0; k < dim; k++) out[k] += data[t * dim + k]!;
  for (let k = 0; k < dim; k++) out[k] /= n;
  for (let t = startFrame; t < endFrame; t++) {
    for (let k = 0; k < dim; k++) {
      const d = data[t * dim + k]! - out[k]!;
      out[dim + k] += d * d;
    }
  }
  for (let k = 0; k < dim; k++) out[dim + k] = Math.sqrt(out[dim + k]! / n);
  let voiced = 0;
  let sum = 0;
  let square = 0;
  for (let t = startFrame; t < endFrame; t++) {
    const v = logF0[t]!;
    if (Number.isNaN(v)) continue;
    voiced++;
    sum += v;
    square += v * v;
  }
  const mean = voiced > 0 ? sum / voiced : fallbackLogF0;
  out[2 * dim] = mean;
  out[2 * dim + 1] = voiced > 1 ? Math.sqrt(Math.max(0, square / voiced - mean * mean)) : 0;
  out[2 * dim + 2] = voiced / n;
  return out;
}

/** Median of the voiced log-f0 values (the stand-in for windows without voiced frames). */
export function medianLogF0(logF0: LogF0Frames): number {
  const voiced = [...logF0].filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  return voiced.length ? voiced[Math.floor(voiced.length / 2)]! : Math.log(150);
}

/** Windows over the speech regions: 1.5 s every 0.5 s; a region of 0.5..1.5 s is one window. */
export function speakerWindows(features: MfccFrames, logF0: LogF0Frames, regions: readonly TimeRegion[]): SpeakerWindow[] {
  const fallback = medianLogF0(logF0);
  const windows: SpeakerWindow[] = [];
  const length = Math.round(WINDOW_SECONDS / MFCC_HOP_SECONDS);
  const hop = Math.round(WINDOW_HOP_SECONDS / MFCC_HOP_SECONDS);
  const minimum = Math.round(MIN_WINDOW_SECONDS / MFCC_HOP_SECONDS);
  for (const region of regions) {
    const start = Math.max(0, Math.round(region.startSeconds / MFCC_HOP_SECONDS));
    const end = Math.min(features.frames, Math.round(region.endSeconds / MFCC_HOP_SECONDS));
    if (end - start < minimum) continue;
    if (end - start <= length) {
      windows.push({ startFrame: start, endFrame: end, stats: frameStats(features, logF0, fallback, start, end) });
      continue;
    }
    const count = 1 + Math.ceil((end - start - length) / hop);
    for (let i = 0; i < count; i++) {
      // The last window is aligned to the region's end so the tail is covered.
      const s = Math.min(start + i * hop, end - length);
      windows.push({ startFrame: s, endFrame: s + length, stats: frameStats(features, logF0, fallback, s, s + length) });
    }
  }
  return windows;
}

/** A linear projection y = W (x - mean), W [outputDim][inputDim]. */
export interface SpeakerProjection {
  inputDim: number;
  outputDim: number;
  mean: number[];
  weights: number[][];
  /** Where the projection came from (speakers, windows), for `--help` and reports. */
  trainedOn?: string;
  /**
   * How far apart (splitFisherRatio, src/diarize/consensus.ts) the two halves of one voice the LDA was not trained on
   * come out, by the recording's number of windows: scripts/calibrate-one-voice.ts measures it on held-out training
   * speakers. Absent: `auto` does not use that test.
   */
  oneVoiceSplitFisher?: { windows: number[]; limit: number[] };
}

export const SPEAKER_LDA_PATH = join(shippedModelsDir, 'speaker_lda', 'lda.json');
/** The same LDA trained with each speaker also at 0.9× and 1.1× speed as speakers of their own (a second opinion in the consensus). */
export const SPEAKER_LDA_SPEED_PERTURBED_PATH = join(shippedModelsDir, 'speaker_lda', 'lda-speed-perturbed.json');
const shipped = new Map<string, SpeakerProjection>();

/** A projection file; the shipped ones are read once. */
export function loadSpeakerProjection(path = SPEAKER_LDA_PATH): SpeakerProjection {
  const cached = shipped.get(path);
  if (cached) return cached;
  let parsed: SpeakerProjection;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as SpeakerProjection;
  } catch (error) {
    throw new SvcError('MODEL_NOT_FOUND', `cannot read the speaker projection ${path}: ${errorMessage(error)}`, { hint: `run \`node --import tsx scripts/train-speaker-lda.ts${path === SPEAKER_LDA_SPEED_PERTURBED_PATH ? ' --speed-perturb' : ''}\` to rebuild it` });
  }
  if (!Array.isArray(parsed.weights) || parsed.weights.length !== parsed.outputDim || parsed.mean?.length !== parsed.inputDim) {
    throw new SvcError('MODEL_INVALID', `${path} is not a speaker projection: expected weights [outputDim][inputDim] and mean [inputDim]`);
  }
  if (path === SPEAKER_LDA_PATH || path === SPEAKER_LDA_SPEED_PERTURBED_PATH) shipped.set(path, parsed);
  return parsed;
}

/** Each window's statistics through the projection, before centring and normalising: [outputDim] per window. */
export function projectWindows(windows: readonly SpeakerWindow[], projection: SpeakerProjection): Float32Array[] {
  const { inputDim, outputDim, weights } = projection;
  const inputMean = projection.mean;
  return windows.map((w) => {
    if (w.stats.length !== inputDim) throw new SvcError('INTERNAL', `speaker stats have ${w.stats.length} values, the projection expects ${inputDim}`);
    const y = new Float32Array(outputDim);
    for (let o = 0; o < outputDim; o++) {
      const row = weights[o]!;
      let sum = 0;
      for (let i = 0; i < inputDim; i++) sum += row[i]! * (w.stats[i]! - inputMean[i]!);
      y[o] = sum;
    }
    return y;
  });
}

/**
 * Embeddings from projected windows: their first `dims` values (the leading LDA dimensions carry the most
 * speaker variance), centred on the recording's mean when `centre`, each scaled to unit length. New arrays.
 */
export function normalizeEmbeddings(projected: readonly Float32Array[], dims: number, centre = false): Float32Array[] {
  const out = projected.map((y) => y.slice(0, dims));
  const mean = new Float32Array(dims);
  if (centre) for (const y of out) for (let o = 0; o < dims; o++) mean[o] += y[o]! / out.length;
  for (const y of out) {
    let norm = 0;
    for (let o = 0; o < dims; o++) {
      y[o] -= mean[o]!;
      norm += y[o]! * y[o]!;
    }
    norm = Math.sqrt(norm) || 1;
    for (let o = 0; o < dims; o++) y[o] /= norm;
  }
  return out;
}

/**
 * Projects each window's stats and scales it to unit length. `centre` also removes the recording's
 * mean embedding first (what all its windows share, room and microphone, is not a speaker cue) —
 * which only makes sense when the recording is known to hold several speakers.
 */
export function embedWindows(windows: readonly SpeakerWindow[], projection: SpeakerProjection, centre = false): Float32Array[] {
  return normalizeEmbeddings(projectWindows(windows, projection), projection.outputDim, centre);
}
