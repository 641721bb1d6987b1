// `svc diarize IN [--speakers N|auto] [--rttm OUT.rttm] [--split OUT_DIR] [--png PLOT.png]`: who
// spoke when (src/diarize). Prints the turns as RTTM on stdout unless --rttm names a file; --split
// writes one folder of clips per speaker (what `svc preprocess` takes); --png draws the timeline.
// Everything is validated before the audio is read, and nothing is written unless diarization
// succeeded (silence is an error; one speaker, or fewer than --speakers asked for, is a note).
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { mixToMono, readAudio, writeFileAtomic } from '../../audio/io.js';
import { parseNumberOption } from '../options.js';

interface DiarizeCliOptions {
  speakers: string;
  rttm?: string;
  split?: string;
  png?: string;
}

/** Checks that `path` can be written as a file (its folder exists, it is not a folder). */
export function checkOutputFile(flag: string, path: string): string {
  const full = resolve(path);
  if (!existsSync(dirname(full)) || !statSync(dirname(full)).isDirectory()) {
    throw new SvcError('FILE_NOT_FOUND', `cannot write ${flag} ${path}: the folder ${dirname(full)} does not exist`, { hint: 'create the folder first or choose another path' });
  }
  if (existsSync(full) && statSync(full).isDirectory()) throw new SvcError('INVALID_ARGUMENT', `${flag} ${path} is a directory, expected a file name`);
  return full;
}

export function parseSpeakers(raw: string, max: number): number | 'auto' {
  if (raw === 'auto') return 'auto';
  return parseNumberOption('--speakers', raw, { min: 1, max, integer: true });
}

export function register(program: Command): void {
  program
    .command('diarize')
    .summary('who spoke when: RTTM, per-speaker split for `svc preprocess`, timeline plot')
    .description(
      'Speaker diarization of a recording (WAV or FLAC, any rate, mixed to mono): Silero VAD finds the speech, ' +
        'MFCC + pitch statistics of 1.5 s windows projected by an LDA trained on other speakers give speaker embeddings, ' +
        'agglomerative clustering + k-means groups them into speakers (--speakers N, or auto: up to 6, the most whose clusters take turns like speakers), and every 10 ms of speech ' +
        'gets a speaker. Overlapped speech is given to one speaker. Prints RTTM (SPEAKER lines) on stdout unless --rttm is given.',
    )
    .argument('<input>', 'recording to diarize (.wav or .flac)')
    .option('--speakers <n|auto>', 'number of speakers (1-10), or auto to estimate it (up to 6)', 'auto')
    .option('--rttm <file>', 'write the turns as RTTM to this file (written atomically)')
    .option('--split <dir>', 'write each speaker\'s turns as WAV clips into DIR/<speaker>/ (DIR must be new or empty); feed DIR to `svc preprocess`')
    .option('--png <file>', 'draw the timeline (waveform, speech, one lane per speaker) as PNG')
    .addHelpText('after', '\nExamples:\n  svc diarize interview.wav --speakers 2 --rttm interview.rttm\n  svc diarize podcast.flac --split speakers/ --png podcast-timeline.png\n  svc preprocess speakers/SPEAKER_01 --speaker host --out dataset/\n')
    .action(async (input: string, options: DiarizeCliOptions) => {
      const { diarize, formatRttm, MAX_SPEAKERS } = await import('../../diarize/index.js');
      const { checkSplitFolder, writeSpeakerSplit } = await import('../../diarize/split.js');
      const speakers = parseSpeakers(options.speakers, MAX_SPEAKERS);
      const rttmPath = options.rttm === undefined ? undefined : checkOutputFile('--rttm', options.rttm);
      const pngPath = options.png === undefined ? undefined : checkOutputFile('--png', options.png);
      const splitDir = options.split === undefined ? undefined : resolve(options.split);
      if (splitDir) checkSplitFolder(splitDir);

      const audio = mixToMono(await readAudio(input));
      if (audio.samples.length === 0) throw new SvcError('FILE_EMPTY', `${input} holds no audio samples`);
      const result = await diarize(audio, { speakers });
      const name = basename(input);
      if (result.turns.length === 0) {
        throw new SvcError('INVALID_AUDIO', `no speech found in ${name} (${result.durationSeconds.toFixed(1)} s): nothing to diarize`, { hint: 'check the recording level, or that the file holds speech' });
      }
      const fileId = name.replace(/\.[^.]+$/, '');
      const rttm = formatRttm(fileId, result.turns);
      // Every output is prepared first; files are written only once all of them could be made.
      let png: Buffer | undefined;
      if (pngPath) {
        const { renderTimelinePng } = await import('../../plot/timeline.js');
        png = renderTimelinePng({
          title: `${name}: ${result.speakers.length} speaker(s), ${result.speechSeconds.toFixed(1)} s speech of ${result.durationSeconds.toFixed(1)} s`,
          durationSeconds: result.durationSeconds, samples: audio.samples, sampleRate: audio.sampleRate, speechRegions: result.regions, turns: result.turns, speakers: result.speakers,
        });
      }
      const written: string[] = [];
      if (splitDir) {
        const split = await writeSpeakerSplit(audio, result.turns, splitDir, name, result.speakers);
        written.push(`${options.split} (${split.files.length} clip(s) in ${result.speakers.length} speaker folder(s))`);
      }
      if (rttmPath) {
        await writeFileAtomic(rttmPath, Buffer.from(rttm));
        written.push(options.rttm!);
      }
      if (png && pngPath) {
        await writeFileAtomic(pngPath, png);
        written.push(options.png!);
      }
      for (const note of result.notes) console.error(`svc: note: ${note}`);
      const perSpeaker = result.speakers.map((s, i) => `${s} ${result.speakerSeconds[i]!.toFixed(1)} s`).join(', ');
      const summary = `${name}: ${result.durationSeconds.toFixed(1)} s, speech ${result.speechSeconds.toFixed(1)} s, ${result.speakers.length} speaker(s): ${perSpeaker}; ${result.turns.length} turn(s)`;
      if (!rttmPath && !splitDir && !pngPath) {
        process.stdout.write(rttm);
        console.error(summary);
      } else {
        console.log(summary);
        console.log(`wrote ${written.join(', ')}`);
      }
    });
}
