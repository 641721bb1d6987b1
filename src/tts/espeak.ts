// Text → speech with eSpeak NG, run as a separate program (Debian package espeak-ng). It is GPL-3.0,
// so svc (MIT) talks to it over a pipe instead of linking it in: the npm WebAssembly builds
// (@echogarden/espeak-ng-emscripten, espeak-ng) would put GPL code inside svc's process. Text goes
// in on stdin (never on the command line, so no quoting issues and no length limit there), a
// 16-bit mono WAV comes back on stdout at eSpeak's rate (22.05 kHz), one clause at a time, so a live
// `say` streams it (streamEspeak) while the CLI collects it (synthesizeEspeak).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { MonoAudio } from '../audio/types.js';
import { SvcError } from '../errors.js';

/** The eSpeak NG program: SVC_ESPEAK (read at each call), else espeak-ng on PATH. */
export function espeakProgram(): string {
  return process.env.SVC_ESPEAK || 'espeak-ng';
}
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

/** Speaks `text` with eSpeak NG; SvcError TTS_UNAVAILABLE when the program is missing. */
export async function synthesizeEspeak(text: string, options: EspeakOptions = {}): Promise<MonoAudio> {
  const chunks: Float32Array[] = [];
  const stream = streamEspeak(text, options, (samples) => chunks.push(samples));
  const { sampleRate, samples: count } = await stream.done;
  const samples = new Float32Array(count);
  let offset = 0;
  for (const chunk of chunks) {
    samples.set(chunk, offset);
    offset += chunk.length;
  }
  if (samples.length === 0) throw new SvcError('INVALID_ARGUMENT', 'eSpeak NG produced no audio for this text', { hint: 'give words it can pronounce' });
  return { sampleRate, samples };
}

/** A running eSpeak NG: its audio arrives through the callback as it is synthesised. */
export interface EspeakStream {
  /** Resolves once eSpeak has exited and all its audio was delivered: the rate and the sample count. */
  readonly done: Promise<{ sampleRate: number; samples: number }>;
  /** Stops eSpeak (done then resolves with what was delivered). */
  cancel(): void;
  /** Stops reading eSpeak's output (it then blocks on its pipe): back-pressure for a paced consumer. */
  pause(): void;
  resume(): void;
}

/**
 * Runs eSpeak NG and hands its audio over as it is produced: eSpeak writes one clause at a time on
 * stdout (the first arrives ~50 ms after the text), so a live `say` can start speaking long before
 * eSpeak has finished. `onAudio` gets mono samples in [−1, 1] at `sampleRate` (eSpeak's, 22.05 kHz).
 * Rejects with TTS_UNAVAILABLE when the program is missing, INVALID_ARGUMENT when eSpeak refuses (an
 * unknown voice).
 */
export function streamEspeak(
  text: string,
  options: EspeakOptions,
  onAudio: (samples: Float32Array, sampleRate: number) => void,
  how: { program?: string; warm?: boolean } = {},
): EspeakStream {
  const program = how.program ?? espeakProgram();
  const voice = options.voice ?? 'en-us';
  let cancel = () => {};
  let pause = () => {};
  let resume = () => {};
  const done = new Promise<{ sampleRate: number; samples: number }>((resolve, reject) => {
    if (!/^[A-Za-z0-9_+-]{1,40}$/.test(voice)) {
      reject(new SvcError('INVALID_ARGUMENT', `the eSpeak voice must be a name such as en-us, en-gb or en-us+f3, got ${JSON.stringify(voice)}`));
      return;
    }
    const rate = options.rateWpm ?? TTS_RATE_WPM.default;
    const args = ['--stdout', '-v', voice, '-s', String(Math.round(rate)), '-p', String(Math.round(options.pitch ?? 50))];
    const started = how.warm ? takeWarm(program, args) : startEspeak(program, args);
    const child = started.child;
    const decoder = new EspeakWavDecoder();
    const errors: Buffer[] = [];
    let cancelled = false;
    let failed: unknown = null;
    cancel = () => {
      cancelled = true;
      child.kill();
    };
    pause = () => child.stdout.pause();
    resume = () => child.stdout.resume();
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') {
        failed = new SvcError('TTS_UNAVAILABLE', `text to speech needs the eSpeak NG program (${program}), which is not installed`, { hint: 'install it with `apt-get install espeak-ng` (or run scripts/setup.sh)' });
      } else failed = new SvcError('TTS_UNAVAILABLE', `cannot start ${program}: ${error.message}`, { cause: error });
    };
    child.on('error', onError);
    if (started.error) onError(started.error);
    child.stdout.on('data', (bytes: Buffer) => {
      if (cancelled || failed) return;
      try {
        const samples = decoder.push(bytes);
        if (samples.length > 0) onAudio(samples, decoder.sampleRate);
      } catch (error) {
        failed = error;
        child.kill();
      }
    });
    child.stderr.on('data', (c: Buffer) => errors.push(c));
    child.on('close', (status) => {
      if (failed) return reject(failed);
      const result = { sampleRate: decoder.sampleRate, samples: decoder.samplesOut };
      if (cancelled) return resolve(result);
      const stderr = Buffer.concat(errors).toString('utf8').trim();
      if (status !== 0 || /does not exist|not found/i.test(stderr)) {
        return reject(new SvcError('INVALID_ARGUMENT', `eSpeak NG failed${stderr ? `: ${stderr.split('\n')[0]}` : ` (exit ${status})`}`, { hint: 'list its voices with `espeak-ng --voices`' }));
      }
      if (!decoder.headerSeen) return reject(new SvcError('INTERNAL', `${program} did not write a WAV`));
      resolve(result);
    });
    child.stdin.end(text);
  });
  return { done, cancel: () => cancel(), pause: () => pause(), resume: () => resume() };
}

