// Sets the one-voice limit of svc diarize's `--speakers auto` (oneVoiceSplitFisher in models/speaker_lda/lda.json)
// from the LDA's own training speakers, none of the scored ones. Each speaker with enough speech is held out,
// both LDAs (plain and speed-perturbed, as shipped) are retrained on the others, random sets of the held-out
// speaker's files (WINDOW_COUNTS windows) are split in two by the consensus `auto` uses, and the split's Fisher
// ratio (splitFisherRatio) is measured. How far apart the halves of one unheard voice come out depends on how
// many windows there are (fewer windows, more room for a chance split), so the limit is kept per window count:
// the LIMIT_QUANTILE of the held-out splits of that size. `auto` calls a recording one speaker when its two-way
// split alternates inside turns and is no further apart than that (src/diarize/consensus.ts).
//   node --import tsx scripts/calibrate-one-voice.ts [--lda PATH] [--without NAME,NAME]
// --without leaves speakers out entirely (the calibration runs of docs/say-diarize.md).
import { readFileSync, writeFileSync } from 'node:fs';
import { seededRandom } from '../src/dsp/random.js';
import { consensusClustering, splitFisherRatio } from '../src/diarize/consensus.js';
import { projectWindows, SPEAKER_LDA_PATH, type SpeakerProjection } from '../src/diarize/embedding.js';
import { MAX_SPEAKERS, MIN_SPEAKER_SHARE } from '../src/diarize/index.js';
import { trainLda } from '../src/diarize/lda.js';
import { ldaTrainingSpeakers, pseudoSpeaker, speakerStatistics } from './speaker-lda-data.js';

/** Window counts (0.5 s hops: 20 s to 70 s of speech) the limit is measured at; between them it is interpolated. */
const WINDOW_COUNTS = [40, 60, 90, 135];
/** Random file sets per held-out speaker and window count. */
const DRAWS = 8;
/** Share of one-voice splits that must pass: 0.9 (a tenth of single speakers still come out as two). */
const LIMIT_QUANTILE = 0.9;
const LDA_DIMS = 20;

const args = process.argv.slice(2);
const ldaPath = args.includes('--lda') ? args[args.indexOf('--lda') + 1]! : SPEAKER_LDA_PATH;
const without = args.includes('--without') ? args[args.indexOf('--without') + 1]!.split(',') : [];

const { vectors, speakers, speeds, files } = await speakerStatistics(ldaTrainingSpeakers(without), [0.9, 1, 1.1]);
const random = seededRandom(2016);
const ratios = WINDOW_COUNTS.map(() => [] as number[]);
for (const heldOut of [...new Set(speakers)]) {
  const own = vectors.map((_, i) => i).filter((i) => speakers[i] === heldOut && speeds[i] === 1);
  const sizes = WINDOW_COUNTS.map((count, c) => [count, c] as const).filter(([count]) => count <= own.length);
  if (sizes.length === 0) continue;
  const lda = (perturbed: boolean): SpeakerProjection => {
    const keep = vectors.map((_, i) => i).filter((i) => speakers[i] !== heldOut && (perturbed || speeds[i] === 1));
    return trainLda(keep.map((i) => vectors[i]!), keep.map((i) => pseudoSpeaker(speakers[i]!, speeds[i]!)), LDA_DIMS);
  };
  const projections = [lda(false), lda(true)];
  const ownFiles = [...new Set(own.map((i) => files[i]!))];
  for (const [count, c] of sizes) {
    for (let draw = 0; draw < DRAWS; draw++) {
      // Whole files in random order until `count` windows: a recording's windows come in utterances too.
      const order = ownFiles.map((f) => [random(), f] as const).sort((a, b) => a[0] - b[0]).map(([, f]) => f);
      const picked: number[] = [];
      for (const file of order) {
        if (picked.length >= count) break;
        picked.push(...own.filter((i) => files[i] === file));
      }
      const windows = picked.map((i) => ({ startFrame: 0, endFrame: 0, stats: vectors[i]! }));
      const projected = projections.map((projection) => ({ projection, projected: projectWindows(windows, projection) }));
      const labels = consensusClustering(projected, 2, { maxSpeakers: MAX_SPEAKERS, minShare: MIN_SPEAKER_SHARE });
      ratios[c]!.push(splitFisherRatio(projected[0]!.projected, labels));
    }
  }
  console.log(`${heldOut.padEnd(14)} ${String(own.length).padStart(4)} windows held out`);
}
// Window counts no held-out speaker reaches are left out (the last limit then holds beyond the last count).
const measured = WINDOW_COUNTS.map((count, c) => ({ count, values: [...ratios[c]!].sort((a, b) => a - b) })).filter((m) => m.values.length > 0);
if (measured.length === 0) throw new Error(`no held-out speaker has ${WINDOW_COUNTS[0]} windows`);
const limit = measured.map(({ values }) => Number(values[Math.min(values.length - 1, Math.floor(LIMIT_QUANTILE * values.length))]!.toFixed(2)));
measured.forEach(({ count, values }, c) => console.log(`${count} windows: ${values.length} splits, median ${values[values.length >> 1]!.toFixed(2)}, limit ${limit[c]}`));
const projection = JSON.parse(readFileSync(ldaPath, 'utf8')) as SpeakerProjection;
writeFileSync(ldaPath, JSON.stringify({ ...projection, oneVoiceSplitFisher: { windows: measured.map((m) => m.count), limit } }) + '\n');
console.log(`wrote oneVoiceSplitFisher to ${ldaPath}`);
