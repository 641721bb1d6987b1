// Slicing long recordings into training clips at silences, and per-clip loudness normalisation.
// Pure functions on mono Float32 samples. An energy VAD: 20 ms frame levels in dBFS, "sound" is any
// frame within `thresholdBelowPeakDb` of the recording's loudest frames (and above an absolute
// floor); pauses of at least `minSilenceSeconds` are cut points. Clips are built from the sound
// regions between cut points, closed once they reach `targetSeconds` (or when the next region
// would pass `maxSeconds`); a region longer than `maxSeconds` is split at its quietest frames.
import { rmsDecibels } from '../dsp/volume.js';

export interface SliceOptions {
  /** Clips shorter than this are merged with a neighbour or dropped. Default 2 s. */
  minSeconds?: number;
  /** No clip is longer than this. Default 15 s. */
  maxSeconds?: number;
  /** A clip is closed at the first pause after it reaches this length. Default 8 s. */
  targetSeconds?: number;
  /** Shortest pause that may end a clip. Default 0.3 s. */
  minSilenceSeconds?: number;
  /** Frames quieter than (loud level − this) are silence. Default 40 dB. */
  thresholdBelowPeakDb?: number;
  /** Frames below this level are always silence. Default −60 dBFS. */
  floorDb?: number;
  /** Silence kept around each clip's sound. Default 0.1 s. */
  paddingSeconds?: number;
}

export interface Segment {
  startSample: number;
  /** Exclusive. */
  endSample: number;
}

export interface SliceResult {
  segments: Segment[];
  /** True when no frame rose above the silence threshold. */
  silenceOnly: boolean;
  /** Sound that ended up in no clip because it was shorter than minSeconds, in seconds. */
  droppedShortSeconds: number;
  /** Number of such short pieces. */
  droppedShortCount: number;
}

const FRAME_SECONDS = 0.02;

/** RMS level per non-overlapping frame, in dBFS (−120 for digital silence). */
export function frameLevelsDb(samples: Float32Array, frameSamples: number): Float32Array {
  const frames = Math.ceil(samples.length / frameSamples);
  const out = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    const start = f * frameSamples;
    out[f] = rmsDecibels(samples, start, Math.min(samples.length, start + frameSamples));
  }
  return out;
}

/** The level that "loud" means: the 98th percentile of frame levels (robust to a click). */
export function loudLevelDb(levels: Float32Array): number {
  if (levels.length === 0) return -120;
  const sorted = Float32Array.from(levels).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.98))]!;
}

