// Per-speaker split: each speaker's turns cut from the original audio (its own rate, mono) into
// OUT_DIR/<speaker>/<name>_<nnn>.wav — one folder per speaker, the layout `svc preprocess` reads
// (each top-level subfolder is a speaker). Written into a hidden temporary folder first and renamed
// into place at the end, so an error leaves no partial split behind.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeWav } from '../audio/io.js';
import type { MonoAudio } from '../audio/types.js';
import { SvcError } from '../errors.js';
import type { SpeakerTurn } from './rttm.js';

/** Turns closer than this to the next turn of the same speaker are written as one clip. */
const JOIN_GAP_SECONDS = 0.5;

/** Throws unless `outDir` can be created (its parent exists) and is absent or empty. */
export function checkSplitFolder(outDir: string, flag = '--split'): void {
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new SvcError('INVALID_ARGUMENT', `${flag} ${outDir} is a file, expected a folder to create`);
    if (readdirSync(outDir).length > 0) throw new SvcError('INVALID_ARGUMENT', `${flag} folder ${outDir} is not empty`, { hint: 'choose a new folder or empty it first' });
  } else if (!existsSync(dirname(outDir))) {
    throw new SvcError('FILE_NOT_FOUND', `cannot create ${flag} ${outDir}: the folder ${dirname(outDir)} does not exist`);
  }
}

export interface SplitResult {
  files: Array<{ speaker: string; path: string; seconds: number }>;
}

/** Writes each speaker's turns (joined across short gaps) as WAV clips under outDir/<speaker>/. */
export async function writeSpeakerSplit(audio: MonoAudio, turns: readonly SpeakerTurn[], outDir: string, sourceName: string, speakers?: readonly string[]): Promise<SplitResult> {
  checkSplitFolder(outDir);
  const stem = basename(sourceName, extname(sourceName)).replace(/[^\w.-]+/g, '_') || 'audio';
  const temp = join(dirname(outDir), `.${basename(outDir)}.tmp-${randomBytes(4).toString('hex')}`);
  const result: SplitResult = { files: [] };
  try {
    for (const speaker of speakers ?? [...new Set(turns.map((t) => t.speaker))]) {
      const own = turns.filter((t) => t.speaker === speaker).sort((a, b) => a.startSeconds - b.startSeconds);
      const joined: Array<[number, number]> = [];
      for (const t of own) {
        const last = joined[joined.length - 1];
        if (last && t.startSeconds - last[1] < JOIN_GAP_SECONDS) last[1] = t.endSeconds;
        else joined.push([t.startSeconds, t.endSeconds]);
      }
      await mkdir(join(temp, speaker), { recursive: true });
      let index = 0;
      for (const [start, end] of joined) {
        const a = Math.max(0, Math.round(start * audio.sampleRate));
        const b = Math.min(audio.samples.length, Math.round(end * audio.sampleRate));
        if (b <= a) continue;
        const name = `${stem}_${String(index++).padStart(3, '0')}.wav`;
        await writeWav(join(temp, speaker, name), { sampleRate: audio.sampleRate, samples: audio.samples.slice(a, b) });
        result.files.push({ speaker, path: join(outDir, speaker, name), seconds: (b - a) / audio.sampleRate });
      }
    }
    if (existsSync(outDir)) await rm(outDir, { recursive: true });
    await rename(temp, outDir);
    return result;
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}
