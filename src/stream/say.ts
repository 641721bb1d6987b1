// Live `say` (protocol {"type":"say","text":…}): typed text spoken into a converting session through the
// same engine as the microphone. eSpeak NG's speech is fed as the session's input — resampled to the
// client's rate and queued exactly like client frames — so it goes through the session's voice (DSP or
// neural), its pitch setting, its model switches, and out to the client and every listener (OBS).
//
// Timing: eSpeak writes one clause at a time on stdout, from a process started ahead (streamEspeak's
// `warm`), so the first audio goes in a few ms after the text when the machine is idle, and the rest is paced at real time by a token bucket of samples (burst =
// `leadMs`): pushing it all at once would look like a client falling behind real time, and the session's
// behind-real-time policy would silence it. eSpeak's pipe is paused while more than `bufferMs` waits, so
// memory stays bounded whatever the text length.
//
// While a say speaks, the client's own audio is received but not converted (session.inputReplaced):
// the text is heard alone, and the input stays real time. Says queue one after another (at most
// PROTOCOL_LIMITS.say.maxQueued per session); the connection limits them per minute.
import { StreamingResampler } from '../audio/resample.js';
import { errorMessage } from '../errors.js';
import { streamEspeak, type EspeakStream } from '../tts/espeak.js';
import { PROTOCOL_LIMITS, type ProtocolErrorCode, type SayMessage, type SayStateMessage } from './protocol.js';

/** What a say needs from its session. */
export interface SayTarget {
  /** The client's rate: generated audio goes in at this rate, like client frames. */
  readonly format: { sampleRate: number };
  readonly blockMs: number;
  inputReplaced: boolean;
  pushGenerated(samples: Float32Array): void;
  /** The session's algorithmic latency: the silence pushed after a say so its end comes out. */
  latency(): { algorithmicMs: number };
}

export interface SayEvents {
  state(message: SayStateMessage): void;
  /** A non-fatal protocol error for the client (the message may name a server path: strip it). */
  error(code: ProtocolErrorCode, message: string): void;
  /** Audio went in (keeps a text-only client's session from idling out mid-say). */
  active(): void;
  /** Errors for the server log (full text, paths kept). */
  log(line: string): void;
}

/** Milliseconds from a monotonic clock. */
type Clock = () => number;

interface Item {
  id: number;
  message: SayMessage;
  receivedMs: number;
}

const PUMP_MS = 10;

export class SayQueue {
  private readonly limits = PROTOCOL_LIMITS.say;
  private readonly waiting: Item[] = [];
  private current: Speaking | null = null;
  private nextId = 1;
  private disposed = false;

  constructor(
    private readonly target: SayTarget,
    private readonly events: SayEvents,
    private readonly clock: Clock = () => performance.now(),
  ) {}

  /**
   * Takes one validated say message (the connection has applied the per-minute budget): queues it, or
   * refuses it with SAY_BUSY when the session already holds PROTOCOL_LIMITS.say.maxQueued.
   */
  request(message: SayMessage): void {
    if (this.disposed) return;
    const queued = this.waiting.length + (this.current ? 1 : 0);
    if (this.full) {
      this.events.error('SAY_BUSY', `this session already holds ${queued} says (at most ${this.limits.maxQueued}: one speaking, the rest waiting); wait for a "done", or send {"type":"sayStop"}`);
      return;
    }
    const item: Item = { id: this.nextId++, message, receivedMs: this.clock() };
    this.waiting.push(item);
    if (this.current) this.events.state({ type: 'say', id: item.id, state: 'queued', position: this.waiting.length });
    else this.startNext();
  }

  /** {"type":"sayStop"}: stops the say speaking now and drops those waiting. */
  stop(): void {
    for (const item of this.waiting.splice(0)) this.events.state({ type: 'say', id: item.id, state: 'stopped' });
    this.current?.stop();
  }

  /** True when the session holds PROTOCOL_LIMITS.say.maxQueued says: the next is refused. */
  get full(): boolean {
    return this.waiting.length + (this.current ? 1 : 0) >= this.limits.maxQueued;
  }

  dispose(): void {
    if (this.disposed) return;
    this.waiting.length = 0;
    this.current?.stop(false);
    this.disposed = true;
  }

  private startNext(): void {
    const item = this.waiting.shift();
    if (!item || this.disposed) return;
    this.current = new Speaking(item, this.target, this.events, this.clock, () => {
      this.current = null;
      this.startNext();
    });
  }
}