/** Cuts a recording into clips at pauses (see the module comment). */
export function sliceAtSilences(samples: Float32Array, sampleRate: number, options: SliceOptions = {}): SliceResult {
  const minSeconds = options.minSeconds ?? 2;
  const maxSeconds = options.maxSeconds ?? 15;
  const targetSeconds = Math.min(options.targetSeconds ?? 8, maxSeconds);
  const frameSamples = Math.round(FRAME_SECONDS * sampleRate);
  const levels = frameLevelsDb(samples, frameSamples);
  const threshold = Math.max(loudLevelDb(levels) - (options.thresholdBelowPeakDb ?? 40), options.floorDb ?? -60);
  const sound = Array.from(levels, (db) => db > threshold);
  const empty: SliceResult = { segments: [], silenceOnly: true, droppedShortSeconds: 0, droppedShortCount: 0 };
  if (!sound.some(Boolean)) return empty;

  // Sound regions [startFrame, endFrame) separated by pauses of at least minSilence frames.
  const minSilenceFrames = Math.max(1, Math.round((options.minSilenceSeconds ?? 0.3) / FRAME_SECONDS));
  const regions: Array<[number, number]> = [];
  let f = 0;
  while (f < sound.length) {
    while (f < sound.length && !sound[f]) f++;
    if (f >= sound.length) break;
    const start = f;
    let end = f;
    let quiet = 0;
    while (f < sound.length) {
      if (sound[f]) {
        quiet = 0;
        end = f + 1;
      } else if (++quiet >= minSilenceFrames) break;
      f++;
    }
    regions.push([start, end]);
  }

  // Regions longer than maxSeconds are split at the quietest frame in the allowed window.
  const maxFrames = Math.floor(maxSeconds / FRAME_SECONDS);
  const minFrames = Math.ceil(minSeconds / FRAME_SECONDS);
  const pieces: Array<[number, number]> = [];
  for (let [start, end] of regions) {
    while (end - start > maxFrames) {
      let cut = start + maxFrames;
      let quietest = Infinity;
      for (let k = start + Math.max(minFrames, Math.floor(maxFrames / 2)); k < start + maxFrames; k++) {
        if (levels[k]! < quietest) {
          quietest = levels[k]!;
          cut = k;
        }
      }
      pieces.push([start, cut]);
      start = cut;
    }
    pieces.push([start, end]);
  }

  // Group consecutive pieces into clips of about targetSeconds, never over maxSeconds.
  const padFrames = Math.round((options.paddingSeconds ?? 0.1) / FRAME_SECONDS);
  const groups: Array<[number, number]> = [];
  let current: [number, number] | undefined;
  for (const piece of pieces) {
    if (current && piece[1] - current[0] <= maxFrames && current[1] - current[0] < targetSeconds / FRAME_SECONDS) {
      current[1] = piece[1];
    } else {
      if (current) groups.push(current);
      current = [piece[0], piece[1]];
    }
  }
  if (current) groups.push(current);
  // A short last group joins the one before it when the result still fits.
  if (groups.length >= 2) {
    const last = groups[groups.length - 1]!;
    const previous = groups[groups.length - 2]!;
    if (last[1] - last[0] + 2 * padFrames < minFrames && last[1] - previous[0] <= maxFrames) {
      previous[1] = last[1];
      groups.pop();
    }
  }

  const totalFrames = levels.length;
  const result: SliceResult = { segments: [], silenceOnly: false, droppedShortSeconds: 0, droppedShortCount: 0 };
  for (const [start, end] of groups) {
    const paddedStart = Math.max(0, start - padFrames);
    const paddedEnd = Math.min(totalFrames, end + padFrames);
    const startSample = paddedStart * frameSamples;
    const endSample = Math.min(samples.length, paddedEnd * frameSamples);
    if (endSample - startSample < minSeconds * sampleRate) {
      result.droppedShortSeconds += (end - start) * FRAME_SECONDS;
      result.droppedShortCount++;
      continue;
    }
    result.segments.push({ startSample, endSample });
  }
  return result;
}

/** Fraction of samples at or beyond ±`limit` (full scale): how much of a clip is clipped. */
export function clippedFraction(samples: Float32Array, limit = 0.999): number {
  if (samples.length === 0) return 0;
  let count = 0;
  for (let i = 0; i < samples.length; i++) if (Math.abs(samples[i]!) >= limit) count++;
  return count / samples.length;
}

export interface LoudnessOptions {
  /** RMS of the clip's sound frames after normalisation. Default −23 dBFS. */
  targetRmsDb?: number;
  /** The gain never lifts the peak above this. Default −1 dBFS. */
  peakLimitDb?: number;
}

/**
 * Gain that brings the RMS of the clip's sound frames (those within 40 dB of its loud level) to
 * the target, limited so the peak stays below peakLimitDb. Returns the linear gain.
 */
export function loudnessGain(samples: Float32Array, sampleRate: number, options: LoudnessOptions = {}): number {
  const targetRmsDb = options.targetRmsDb ?? -23;
  const peakLimit = 10 ** ((options.peakLimitDb ?? -1) / 20);
  const levels = frameLevelsDb(samples, Math.round(FRAME_SECONDS * sampleRate));
  const threshold = loudLevelDb(levels) - 40;
  let power = 0;
  let count = 0;
  for (const db of levels) {
    if (db > threshold) {
      power += 10 ** (db / 10);
      count++;
    }
  }
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]!));
  if (count === 0 || peak === 0) return 1;
  const rmsDb = 10 * Math.log10(power / count);
  return Math.min(10 ** ((targetRmsDb - rmsDb) / 20), peakLimit / peak);
}

/** Multiplies samples by `gain` in place. */
export function applyGainInPlace(samples: Float32Array, gain: number): void {
  for (let i = 0; i < samples.length; i++) samples[i]! *= gain;
}
