// RTTM (NIST Rich Transcription Time Marked), the format diarization tools exchange (pyannote,
// dscore, md-eval): one SPEAKER line per turn, ten space-separated fields:
//   SPEAKER <file-id> <channel 1> <onset s> <duration s> <NA> <NA> <speaker> <NA> <NA>
// File ids and speaker names may not contain white space.
import { SvcError } from '../errors.js';

export interface SpeakerTurn {
  speaker: string;
  startSeconds: number;
  endSeconds: number;
}

/** A file id RTTM accepts: white space replaced by '_' (empty → 'audio'). */
export function rttmFileId(name: string): string {
  return name.replace(/\s+/g, '_') || 'audio';
}

export function formatRttm(fileId: string, turns: readonly SpeakerTurn[]): string {
  const id = rttmFileId(fileId);
  return turns
    .map((t) => `SPEAKER ${id} 1 ${t.startSeconds.toFixed(3)} ${(t.endSeconds - t.startSeconds).toFixed(3)} <NA> <NA> ${t.speaker.replace(/\s+/g, '_')} <NA> <NA>\n`)
    .join('');
}

/** SPEAKER lines of an RTTM text (other line types are skipped), per file id. */
export function parseRttm(text: string, nameForErrors = 'RTTM'): Map<string, SpeakerTurn[]> {
  const files = new Map<string, SpeakerTurn[]>();
  text.split(/\r?\n/).forEach((line, index) => {
    const fields = line.trim().split(/\s+/);
    if (fields[0] !== 'SPEAKER') return;
    const start = Number(fields[3]);
    const duration = Number(fields[4]);
    if (fields.length < 8 || !Number.isFinite(start) || !Number.isFinite(duration) || duration < 0) {
      throw new SvcError('UNSUPPORTED_FORMAT', `${nameForErrors} line ${index + 1} is not an RTTM SPEAKER line: expected "SPEAKER file 1 onset duration <NA> <NA> speaker <NA> <NA>", got "${line.trim()}"`);
    }
    const turns = files.get(fields[1]!) ?? [];
    turns.push({ speaker: fields[7]!, startSeconds: start, endSeconds: start + duration });
    files.set(fields[1]!, turns);
  });
  return files;
}
