// Who spoke when. The pipeline, top to bottom:
//   audio (any rate) → 16 kHz mono → Silero VAD → speech regions
//   → MFCC frames → 1.5 s windows → mean/std statistics → LDA speaker embedding (unit length)
//   → clustering: a consensus of ten clusterings for a count given; with auto, the count whose clusters take
//     turns like speakers (consensus.ts)
//   → HMM resegmentation of the windows (Gaussian speaker models of this recording, Viterbi; resegment.ts)
//   → every 10 ms speech frame takes its nearest window's speaker → speaker turns
//   → turns of one speaker less than 0.3 s apart joined.
// Overlapped speech is not separated: each instant gets one speaker; the result reports how much
// speech the turns cover so a user can see what was assigned. Speakers are named SPEAKER_00, 01, …
// in order of first appearance (as pyannote names them).
import { SvcError } from '../errors.js';
import { resample } from '../audio/resample.js';
import type { MonoAudio } from '../audio/types.js';
import { closestCentroidCosine, renumberByFirstAppearance, SAME_SPEAKER_COSINE } from './cluster.js';
import { autoConsensus, consensusClustering, ONE_VOICE_COSINE, splitFisherRatio } from './consensus.js';
import { loadSpeakerProjection, normalizeEmbeddings, projectWindows, SPEAKER_LDA_SPEED_PERTURBED_PATH, speakerWindows, WINDOW_HOP_SECONDS, WINDOW_SECONDS, type SpeakerProjection, type SpeakerWindow } from './embedding.js';
import { resegmentWindows } from './resegment.js';
import { logF0Frames, MFCC_HOP_SECONDS, mfcc } from './mfcc.js';
import { labelsFromWindows, regionFrames } from './frames.js';
import type { SpeakerTurn } from './rttm.js';
import { SileroVad, speechRegions, VAD_SAMPLE_RATE, type SpeechRegionOptions, type TimeRegion } from './vad.js';

export { diarizationErrorRate, type DerResult } from './der.js';
export { formatRttm, parseRttm, rttmFileId, type SpeakerTurn } from './rttm.js';
export { SileroVad, speechRegions, type TimeRegion } from './vad.js';

/** Most speakers `--speakers N` accepts. */
export const MAX_SPEAKERS = 10;
/** A speaker needs this share of the speech windows to count ('auto', and extra speakers of --speakers N). */
export const MIN_SPEAKER_SHARE = 0.04;
/** Shortest turn kept; shorter runs go to the neighbouring speaker. */
const MIN_TURN_SECONDS = 0.25;
/**
 * A pause shorter than this between two turns of one speaker does not end the turn: the NIST RT
 * convention for reference segmentation (pauses under 0.3 s are not segment breaks), which is what
 * a turn means to a listener and to DER. The VAD splits at 0.1 s pauses, so without this every short
 * breath inside a turn counted as missed speech (VCC 2016 4 speakers: 6.2 -> 4.6 % missed).
 */
const MAX_BRIDGED_PAUSE_SECONDS = 0.3;
/**
 * The resegmentation's prior on turn length (its speaker-change cost per 0.5 s window hop is
 * −log(0.5 / 5)) and its model/label rounds. Not tuned: VCC 2016 4 speakers gave the same DER with 3, 5 and 10 s.
 */
const RESEGMENT_MEAN_TURN_SECONDS = 5;
const RESEGMENT_ITERATIONS = 3;

export interface DiarizeOptions {
  speakers: number | 'auto';
  vad?: SpeechRegionOptions;
  projection?: SpeakerProjection;
  /** The consensus's second projection (default: the shipped speed-perturbed LDA; none when only `projection` is given). */
  secondProjection?: SpeakerProjection;
  /** A loaded VAD to reuse (benchmarks); otherwise one is loaded and released. */
  vadModel?: SileroVad;
}

export interface Diarization {
  durationSeconds: number;
  speechSeconds: number;
  regions: TimeRegion[];
  /** Turns sorted by start; speaker names SPEAKER_00.. */
  turns: SpeakerTurn[];
  speakers: string[];
  /** Speech seconds per speaker, same order as `speakers`. */
  speakerSeconds: number[];
  /** Things a user should know (fewer speakers than asked, one speaker only, ...). */
  notes: string[];
}

export function speakerName(index: number): string {
  return `SPEAKER_${String(index).padStart(2, '0')}`;
}

export async function diarize(audio: MonoAudio, options: DiarizeOptions): Promise<Diarization> {
  const { speakers } = options;
  if (speakers !== 'auto' && (!Number.isInteger(speakers) || speakers < 1 || speakers > MAX_SPEAKERS)) {
    throw new SvcError('INVALID_ARGUMENT', `speakers must be auto or an integer from 1 to ${MAX_SPEAKERS}, got ${speakers}`);
  }
  return diarizeFeatures(await speechFeatures(audio, options), options);
}

/** What diarization needs from the audio: speech regions and the speaker windows over them (the costly part). */
export interface SpeechFeatures {
  durationSeconds: number;
  regions: TimeRegion[];
  /** MFCC frames (10 ms) of the whole recording. */
  frames: number;
  /** Speech-region frame ranges [start, end). */
  spans: Array<[number, number]>;
  windows: SpeakerWindow[];
}

