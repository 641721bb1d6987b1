// Speaker weights over time for a speaker-mix generator (sid float32 [T, S]: one weight row per frame),
// as upstream so-vits-svc's `use_spk_mix` (inference/infer_tool.py slice_inference with spk_mix_map):
// a mix that changes within a call. Offline, a schedule of keyframes `a:1,b:0@0s; a:0,b:1@4s` is
// interpolated linearly between keyframes (held before the first and after the last). Live, a speaker
// change ramps from the weights in force to the new ones over `rampFrames` frames that have not been
// emitted yet, so the voice glides instead of stepping. Rows are a function of the absolute frame index
// only: overlapping generator windows (SOLA context, offline slices) see identical weights.
import { SvcError } from '../../errors.js';
import { mixRefusal, resolveSpeakerChoice, type SovitsManifest, type SpeakerChoice } from './bundle.js';

/** One keyframe: at `frame` the weights are `row` (one per mix column, summing to 1). */
interface Keyframe {
  frame: number;
  row: Float32Array;
}

/** A keyframe of a schedule before it is placed on frames. */
export interface ScheduleKeyframe {
  seconds: number;
  choice: SpeakerChoice;
}

/** True when `--speaker` holds a schedule (a `@` time) rather than one speaker or one mix. */
export function isSpeakerSchedule(speaker: string | number | undefined): speaker is string {
  return typeof speaker === 'string' && speaker.includes('@');
}

function parseSeconds(text: string, whole: string): number {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)?\s*$/.exec(text);
  if (!match) throw new SvcError('INVALID_ARGUMENT', `speaker schedule '${whole}': time '${text}' is not seconds (e.g. 4s, 2.5, 750ms)`, { hint: 'write keyframes as MIX@TIME separated by ";", e.g. "a:1,b:0@0s; a:0,b:1@4s"' });
  return Number(match[1]) / (match[2] === 'ms' ? 1000 : 1);
}

/**
 * Parses `MIX@TIME; MIX@TIME; ...` (MIX as `--speaker` takes it: `a`, `a:0.7,b:0.3`; TIME in seconds, `s`
 * or `ms`): keyframes in time order, each validated against the model's speakers. Times must increase.
 */
export function parseSpeakerSchedule(manifest: SovitsManifest, text: string): ScheduleKeyframe[] {
  const parts = text.split(';').map((part) => part.trim()).filter(Boolean);
  const keys: ScheduleKeyframe[] = [];
  for (const part of parts) {
    const at = part.lastIndexOf('@');
    if (at < 0) throw new SvcError('INVALID_ARGUMENT', `speaker schedule '${text}': keyframe '${part}' has no @TIME`, { hint: 'write keyframes as MIX@TIME, e.g. "a:1,b:0@0s; a:0,b:1@4s"' });
    const seconds = parseSeconds(part.slice(at + 1), text);
    const choice = resolveSpeakerChoice(manifest, part.slice(0, at).trim());
    if (keys.length && seconds <= keys[keys.length - 1]!.seconds) {
      throw new SvcError('INVALID_ARGUMENT', `speaker schedule '${text}': keyframe times must increase (${seconds} s after ${keys[keys.length - 1]!.seconds} s)`);
    }
    keys.push({ seconds, choice });
  }
  if (keys.length === 0) throw new SvcError('INVALID_ARGUMENT', `speaker schedule '${text}' has no keyframe`);
  const speakers = new Set(keys.flatMap((key) => (key.choice.mix ?? [{ id: key.choice.speakerId }]).map((entry) => entry.id)));
  // One speaker throughout works on any graph; more than one needs the per-frame mix graph.
  if (speakers.size > 1 && !manifest.speaker_mix) throw mixRefusal(manifest);
  return keys;
}

