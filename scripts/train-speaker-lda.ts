// Trains the speaker projection svc diarize ships (models/speaker_lda/lda.json): an LDA over the
// MFCC mean/std statistics of 1.5 s windows, from speakers whose licences allow shipping and that
// the diarization benchmark does NOT evaluate on (LibriSpeech test-other: CC BY 4.0; CMU ARCTIC
// clb/slt/aew/axb/awb: free use; Kathleen: CC0; LJ Speech: public domain; VCTK StarGANv2 demo
// speakers: CC BY 4.0). The benchmark scores VCTK p225–p228 and VCC 2016, which are not here.
// With --speed-perturb each speaker's speech is also played 10 % slower and 10 % faster (resampled as if
// recorded at 0.9× / 1.1× the rate: pitch and formants move together), and each copy counts as a speaker
// of its own — the speed perturbation x-vector recipes use to multiply speakers: 75 instead of 25, so the
// between-speaker scatter the LDA sees is less tied to 25 particular voices. Written to
// models/speaker_lda/lda-speed-perturbed.json; svc diarize uses both projections in its consensus.
//   node --import tsx scripts/train-speaker-lda.ts [--dims N] [--speed-perturb] [--out PATH]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SPEAKER_LDA_PATH, SPEAKER_LDA_SPEED_PERTURBED_PATH } from '../src/diarize/embedding.js';
import { trainLda } from '../src/diarize/lda.js';
import { LDA_TRAINING_SOURCES, ldaTrainingSpeakers, pseudoSpeaker, speakerStatistics } from './speaker-lda-data.js';

const args = process.argv.slice(2);
const dims = Number(args[args.indexOf('--dims') + 1] ?? 0) || 20;
const speeds = args.includes('--speed-perturb') ? [0.9, 1, 1.1] : [1];
const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : speeds.length > 1 ? SPEAKER_LDA_SPEED_PERTURBED_PATH : SPEAKER_LDA_PATH;

const speakers = ldaTrainingSpeakers();
const statistics = await speakerStatistics(speakers, speeds);
const vectors = statistics.vectors;
const labels = statistics.speakers.map((s, i) => pseudoSpeaker(s, statistics.speeds[i]!));
const projection = trainLda(vectors, labels, dims);
projection.trainedOn = `${speakers.length} speakers${speeds.length > 1 ? ` at speeds ${speeds.join('/')} (${speakers.length * speeds.length} pseudo-speakers)` : ''}, ${vectors.length} windows: ${LDA_TRAINING_SOURCES}`;
mkdirSync(dirname(out), { recursive: true });
const round = (x: number): number => Number(x.toPrecision(7));
// A one-voice limit of an earlier projection no longer applies: scripts/calibrate-one-voice.ts sets it again.
writeFileSync(out, JSON.stringify({ ...projection, mean: projection.mean.map(round), weights: projection.weights.map((r) => r.map(round)) }) + '\n');
console.log(`wrote ${out}: ${projection.inputDim} → ${projection.outputDim} dims from ${projection.trainedOn}`);
