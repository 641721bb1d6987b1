// Text → speech with eSpeak NG, run as a separate program (Debian package espeak-ng). It is GPL-3.0,
// so svc (MIT) talks to it over a pipe instead of linking it in: the npm WebAssembly builds
// (@echogarden/espeak-ng-emscripten, espeak-ng) would put GPL code inside svc's process. Text goes
// in on stdin (never on the command line, so no quoting issues and no length limit there), a
// 16-bit mono WAV comes back on stdout at eSpeak's rate (22.05 kHz).
import { spawn } from 'node:child_process';
import type { MonoAudio } from '../audio/types.js';
import { SvcError } from '../errors.js';

export const ESPEAK_PROGRAM = process.env.SVC_ESPEAK ?? 'espeak-ng';
export const TTS_RATE_WPM = { min: 80, max: 450, default: 165 } as const;
/** Longest text one call speaks (characters). */
export const MAX_TEXT_CHARACTERS = 10_000;

export interface EspeakOptions {
  /** eSpeak voice, e.g. en-us, en-gb, de, fr, en-us+f3 (default en-us). */
  voice?: string;
  /** Speaking rate, words per minute. */
  rateWpm?: number;
  /** eSpeak's pitch, 0..99 (default 50). */
  pitch?: number;
}

/** Validates text for speaking: trimmed, not empty, not too long. */
export function checkText(text: string, maxCharacters = MAX_TEXT_CHARACTERS): string {
  const trimmed = text.trim();
  if (trimmed.length === 0) throw new SvcError('INVALID_ARGUMENT', 'the text to speak is empty', { hint: 'give some words, e.g. svc say "hello there" --out hello.wav' });
  if (trimmed.length > maxCharacters) throw new SvcError('INVALID_ARGUMENT', `the text to speak has ${trimmed.length} characters; at most ${maxCharacters} are spoken at once`, { hint: 'split it into several files' });
  return trimmed;
}

/** Parses the canonical 44-byte WAV header eSpeak writes on stdout (its sizes say "streaming"). */
function parseEspeakWav(bytes: Buffer): MonoAudio {
  if (bytes.length < 44 || bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE' || bytes.toString('ascii', 36, 40) !== 'data') {
    throw new SvcError('INTERNAL', `${ESPEAK_PROGRAM} did not write a WAV (got ${bytes.length} bytes)`);
  }
  const channels = bytes.readUInt16LE(22);
  const sampleRate = bytes.readUInt32LE(24);
  const bits = bytes.readUInt16LE(34);
  if (channels !== 1 || bits !== 16) throw new SvcError('INTERNAL', `${ESPEAK_PROGRAM} wrote ${channels} channel(s) of ${bits}-bit audio, expected mono 16-bit`);
  const count = Math.floor((bytes.length - 44) / 2);
  const samples = new Float32Array(count);
  for (let i = 0; i < count; i++) samples[i] = bytes.readInt16LE(44 + 2 * i) / 32768;
  return { sampleRate, samples };
}

/** Speaks `text` with eSpeak NG; SvcError TTS_UNAVAILABLE when the program is missing. */
export async function synthesizeEspeak(text: string, options: EspeakOptions = {}): Promise<MonoAudio> {
  const voice = options.voice ?? 'en-us';
  if (!/^[A-Za-z0-9_+-]{1,40}$/.test(voice)) throw new SvcError('INVALID_ARGUMENT', `the eSpeak voice must be a name such as en-us, en-gb or en-us+f3, got ${JSON.stringify(voice)}`);
  const rate = options.rateWpm ?? TTS_RATE_WPM.default;
  const args = ['--stdout', '-v', voice, '-s', String(Math.round(rate)), '-p', String(Math.round(options.pitch ?? 50))];
  const chunks: Buffer[] = [];
  const errors: Buffer[] = [];
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(ESPEAK_PROGRAM, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        reject(new SvcError('TTS_UNAVAILABLE', `text to speech needs the eSpeak NG program (${ESPEAK_PROGRAM}), which is not installed`, { hint: 'install it with `apt-get install espeak-ng` (or run scripts/setup.sh)' }));
      } else reject(new SvcError('TTS_UNAVAILABLE', `cannot start ${ESPEAK_PROGRAM}: ${error.message}`, { cause: error }));
    });
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => errors.push(c));
    child.on('close', (status) => resolve(status ?? 1));
    child.stdin.on('error', () => {}); // a child that exits early (bad voice) closes its stdin; 'close' reports it
    child.stdin.end(text);
  });
  const stderr = Buffer.concat(errors).toString('utf8').trim();
  if (code !== 0 || /does not exist|not found/i.test(stderr)) {
    throw new SvcError('INVALID_ARGUMENT', `eSpeak NG failed${stderr ? `: ${stderr.split('\n')[0]}` : ` (exit ${code})`}`, { hint: 'list its voices with `espeak-ng --voices`' });
  }
  const audio = parseEspeakWav(Buffer.concat(chunks));
  if (audio.samples.length === 0) throw new SvcError('INVALID_ARGUMENT', 'eSpeak NG produced no audio for this text', { hint: 'give words it can pronounce' });
  return audio;
}
