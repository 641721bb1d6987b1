// Offline So-VITS conversion of a whole file: the file drains the same feature timeline as the streaming
// stage (timeline.ts: f0 with gap fill, volume, the 16 kHz feed, content rows, source phase), then the
// generator runs in overlapping slices. Auto-pitch and the option checks live here too.
import { resample } from '../../audio/resample.js';
import { DEFAULT_F0_METHOD, type F0Choice } from '../../dsp/f0/index.js';
import { generateInSlices } from '../../engine/slices.js';
import { SvcError } from '../../errors.js';
import { semitonesToRatio, VOICE_LIMITS } from '../stage.js';
import { speakerName, type SovitsManifest } from './bundle.js';
import { DEFAULT_NOISE_SCALE, defaultEncoderContext, type GenerateOptions, type SovitsModel } from './model.js';
import { isSpeakerSchedule, parseSpeakerSchedule, SpeakerTrack } from './speakerTrack.js';
import { streamF0TrackLagFrames } from './stage.js';
import { SovitsTimeline, type ContentMapping, type EncoderContext, type GeneratorWindow } from './timeline.js';

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
  return Math.max(VOICE_LIMITS.pitch.min, Math.min(VOICE_LIMITS.pitch.max, Math.round(12 * Math.log2(targetHz / inputMedianHz))));
}

/** Typical f0 of a speaker: manifest.speaker_f0_hz[name], else manifest.speaker_f0_hz["*"]; undefined if unknown. */
export function speakerTypicalF0(manifest: SovitsManifest, speakerId: number): number | undefined {
  const table = (manifest as SovitsManifest & { speaker_f0_hz?: Record<string, number> }).speaker_f0_hz;
  if (!table) return undefined;
  const name = speakerName(manifest, speakerId);
  const value = (name !== undefined ? table[name] : undefined) ?? table['*'];
  return typeof value === 'number' && value > 0 ? value : undefined;
}