/** Voice activity, MFCC, log f0 and the speaker windows of a recording. */
export async function speechFeatures(audio: MonoAudio, options: Pick<DiarizeOptions, 'vad' | 'vadModel'> = {}): Promise<SpeechFeatures> {
  const samples = audio.sampleRate === VAD_SAMPLE_RATE ? audio.samples : await resample(audio.samples, audio.sampleRate, VAD_SAMPLE_RATE);
  const durationSeconds = samples.length / VAD_SAMPLE_RATE;
  const vad = options.vadModel ?? (await SileroVad.load());
  let probabilities: Float32Array;
  try {
    probabilities = await vad.probabilities(samples);
  } finally {
    if (!options.vadModel) await vad.dispose();
  }
  const regions = speechRegions(probabilities, durationSeconds, options.vad);
  if (regions.length === 0) return { durationSeconds, regions, frames: 0, spans: [], windows: [] };
  const features = mfcc(samples);
  const spans = regionFrames(regions, features.frames);
  const logF0 = await logF0Frames(samples, features.frames);
  const windows = speakerWindows(features, logF0, spans.map(([s, e]) => ({ startSeconds: s * MFCC_HOP_SECONDS, endSeconds: e * MFCC_HOP_SECONDS })));
  return { durationSeconds, regions, frames: features.frames, spans, windows };
}

/** Speakers and turns from a recording's features (everything after the audio analysis; no I/O but the shipped projections). */
export function diarizeFeatures(features: SpeechFeatures, options: Pick<DiarizeOptions, 'speakers' | 'projection' | 'secondProjection'>): Diarization {
  const { speakers } = options;
  const { durationSeconds, regions, spans, windows } = features;
  const speechSeconds = regions.reduce((sum, r) => sum + r.endSeconds - r.startSeconds, 0);
  const notes: string[] = [];
  if (regions.length === 0) {
    notes.push('no speech found (the voice-activity detector heard only silence or noise)');
    return { durationSeconds, speechSeconds, regions, turns: [], speakers: [], speakerSeconds: [], notes };
  }
  let frameLabels: Int32Array;
  if (windows.length === 0 || speakers === 1) {
    frameLabels = labelsFromWindows([], new Int32Array(0), spans, features.frames);
  } else {
    const projection = options.projection ?? loadSpeakerProjection();
    // The consensus also asks the speed-perturbed LDA (unless a caller brought its own projection).
    const second = options.secondProjection ?? (options.projection ? undefined : loadSpeakerProjection(SPEAKER_LDA_SPEED_PERTURBED_PATH));
    const consensusProjections = second ? [projection, second] : [projection];
    // Each projection's matrix product once per window; the consensus derives its variants from it.
    const projected = projectWindows(windows, projection);
    const embeddings = normalizeEmbeddings(projected, projection.outputDim);
    const projections = consensusProjections.map((p, i) => ({ projection: p, projected: i === 0 ? projected : projectWindows(windows, p) }));
    const consensusOptions = { maxSpeakers: MAX_SPEAKERS, minShare: MIN_SPEAKER_SHARE };
    // 'auto': the count whose clusters take turns like speakers (src/diarize/consensus.ts), labelled as a given count is.
    let windowLabels = speakers === 'auto' ? autoConsensus(projections, windows, embeddings, consensusOptions) : consensusClustering(projections, speakers, consensusOptions);
    let count = Math.max(...windowLabels) + 1;
    // The HMM resegmentation (src/diarize/resegment.ts) relabels windows with this recording's speaker models.
    // A speaker the Viterbi pass leaves without windows is gone: labels are renumbered 0..count-1.
    windowLabels = renumberByFirstAppearance(resegmentWindows(windows, projected, windowLabels, count, {
      hopFrames: Math.round(WINDOW_HOP_SECONDS / MFCC_HOP_SECONDS), windowFrames: Math.round(WINDOW_SECONDS / MFCC_HOP_SECONDS), frameSeconds: MFCC_HOP_SECONDS,
      meanTurnSeconds: RESEGMENT_MEAN_TURN_SECONDS, iterations: RESEGMENT_ITERATIONS,
    }));
    count = Math.max(...windowLabels) + 1;
    const closest = speakers === 'auto' ? undefined : closestCentroidCosine(embeddings, windowLabels, count);
    if (speakers !== 'auto' && count < speakers) notes.push(`asked for ${speakers} speakers but only ${count} have enough speech (each at least ${Math.round(MIN_SPEAKER_SHARE * 100)} % of it)`);
    else if (closest && closest.cosine > SAME_SPEAKER_COSINE) notes.push(`asked for ${speakers} speakers but ${speakerName(closest.a)} and ${speakerName(closest.b)} sound like one voice (similarity ${closest.cosine.toFixed(2)}); the recording may hold fewer speakers (try --speakers auto)`);
    else if (count === 2) {
      // Two found (by auto, or asked for): they may still be one voice's halves.
      const note = mayBeOneVoiceNote(projected, embeddings, windowLabels, projection);
      if (note) notes.push(note);
    }
    frameLabels = labelsFromWindows(windows, windowLabels, spans, features.frames);
  }
  const turns = bridgePauses(framesToTurns(frameLabels, spans), MAX_BRIDGED_PAUSE_SECONDS);
  const names = [...new Set(turns.map((t) => t.speaker))];
  const speakerSeconds = names.map((n) => turns.filter((t) => t.speaker === n).reduce((sum, t) => sum + t.endSeconds - t.startSeconds, 0));
  if (names.length === 1) notes.push(speakers === 'auto' ? 'one speaker found' : speakers === 1 ? 'one speaker, as asked' : `one speaker found although ${speakers} were asked for`);
  return { durationSeconds, speechSeconds, regions, turns, speakers: names, speakerSeconds, notes };
}