/** One say on its way into the session. */
class Speaking {
  private readonly espeak: EspeakStream;
  private resampler: StreamingResampler | null = null;
  /** Client-rate audio waiting to go in, oldest first. */
  private readonly buffered: Float32Array[] = [];
  private bufferedSamples = 0;
  private pushedSamples = 0;
  private speechSamples = 0;
  /** Samples real time allows in (starts at the lead, so the first audio goes in at once). */
  private creditSamples: number;
  private creditAtMs: number;
  private readonly leadSamples: number;
  private readonly maxBufferSamples: number;
  private paused = false;
  private synthesisDone = false;
  private started = false;
  private finished = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly item: Item,
    private readonly target: SayTarget,
    private readonly events: SayEvents,
    private readonly clock: Clock,
    private readonly onFinished: () => void,
  ) {
    const rate = target.format.sampleRate;
    // A burst of two blocks (at least 50 ms) goes in at once: the first block converts right away, and a
    // late timer tick on a busy machine does not starve the output. It stays under the session's queue
    // limit (at least 4 blocks), so the behind-real-time policy never sees it.
    this.leadSamples = Math.round((Math.max(2 * target.blockMs, 50) * rate) / 1000);
    this.maxBufferSamples = rate * 5;
    this.creditSamples = this.leadSamples;
    this.creditAtMs = clock();
    target.inputReplaced = true;
    const { text, rate: rateWpm, ttsVoice } = item.message;
    this.espeak = streamEspeak(text, { rateWpm, voice: ttsVoice }, (samples, sampleRate) => this.onSpeech(samples, sampleRate), { warm: true });
    this.espeak.done.then(
      () => {
        this.synthesisDone = true;
        // Silence after the speech pushes its end through the voice's delay (and a partly filled block).
        const tailMs = target.latency().algorithmicMs + target.blockMs;
        this.append(new Float32Array(Math.round((tailMs * rate) / 1000)));
        this.pump();
      },
      (error: unknown) => this.fail(error),
    );
    this.timer = setInterval(() => this.pump(), PUMP_MS);
    this.timer.unref();
  }

  stop(announce = true): void {
    if (this.finished) return;
    this.espeak.cancel();
    this.finish(announce ? 'stopped' : null);
  }

  private onSpeech(samples: Float32Array, sampleRate: number): void {
    if (this.finished) return;
    const rate = this.target.format.sampleRate;
    if (!this.resampler && sampleRate !== rate) this.resampler = new StreamingResampler({ fromRate: sampleRate, toRate: rate });
    const out = this.resampler ? this.resampler.process(samples) : samples;
    this.speechSamples += out.length;
    this.append(out);
    this.pump();
  }

  private append(samples: Float32Array): void {
    if (samples.length === 0 || this.finished) return;
    this.buffered.push(samples);
    this.bufferedSamples += samples.length;
    if (!this.paused && !this.synthesisDone && this.bufferedSamples > this.maxBufferSamples) {
      this.paused = true;
      this.espeak.pause();
    }
  }

  /** Moves what real time allows from the buffer into the session. */
  private pump(): void {
    if (this.finished) return;
    let allowed = Math.min(this.bufferedSamples, this.available());
    if (allowed > 0 && !this.started) {
      this.started = true;
      this.events.state({ type: 'say', id: this.item.id, state: 'speaking', firstAudioMs: Math.round(this.clock() - this.item.receivedMs) });
    }
    let pushed = 0;
    while (allowed > 0) {
      const head = this.buffered[0]!;
      const piece = head.length <= allowed ? head : head.subarray(0, allowed);
      if (piece === head) this.buffered.shift();
      else this.buffered[0] = head.subarray(allowed);
      this.target.pushGenerated(piece);
      allowed -= piece.length;
      pushed += piece.length;
    }
    if (pushed > 0) {
      this.creditSamples -= pushed;
      this.bufferedSamples -= pushed;
      this.pushedSamples += pushed;
      this.events.active();
    }
    if (this.paused && this.bufferedSamples < this.maxBufferSamples / 2) {
      this.paused = false;
      this.espeak.resume();
    }
    if (this.synthesisDone && this.bufferedSamples === 0) this.finish('done');
  }

  /** Samples real time lets in now: credit refills at the client's rate, up to the lead. */
  private available(): number {
    const now = this.clock();
    this.creditSamples = Math.min(this.leadSamples, this.creditSamples + ((now - this.creditAtMs) * this.target.format.sampleRate) / 1000);
    this.creditAtMs = now;
    return Math.floor(this.creditSamples);
  }

  private fail(error: unknown): void {
    if (this.finished) return;
    const code = (error as { code?: unknown })?.code === 'TTS_UNAVAILABLE' ? 'TTS_UNAVAILABLE' : 'BAD_MESSAGE';
    this.events.log(`say ${this.item.id} failed: ${errorMessage(error)}`);
    this.events.error(code, `cannot speak say ${this.item.id}: ${errorMessage(error)}`);
    this.finish('failed');
  }

  private finish(state: 'done' | 'stopped' | 'failed' | null): void {
    if (this.finished) return;
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.resampler?.dispose();
    this.resampler = null;
    this.buffered.length = 0;
    this.target.inputReplaced = false;
    if (state) {
      const speechMs = Math.round((this.speechSamples * 1000) / this.target.format.sampleRate);
      this.events.state({ type: 'say', id: this.item.id, state, ...(state === 'done' ? { speechMs } : {}) });
    }
    this.onFinished();
  }
}