export interface ConvertOptions {
  /** A speaker (`alice`, `0`), a mix (`alice:0.7,bob:0.3`) or a schedule (`a:1,b:0@0s; a:0,b:1@4s`, speakerTrack.ts). */
  speaker?: string | number;
  /** Pitch shift in semitones (added to the auto-pitch shift when both are given). */
  pitch?: number;
  /** Shift so the input's median f0 lands on the speaker's typical f0 (manifest speaker_f0_hz or targetF0Hz). */
  autoPitch?: boolean;
  /** Typical f0 of the target voice for auto-pitch, Hz (overrides the manifest). */
  targetF0Hz?: number;
  f0Method?: F0Choice;
  /** The f0 estimator's low-latency mode (what the streaming stage uses; default false offline). */
  f0LowLatency?: boolean;
  /** dsp f0: the Viterbi's lag in 10 ms frames (default: the mode's; with f0LowLatency, the stream's: streamF0TrackLagFrames). */
  f0TrackLagFrames?: number;
  noiseScale?: number;
  seed?: number;
  /** so-vits-svc's cluster_infer_ratio (0..1; needs a bundle with a cluster model). */
  clusterRatio?: number;
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

/** What the generator is fed for a whole file: the timeline's window over every frame, with all rows. */
export interface OfflineFeatures extends Omit<GeneratorWindow, 'frameOffset'> {
  audio16k: Float32Array;
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
  const { min, max } = VOICE_LIMITS.pitch;
  if (options.pitch !== undefined && !(Number.isFinite(options.pitch) && options.pitch >= min && options.pitch <= max)) {
    throw new SvcError('INVALID_ARGUMENT', `pitch must be a number of semitones from ${min} to ${max}, got ${options.pitch}`);
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
 * model rate. The whole file drains the feature timeline (the streaming stage's), then the generator runs
 * in overlapping slices (sliceFrames) crossfaded over crossfadeFrames, with the NSF source phase and the
 * noise continued across slices.
 */
export async function convertAtModelRate(model: SovitsModel, samples: Float32Array, options: ConvertOptions = {}): Promise<ConvertResult> {
  validateConvertOptions(options);
  // A schedule (keyframes with @TIME) becomes per-frame weights; its first keyframe names the speaker for auto-pitch.
  const schedule = isSpeakerSchedule(options.speaker) ? parseSpeakerSchedule(model.manifest, options.speaker) : null;
  const { speakerId, mix } = schedule ? schedule[0]!.choice : model.speakerChoice(options.speaker);
  const track = schedule && model.manifest.speaker_mix ? SpeakerTrack.fromSchedule(model.manifest, schedule, model.sampleRate / model.hopSamples) : null;
  for (const choice of schedule?.map((key) => key.choice) ?? [{ speakerId }]) model.checkClusterRatio(options.clusterRatio, choice.speakerId);
  const noiseScale = options.noiseScale ?? DEFAULT_NOISE_SCALE;
  const seed = options.seed ?? 0;
  const mapping = options.mapping ?? 'time';
  const n = samples.length;
  if (n === 0) throw new SvcError('FILE_EMPTY', 'the input holds no audio samples');
  const f0Method = options.f0Method ?? DEFAULT_F0_METHOD;
  const f0LowLatency = options.f0LowLatency ?? false;
  const timeline = await SovitsTimeline.create({
    sampleRate: model.sampleRate,
    hopSamples: model.hopSamples,
    f0Method,
    f0LowLatency,
    f0TrackLagFrames: f0LowLatency ? await streamF0TrackLagFrames(model, { ...options, f0Method }) : options.f0TrackLagFrames,
    volume: model.volEmbedding,
    encoder: model,
    contentDim: model.contentDim,
    encoderContext: options.encoderContext ?? defaultEncoderContext(model),
    gapLookaheadFrames: options.f0GapLookaheadFrames ?? Infinity,
  });
  try {
    await timeline.drainFile(samples);
    // The generator makes ceil(n/hop) frames; f0 has floor(n/hop): the last frame's values are held.
    const frames = timeline.generatorFrames;
    const rawF0 = new Float32Array(frames);
    const voiced = new Uint8Array(frames);
    for (let k = 0; k < frames; k++) {
      const raw = timeline.rawF0(k);
      rawF0[k] = raw.f0Hz;
      voiced[k] = raw.voiced ? 1 : 0;
    }
    const pitchSemitones = resolvePitch(model, speakerId, rawF0, voiced, options);
    const ratio = semitonesToRatio(pitchSemitones);
    if (options.onFeatures) {
      const all = timeline.window(0, frames, ratio, mapping);
      const { content, rows } = timeline.contentRows;
      options.onFeatures({ audio16k: timeline.audio16kView, content, rows, mel2ph: all.mel2ph, f0Hz: all.f0Hz, uv: all.uv, vol: all.vol, speakerId, noiseScale, seed, pitchSemitones, frames });
    }
    const out = await generateSliced(model, timeline, frames, ratio, mapping, { speakerId, mix, noiseScale, seed, clusterRatio: options.clusterRatio }, options, track);
    const nameOf = (id: number): string => speakerName(model.manifest, id) ?? String(id);
    const mixLabel = (m: typeof mix, id: number) => (m ? m.map((entry) => `${nameOf(entry.id)} ${entry.weight.toFixed(2)}`).join(' + ') : nameOf(id));
    const label = schedule ? schedule.map((key) => `${mixLabel(key.choice.mix, key.choice.speakerId)} @${key.seconds}s`).join(' -> ') : mixLabel(mix, speakerId);
    return { samples: out.subarray(0, n).slice(), sampleRate: model.sampleRate, pitchSemitones, speakerId, speakerName: label, frames };
  } finally {
    timeline.dispose();
  }
}

async function generateSliced(
  model: SovitsModel,
  timeline: SovitsTimeline,
  frames: number,
  ratio: number,
  mapping: ContentMapping,
  generate: Omit<GenerateOptions, 'sourcePhaseCycles'>,
  options: ConvertOptions,
  track: SpeakerTrack | null = null,
): Promise<Float32Array> {
  const hop = model.hopSamples;
  const framesPerSecond = model.sampleRate / hop;
  const slice = Math.max(8, options.sliceFrames ?? Math.round(20 * framesPerSecond));
  const context = Math.max(0, options.sliceContextFrames ?? Math.round(0.5 * framesPerSecond));
  const fade = Math.max(1, Math.min(context, options.crossfadeFrames ?? Math.max(1, Math.round(0.1 * framesPerSecond))));
  return generateInSlices({ frames, hopSamples: hop, sliceFrames: slice, contextFrames: context, fadeFrames: fade }, (runFrom, runTo) => {
    const window = timeline.window(runFrom, runTo, ratio, mapping);
    const phase = runFrom === 0 ? undefined : timeline.sourcePhase(runFrom, ratio);
    if (!track) return model.generate(window, { ...generate, sourcePhaseCycles: phase });
    // A schedule: per-frame weights; the cluster model of the slice's heaviest speaker applies.
    const columns = model.manifest.speaker_mix!.columns;
    const speakerId = model.manifest.speakers[columns[track.heaviestColumn((runFrom + runTo) >> 1)]!]!;
    return model.generate(window, { ...generate, speakerId, speakerRows: track.rows(runFrom, runTo - runFrom), sourcePhaseCycles: phase });
  }, options.onProgress);
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
