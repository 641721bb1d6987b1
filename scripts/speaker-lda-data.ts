// The speakers the shipped speaker LDA is trained on, and the statistics of their 1.5 s windows, shared by
// scripts/train-speaker-lda.ts (the projection) and scripts/calibrate-one-voice.ts (its one-voice limit).
// Only speakers whose licences allow shipping and that the diarization benchmark does NOT score (it scores
// VCTK p225–p228 and VCC 2016): LibriSpeech test-other (CC BY 4.0), CMU ARCTIC clb/slt/aew/axb/awb (free use),
// Kathleen (CC0), LJ Speech (public domain), the VCTK StarGANv2 demo speakers (CC BY 4.0).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { speakerWindows } from '../src/diarize/embedding.js';
import { logF0Frames, mfcc } from '../src/diarize/mfcc.js';
import { SileroVad, speechRegions } from '../src/diarize/vad.js';
import { sharedDataDir } from '../src/paths.js';

export const LDA_TRAINING_SOURCES = 'LibriSpeech test-other (8), CMU ARCTIC clb/slt/aew/axb/awb, Kathleen (CC0), LJ Speech, VCTK StarGANv2 demo (10)';

export interface TrainingSpeaker {
  name: string;
  files: string[];
}

/** The LDA's training speakers (names libri-ID, arctic-ID, kathleen, lj, vctk-pNNN), less those named in `without`. */
export function ldaTrainingSpeakers(without: readonly string[] = []): TrainingSpeaker[] {
  const speech = join(sharedDataDir, 'speech');
  const audioIn = (folder: string): string[] => readdirSync(folder).filter((f) => /\.(wav|flac)$/.test(f)).sort().map((f) => join(folder, f));
  const speakers: TrainingSpeaker[] = [];
  for (const id of readdirSync(join(speech, 'librispeech_test_other_16k')).filter((d) => /^\d+$/.test(d))) {
    speakers.push({ name: `libri-${id}`, files: audioIn(join(speech, 'librispeech_test_other_16k', id)) });
  }
  for (const id of ['clb', 'slt', 'aew', 'axb', 'awb']) speakers.push({ name: `arctic-${id}`, files: audioIn(join(speech, 'cmu_arctic_16k', id)) });
  speakers.push({ name: 'kathleen', files: audioIn(join(speech, 'kathleen_arctic_cc0_48k')) });
  speakers.push({ name: 'lj', files: audioIn(join(speech, 'ljspeech_22k')) });
  for (const file of audioIn(join(speech, 'vctk_starganv2_demo_48k'))) speakers.push({ name: `vctk-${file.split('/').pop()!.slice(0, 4)}`, files: [file] });
  return speakers.filter((s) => !without.includes(s.name));
}

/** Window statistics [STATS_DIM] of every speaker at every speed, with the speaker and speed of each. */
export interface SpeakerStatistics {
  vectors: Float32Array[];
  speakers: string[];
  speeds: number[];
  /** The audio file each window comes from. */
  files: string[];
}

/**
 * The windows of each speaker's speech, also played at other `speeds` (read as if recorded at speed × its
 * rate: 1.1 plays 10 % faster and higher, pitch and formants moving together).
 */
export async function speakerStatistics(speakers: readonly TrainingSpeaker[], speeds: readonly number[]): Promise<SpeakerStatistics> {
  const vad = await SileroVad.load();
  const out: SpeakerStatistics = { vectors: [], speakers: [], speeds: [], files: [] };
  try {
    for (const speed of speeds) {
      for (const speaker of speakers) {
        for (const file of speaker.files) {
          const audio = await readMono(file);
          const samples = await resample(audio.samples, Math.round(audio.sampleRate * speed), 16000);
          const regions = speechRegions(await vad.probabilities(samples), samples.length / 16000);
          const features = mfcc(samples);
          for (const w of speakerWindows(features, await logF0Frames(samples, features.frames), regions)) {
            out.vectors.push(w.stats);
            out.speakers.push(speaker.name);
            out.speeds.push(speed);
            out.files.push(file);
          }
        }
      }
    }
  } finally {
    await vad.dispose();
  }
  return out;
}

/** The LDA label of a window: its speaker, a perturbed copy counting as a speaker of its own. */
export function pseudoSpeaker(speaker: string, speed: number): string {
  return speed === 1 ? speaker : `${speaker}@${speed}`;
}