/** A started eSpeak NG waiting for its text on stdin, and what happened to it before it was used. */
interface StartedEspeak {
  child: ChildProcessWithoutNullStreams;
  key: string;
  error: NodeJS.ErrnoException | null;
  exited: boolean;
}

function startEspeak(program: string, args: string[]): StartedEspeak {
  const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const started: StartedEspeak = { child, key: [program, ...args].join('\0'), error: null, exited: false };
  child.on('error', (error: NodeJS.ErrnoException) => (started.error = error));
  child.on('exit', () => (started.exited = true));
  child.stdin.on('error', () => {}); // a child that exits early (bad voice) closes its stdin; 'close' reports it
  return started;
}

/**
 * One eSpeak NG started ahead with the last live say's settings, waiting on stdin: a live say takes it
 * and skips the program's start-up (~50 ms idle, several hundred on a loaded machine), which is most of
 * the time to the first audio. Unreferenced while it waits, so it never keeps Node alive; when Node
 * exits its stdin closes and it exits too.
 */
let warm: StartedEspeak | null = null;

/** Whether the process and its pipes keep Node's event loop alive (the pipes are sockets: they have ref/unref). */
function holdsNode(started: StartedEspeak, hold: boolean): void {
  const { child } = started;
  for (const handle of [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref(): void; unref(): void }>) {
    if (hold) handle.ref();
    else handle.unref();
  }
}

function takeWarm(program: string, args: string[]): StartedEspeak {
  const key = [program, ...args].join('\0');
  let started: StartedEspeak;
  if (warm && warm.key === key && !warm.error && !warm.exited) {
    started = warm;
    holdsNode(started, true);
  } else {
    warm?.child.kill();
    started = startEspeak(program, args);
  }
  warm = null;
  // The next one starts once this one is done, not beside it: two start-ups at once on a busy machine
  // would delay this say's first audio.
  started.child.once('close', () => {
    if (warm || started.error) return;
    warm = startEspeak(program, args);
    holdsNode(warm, false);
  });
  return started;
}

/**
 * Incremental reader of the WAV eSpeak writes on stdout: the canonical 44-byte header (its sizes say
 * "streaming"), then 16-bit mono samples split anywhere, even inside a sample.
 */
export class EspeakWavDecoder {
  sampleRate = 0;
  samplesOut = 0;
  headerSeen = false;
  private pending: Buffer = Buffer.alloc(0);

  push(bytes: Buffer): Float32Array {
    let data = this.pending.length > 0 ? Buffer.concat([this.pending, bytes]) : bytes;
    if (!this.headerSeen) {
      if (data.length < 44) {
        this.pending = data;
        return new Float32Array(0);
      }
      if (data.toString('ascii', 0, 4) !== 'RIFF' || data.toString('ascii', 8, 12) !== 'WAVE' || data.toString('ascii', 36, 40) !== 'data') {
        throw new SvcError('INTERNAL', `eSpeak NG did not write a WAV (its output starts ${JSON.stringify(data.toString('latin1', 0, 12))})`);
      }
      const channels = data.readUInt16LE(22);
      const bits = data.readUInt16LE(34);
      if (channels !== 1 || bits !== 16) throw new SvcError('INTERNAL', `eSpeak NG wrote ${channels} channel(s) of ${bits}-bit audio, expected mono 16-bit`);
      this.sampleRate = data.readUInt32LE(24);
      this.headerSeen = true;
      data = data.subarray(44);
    }
    const count = data.length >> 1;
    const samples = new Float32Array(count);
    for (let i = 0; i < count; i++) samples[i] = data.readInt16LE(2 * i) / 32768;
    this.pending = Buffer.from(data.subarray(2 * count));
    this.samplesOut += count;
    return samples;
  }
}