/**
 * Two speakers found (by `auto`, or asked for), but one voice split in two cannot be ruled out: the halves are no further apart
 * (splitFisherRatio) than the loosest one-voice split measured on held-out training speakers (the projection's
 * oneVoiceSplitFisher, its largest limit), or their centroids are alike (cosine above ONE_VOICE_COSINE). `auto`
 * keeps two when such halves take turns like speakers, which one speaker's separately recorded sentences also
 * do; the note says so, so that a user who knows the recording holds one voice can say so (`--speakers 1`).
 * Measured (docs/say-diarize.md, session 8): every single speaker `auto` split (VCC 2016 SF1/TM1, VCTK
 * p226/p228) gets it, and of the scored pairs only VCC 2016 SF1 + TF1 (two women, ratio 13.8).
 */
export function mayBeOneVoiceNote(projected: readonly Float32Array[], embeddings: readonly Float32Array[], labels: Int32Array, projection: SpeakerProjection): string | undefined {
  const limits = projection.oneVoiceSplitFisher?.limit ?? [];
  const ratio = splitFisherRatio(projected, labels);
  const cosine = closestCentroidCosine(embeddings, labels, 2).cosine;
  if (!(limits.length > 0 && ratio <= Math.max(...limits)) && !(cosine > ONE_VOICE_COSINE)) return undefined;
  return `the two speakers found may be one voice (their windows are ${ratio.toFixed(1)} apart in spread units, similarity ${cosine.toFixed(2)}; one voice's sentences have split as far); if the recording holds one speaker, say so (svc diarize --speakers 1; svc preprocess without --diarize)`;
}

/** Consecutive turns of one speaker with a pause shorter than `maxPauseSeconds` between them become one turn. */
export function bridgePauses(turns: readonly SpeakerTurn[], maxPauseSeconds: number): SpeakerTurn[] {
  const out: SpeakerTurn[] = [];
  for (const turn of turns) {
    const last = out[out.length - 1];
    if (last && last.speaker === turn.speaker && turn.startSeconds - last.endSeconds < maxPauseSeconds) last.endSeconds = Math.max(last.endSeconds, turn.endSeconds);
    else out.push({ ...turn });
  }
  return out;
}

/** Runs of one label inside each speech span become turns; runs under MIN_TURN_SECONDS join a neighbour. */
export function framesToTurns(labels: Int32Array, spans: Array<[number, number]>): SpeakerTurn[] {
  const minFrames = Math.round(MIN_TURN_SECONDS / MFCC_HOP_SECONDS);
  const rename = new Map<number, number>();
  for (const l of labels) if (l >= 0 && !rename.has(l)) rename.set(l, rename.size);
  const turns: SpeakerTurn[] = [];
  for (const [start, end] of spans) {
    const runs: Array<{ label: number; start: number; end: number }> = [];
    for (let t = start; t < end; t++) {
      const l = labels[t]!;
      const last = runs[runs.length - 1];
      if (last && last.label === l) last.end = t + 1;
      else runs.push({ label: l, start: t, end: t + 1 });
    }
    // Absorb short runs into the longer neighbour, shortest first, until none is left.
    for (;;) {
      let shortest = -1;
      for (let i = 0; i < runs.length; i++) if (runs.length > 1 && runs[i]!.end - runs[i]!.start < minFrames && (shortest < 0 || runs[i]!.end - runs[i]!.start < runs[shortest]!.end - runs[shortest]!.start)) shortest = i;
      if (shortest < 0) break;
      const prev = runs[shortest - 1];
      const next = runs[shortest + 1];
      const target = !prev ? next! : !next ? prev : prev.end - prev.start >= next.end - next.start ? prev : next;
      target.start = Math.min(target.start, runs[shortest]!.start);
      target.end = Math.max(target.end, runs[shortest]!.end);
      runs.splice(shortest, 1);
      for (let i = runs.length - 1; i > 0; i--) {
        if (runs[i]!.label === runs[i - 1]!.label) {
          runs[i - 1]!.end = runs[i]!.end;
          runs.splice(i, 1);
        }
      }
    }
    for (const run of runs) turns.push({ speaker: speakerName(rename.get(run.label) ?? 0), startSeconds: run.start * MFCC_HOP_SECONDS, endSeconds: run.end * MFCC_HOP_SECONDS });
  }
  return turns;
}
