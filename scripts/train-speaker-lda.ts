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
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { SPEAKER_LDA_PATH, SPEAKER_LDA_SPEED_PERTURBED_PATH, speakerWindows } from '../src/diarize/embedding.js';
import { trainLda } from '../src/diarize/lda.js';
import { logF0Frames, mfcc } from '../src/diarize/mfcc.js';
import { SileroVad, speechRegions } from '../src/diarize/vad.js';
import { sharedDataDir } from '../src/paths.js';

const args = process.argv.slice(2);
const dims = Number(args[args.indexOf('--dims') + 1] ?? 0) || 20;
const speeds = args.includes('--speed-perturb') ? [0.9, 1, 1.1] : [1];
const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : speeds.length > 1 ? SPEAKER_LDA_SPEED_PERTURBED_PATH : SPEAKER_LDA_PATH;

const speech = join(sharedDataDir, 'speech');
const audioIn = (folder: string): string[] => readdirSync(folder).filter((f) => /\.(wav|flac)$/.test(f)).sort().map((f) => join(folder, f));
const speakers: Array<{ name: string; files: string[] }> = [];
for (const id of readdirSync(join(speech, 'librispeech_test_other_16k')).filter((d) => /^\d+$/.test(d))) {
  speakers.push({ name: `libri-${id}`, files: audioIn(join(speech, 'librispeech_test_other_16k', id)) });
}
for (const id of ['clb', 'slt', 'aew', 'axb', 'awb']) speakers.push({ name: `arctic-${id}`, files: audioIn(join(speech, 'cmu_arctic_16k', id)) });
speakers.push({ name: 'kathleen', files: audioIn(join(speech, 'kathleen_arctic_cc0_48k')) });
speakers.push({ name: 'lj', files: audioIn(join(speech, 'ljspeech_22k')) });
for (const file of audioIn(join(speech, 'vctk_starganv2_demo_48k'))) speakers.push({ name: `vctk-${file.split('/').pop()!.slice(0, 4)}`, files: [file] });

const vad = await SileroVad.load();
const vectors: Float32Array[] = [];
const labels: string[] = [];
try {
  for (const speed of speeds) {
    for (const speaker of speakers) {
      for (const file of speaker.files) {
        const audio = await readMono(file);
        // Read as if recorded at speed × its rate: speed 1.1 plays 10 % faster and higher.
        const samples = await resample(audio.samples, Math.round(audio.sampleRate * speed), 16000);
        const regions = speechRegions(await vad.probabilities(samples), samples.length / 16000);
        for (const w of speakerWindows(mfcc(samples), await logF0Frames(samples, mfcc(samples).frames), regions)) {
          vectors.push(w.stats);
          labels.push(speed === 1 ? speaker.name : `${speaker.name}@${speed}`);
        }
      }
    }
  }
} finally {
  await vad.dispose();
}
const projection = trainLda(vectors, labels, dims);
projection.trainedOn = `${speakers.length} speakers${speeds.length > 1 ? ` at speeds ${speeds.join('/')} (${speakers.length * speeds.length} pseudo-speakers)` : ''}, ${vectors.length} windows: LibriSpeech test-other (8), CMU ARCTIC clb/slt/aew/axb/awb, Kathleen (CC0), LJ Speech, VCTK StarGANv2 demo (10)`;
mkdirSync(dirname(out), { recursive: true });
const round = (x: number): number => Number(x.toPrecision(7));
writeFileSync(out, JSON.stringify({ ...projection, mean: projection.mean.map(round), weights: projection.weights.map((r) => r.map(round)) }) + '\n');
console.log(`wrote ${out}: ${projection.inputDim} → ${projection.outputDim} dims from ${projection.trainedOn}`);