/** Weight row (mix columns) of a choice; a speaker outside the columns is INVALID_ARGUMENT. */
export function choiceRow(manifest: SovitsManifest, choice: SpeakerChoice): Float32Array {
  const columns = manifest.speaker_mix!.columns;
  const row = new Float32Array(columns.length);
  for (const { id, weight } of choice.mix ?? [{ id: choice.speakerId, weight: 1 }]) {
    const column = columns.findIndex((name) => manifest.speakers[name] === id);
    if (column < 0) throw new SvcError('INVALID_ARGUMENT', `speaker id ${id} is not one of the mix graph's speakers (${columns.join(', ')})`);
    row[column] = weight;
  }
  return row;
}

/** Per-frame speaker weights for a speaker-mix graph: keyframes, linear in between. */
export class SpeakerTrack {
  private keys: Keyframe[];

  private constructor(readonly width: number, keys: Keyframe[]) {
    this.keys = keys;
  }

  /** One choice for every frame. */
  static constant(manifest: SovitsManifest, choice: SpeakerChoice): SpeakerTrack {
    const row = choiceRow(manifest, choice);
    return new SpeakerTrack(row.length, [{ frame: 0, row }]);
  }

  /** A parsed schedule on frames of `framesPerSecond`. */
  static fromSchedule(manifest: SovitsManifest, keys: ScheduleKeyframe[], framesPerSecond: number): SpeakerTrack {
    const placed = keys.map((key) => ({ frame: key.seconds * framesPerSecond, row: choiceRow(manifest, key.choice) }));
    return new SpeakerTrack(placed[0]!.row.length, placed);
  }

  /** Weights at frame k (written into `out` at `offset`). */
  private rowAt(k: number, out: Float32Array, offset: number): void {
    const keys = this.keys;
    let i = 0;
    while (i < keys.length && keys[i]!.frame <= k) i++;
    if (i === 0 || i === keys.length) {
      out.set(keys[i === 0 ? 0 : keys.length - 1]!.row, offset);
      return;
    }
    const a = keys[i - 1]!;
    const b = keys[i]!;
    const t = (k - a.frame) / (b.frame - a.frame);
    for (let c = 0; c < this.width; c++) out[offset + c] = (1 - t) * a.row[c]! + t * b.row[c]!;
  }

  /** Rows for frames [k0, k0 + frames): float32 [frames, width], the generator's `sid`. */
  rows(k0: number, frames: number): Float32Array {
    const out = new Float32Array(frames * this.width);
    for (let k = 0; k < frames; k++) this.rowAt(k0 + k, out, k * this.width);
    return out;
  }

  /** The column with the largest weight at frame k (the speaker whose cluster model and f0 apply). */
  heaviestColumn(k: number): number {
    const row = this.rows(k, 1);
    let best = 0;
    for (let c = 1; c < row.length; c++) if (row[c]! > row[best]!) best = c;
    return best;
  }

  /**
   * Live change: from `fromFrame` (the first frame not yet emitted) the weights glide from what is in
   * force there to `row`, reaching it `rampFrames` later. Keyframes after `fromFrame` are replaced, so
   * a change during a ramp starts from wherever the ramp had got to.
   */
  rampTo(row: Float32Array, fromFrame: number, rampFrames: number): void {
    const start = this.rows(fromFrame, 1);
    const kept = this.keys.filter((key) => key.frame < fromFrame);
    kept.push({ frame: fromFrame, row: start }, { frame: fromFrame + Math.max(1, rampFrames), row: Float32Array.from(row) });
    this.keys = kept;
  }

  /** Holds the last keyframe's weights from frame 0 on (a restarted timeline; a ramp in progress completes). */
  settle(): void {
    this.keys = [{ frame: 0, row: this.keys[this.keys.length - 1]!.row }];
  }

  /** Drops keyframes no frame ≥ k can need (keeps the one in force at k). */
  forgetBefore(k: number): void {
    let i = 0;
    while (i + 1 < this.keys.length && this.keys[i + 1]!.frame <= k) i++;
    if (i > 0) this.keys = this.keys.slice(i);
  }
}
