// Conversations assembled from single-speaker recordings, with an exact reference: turns of 1–10 s
// cut from each speaker's utterances (leading/trailing silence trimmed so the reference marks
// speech, not room tone), speakers taking turns in random order, gaps of up to 1 s and, at some
// changes, an overlap of 0.2–0.8 s where the next speaker starts before the last one ends.
// Deterministic for a seed. Used by bench/diarize.bench.ts, the LDA training script and the tests.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { seededRandom } from '../src/dsp/random.js';
import type { SpeakerTurn } from '../src/diarize/rttm.js';

export const CONVERSATION_RATE = 16000;

export interface SpeakerSource {
  name: string;
  files: string[];
}

export interface Conversation {
  samples: Float32Array;
  sampleRate: number;
  reference: SpeakerTurn[];
  /** Seconds where two speakers talk at once. */
  overlapSeconds: number;
}

export interface ConversationOptions {
  turns: number;
  seed: number;
  /** Share of speaker changes that overlap. Default 0.2. */
  overlapShare?: number;
  minTurnSeconds?: number;
  maxTurnSeconds?: number;
}

/** Audio files of a speaker folder (or of a folder filtered by a name prefix), sorted. */
export function speakerFiles(folder: string, prefix = ''): string[] {
  return readdirSync(folder)
    .filter((f) => /\.(wav|flac)$/i.test(f) && f.startsWith(prefix))
    .sort()
    .map((f) => join(folder, f));
}

/** [start, end) samples of the part louder than 35 dB under the peak (20 ms frames). */
export function trimSilence(samples: Float32Array, sampleRate: number): [number, number] {
  const frame = Math.round(sampleRate * 0.02);
  const levels: number[] = [];
  for (let i = 0; i + frame <= samples.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += samples[j]! * samples[j]!;
    levels.push(10 * Math.log10(sum / frame + 1e-12));
  }
  const peak = Math.max(...levels);
  const first = levels.findIndex((l) => l > peak - 35);
  let last = levels.length - 1;
  while (last > first && levels[last]! <= peak - 35) last--;
  return [Math.max(0, first) * frame, (last + 1) * frame];
}

const cache = new Map<string, Float32Array>();

async function loadTrimmed(path: string): Promise<Float32Array> {
  let samples = cache.get(path);
  if (!samples) {
    const audio = await readMono(path);
    const at16k = await resample(audio.samples, audio.sampleRate, CONVERSATION_RATE);
    const [a, b] = trimSilence(at16k, CONVERSATION_RATE);
    samples = at16k.slice(a, b);
    let energy = 0;
    for (const x of samples) energy += x * x;
    const gain = 0.1 / Math.sqrt(energy / Math.max(1, samples.length) + 1e-12);
    for (let i = 0; i < samples.length; i++) samples[i] *= gain;
    cache.set(path, samples);
  }
  return samples;
}

export async function buildConversation(speakers: readonly SpeakerSource[], options: ConversationOptions): Promise<Conversation> {
  const random = seededRandom(options.seed);
  const minTurn = options.minTurnSeconds ?? 1;
  const maxTurn = options.maxTurnSeconds ?? 10;
  const overlapShare = options.overlapShare ?? 0.2;
  const pieces: Array<{ speaker: string; samples: Float32Array; start: number }> = [];
  let cursor = Math.round(0.5 * CONVERSATION_RATE);
  let previous = -1;
  const used = speakers.map(() => 0);
  for (let turn = 0; turn < options.turns; turn++) {
    // Every speaker speaks early on; then anyone but the last speaker.
    let s = turn < speakers.length ? turn : Math.floor(random() * speakers.length);
    if (s === previous) s = (s + 1 + Math.floor(random() * (speakers.length - 1))) % speakers.length;
    const source = speakers[s]!;
    const utterance = await loadTrimmed(source.files[used[s]! % source.files.length]!);
    used[s]++;
    const wanted = Math.round((minTurn + random() * (maxTurn - minTurn)) * CONVERSATION_RATE);
    const length = Math.min(wanted, utterance.length);
    const offset = Math.floor(random() * (utterance.length - length + 1));
    const cut = utterance.subarray(offset, offset + length);
    const [a, b] = trimSilence(cut, CONVERSATION_RATE);
    const piece = Float32Array.from(cut.subarray(a, b));
    const gain = 10 ** ((random() * 6 - 3) / 20);
    for (let i = 0; i < piece.length; i++) piece[i] *= gain;
    if (turn > 0) {
      const overlap = random() < overlapShare;
      const gap = overlap ? -(0.2 + random() * 0.6) : 0.1 + random() * 0.9;
      cursor = Math.max(pieces[pieces.length - 1]!.start + 1, cursor + Math.round(gap * CONVERSATION_RATE));
    }
    pieces.push({ speaker: source.name, samples: piece, start: cursor });
    cursor += piece.length;
    previous = s;
  }
  const total = cursor + Math.round(0.5 * CONVERSATION_RATE);
  const samples = new Float32Array(total);
  const activeCount = new Uint8Array(total);
  for (const p of pieces) {
    for (let i = 0; i < p.samples.length; i++) {
      samples[p.start + i] += p.samples[i]!;
      activeCount[p.start + i]++;
    }
  }
  let overlapSamples = 0;
  for (const c of activeCount) if (c > 1) overlapSamples++;
  const reference = pieces.map((p) => ({ speaker: p.speaker, startSeconds: p.start / CONVERSATION_RATE, endSeconds: (p.start + p.samples.length) / CONVERSATION_RATE }));
  return { samples, sampleRate: CONVERSATION_RATE, reference, overlapSeconds: overlapSamples / CONVERSATION_RATE };
}
