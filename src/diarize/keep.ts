// `svc preprocess --diarize --keep-speaker S|largest`: before slicing, each recording under IN_DIR is
// diarized (speaker count auto) and only one speaker's turns are kept — the one named (SPEAKER_00,
// …, as `svc diarize` names them in that file) or the one with the most speech — written as WAV
// clips into a folder that preprocessing then reads as a single speaker.
import { readdirSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, extname, join, relative } from 'node:path';
import { mixToMono, readAudio, writeWav } from '../audio/io.js';
import { SvcError } from '../errors.js';
import { diarize, SileroVad } from './index.js';

export interface KeepSpeakerReport {
  file: string;
  kept: string;
  seconds: number;
  speakers: number;
  /** The diarization's notes for this file (one voice perhaps split in two, fewer speakers, ...). */
  notes: string[];
}

function audioFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...audioFiles(path));
    else if (/\.(wav|flac)$/i.test(name)) out.push(path);
  }
  return out;
}

/** Writes the kept speaker's turns of every recording under inDir into outDir (replaced); returns what was kept per file. */
export async function keepOneSpeaker(inDir: string, outDir: string, keep: string): Promise<KeepSpeakerReport[]> {
  if (keep !== 'largest' && !/^SPEAKER_\d{2}$/.test(keep)) throw new SvcError('INVALID_ARGUMENT', `--keep-speaker must be largest or a diarization speaker name such as SPEAKER_00, got ${JSON.stringify(keep)}`);
  const files = audioFiles(inDir);
  if (files.length === 0) throw new SvcError('FILE_NOT_FOUND', `no .wav or .flac files under ${inDir} to diarize`);
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const vad = await SileroVad.load();
  const reports: KeepSpeakerReport[] = [];
  try {
    for (const file of files) {
      const audio = mixToMono(await readAudio(file));
      const result = await diarize(audio, { speakers: 'auto', vadModel: vad });
      if (result.speakers.length === 0) continue;
      const index = keep === 'largest' ? result.speakerSeconds.indexOf(Math.max(...result.speakerSeconds)) : result.speakers.indexOf(keep);
      if (index < 0) {
        reports.push({ file, kept: `none (${keep} not found; speakers: ${result.speakers.join(', ')})`, seconds: 0, speakers: result.speakers.length, notes: result.notes });
        continue;
      }
      const speaker = result.speakers[index]!;
      const stem = relative(inDir, file).slice(0, -extname(file).length).replace(/[^\w.-]+/g, '_');
      let n = 0;
      for (const turn of result.turns.filter((t) => t.speaker === speaker)) {
        const a = Math.round(turn.startSeconds * audio.sampleRate);
        const b = Math.min(audio.samples.length, Math.round(turn.endSeconds * audio.sampleRate));
        if (b > a) await writeWav(join(outDir, `${stem}_${String(n++).padStart(3, '0')}.wav`), { sampleRate: audio.sampleRate, samples: audio.samples.slice(a, b) });
      }
      reports.push({ file: basename(file), kept: speaker, seconds: result.speakerSeconds[index]!, speakers: result.speakers.length, notes: result.notes });
    }
  } finally {
    await vad.dispose();
  }
  return reports;
}
