// A protocol v1 client (used by `svc stream`, the tests and the benchmark): connects, says hello, sends
// interleaved audio and hands back the converted audio. streamAudio() converts a whole signal and
// returns it time-aligned with the input (the server's reported delay removed) and of the same length.
import WebSocket from 'ws';
import { SvcError } from '../errors.js';
import type { AudioData } from '../audio/types.js';
import { bytesPerSample } from './codec.js';
import { floatToPcm16, pcm16ToFloat } from '../audio/pcm16.js';
import type { ErrorMessage, ModelSwitchedMessage, ReadyMessage, SampleFormat, StatsMessage } from './protocol.js';

export interface StreamClientOptions {
  /** ws://HOST:PORT/ws, or http://HOST:PORT (the /ws path is added). */
  url: string;
  token?: string;
  sampleRate: number;
  channels: 1 | 2;
  format?: SampleFormat;
  blockMs?: number;
  voice?: { pitch?: number; formant?: number };
  /** Origin header to send (browsers' behaviour; default none). */
  origin?: string;
  /**
   * Voice to switch to right after `ready` ("builtin", an installed model name or "NAME:SPEAKER"); connect()
   * resolves once the server confirmed it, with `ready.model` and `ready.latency` updated to the new voice.
   */
  model?: string;
  /** How long a model switch may take (the server may have to load the model), in ms. Default 60000. */
  modelTimeoutMs?: number;
}

/** ws://…/ws from what a user may type (http://host:port, ws://host:port, host:port). */
export function normalizeServerUrl(url: string): string {
  let text = url.trim();
  if (!/^[a-z]+:\/\//i.test(text)) text = `ws://${text}`;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    throw new SvcError('INVALID_ARGUMENT', `--url must be a server address like ws://127.0.0.1:8080/ws, got ${JSON.stringify(url)}`);
  }
  if (parsed.protocol === 'http:') parsed.protocol = 'ws:';
  else if (parsed.protocol === 'https:') parsed.protocol = 'wss:';
  else if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    throw new SvcError('INVALID_ARGUMENT', `--url must start with ws://, wss://, http:// or https://, got ${JSON.stringify(url)}`);
  }
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/ws';
  return parsed.toString();
}

export class StreamClient {
  readonly ws: WebSocket;
  ready: ReadyMessage | null = null;
  lastStats: StatsMessage | null = null;
  /** Called with each converted frame, interleaved, in the negotiated channel count. */
  onAudio: (interleaved: Float32Array) => void = () => {};
  onServerError: (error: ErrorMessage) => void = () => {};
  private readonly format: SampleFormat;
  /** The model switch waiting for the server's answer. */
  private modelWaiter: { resolve: (m: ModelSwitchedMessage) => void; reject: (e: SvcError) => void } | null = null;
  private closedPromise: Promise<{ code: number; reason: string }>;

  private constructor(readonly options: StreamClientOptions) {
    this.format = options.format ?? 'f32';
    this.ws = new WebSocket(normalizeServerUrl(options.url), { perMessageDeflate: false, headers: options.origin ? { Origin: options.origin } : undefined });
    this.ws.binaryType = 'nodebuffer';
    this.closedPromise = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  /** Connects and completes the hello/ready exchange; throws SvcError with the server's reason. */
  static async connect(options: StreamClientOptions, timeoutMs = 10_000): Promise<StreamClient> {
    const client = new StreamClient(options);
    try {
      await client.handshake(timeoutMs);
      if (options.model !== undefined) await client.switchModel(options.model, options.modelTimeoutMs ?? 60_000);
    } catch (error) {
      client.ws.terminate();
      throw error;
    }
    return client;
  }

  private handshake(timeoutMs: number): Promise<void> {
    const { options } = this;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new SvcError('DEVICE_UNAVAILABLE', `no answer from ${options.url} within ${timeoutMs / 1000} s`, { hint: 'is `svc serve` running there?' })), timeoutMs);
      const fail = (error: SvcError) => {
        clearTimeout(timer);
        reject(error);
      };
      this.ws.on('error', (error) => fail(new SvcError('DEVICE_UNAVAILABLE', `cannot connect to ${normalizeServerUrl(options.url)}: ${error.message}`, { hint: 'start the server with `svc serve` and check --url' })));
      this.ws.on('unexpected-response', (_req, res) => fail(new SvcError('DEVICE_UNAVAILABLE', `the server refused the WebSocket connection: HTTP ${res.statusCode}`, { hint: res.statusCode === 403 ? 'this origin is not allowed (svc serve --allow-origin)' : 'check --url (the endpoint is /ws)' })));
      this.ws.on('close', (code, reason) => fail(new SvcError('DEVICE_UNAVAILABLE', `the server closed the connection (${code} ${reason.toString()})`)));
      this.ws.on('open', () => {
        this.ws.send(
          JSON.stringify({
            type: 'hello',
            version: 1,
            role: 'convert',
            sampleRate: options.sampleRate,
            format: this.format,
            channels: options.channels,
            blockMs: options.blockMs,
            voice: options.voice,
            token: options.token,
          }),
        );
      });
      this.ws.on('message', (data, isBinary) => {
        if (isBinary) {
          this.onAudio(this.decode(data as Buffer));
          return;
        }
        const message = JSON.parse(data.toString()) as { type: string };
        if (message.type === 'ready') {
          this.ready = message as ReadyMessage;
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'stats') this.lastStats = message as StatsMessage;
        else if (message.type === 'model') this.modelWaiter?.resolve(message as ModelSwitchedMessage);
        else if (message.type === 'error') {
          const error = message as ErrorMessage;
          if (this.ready && this.modelWaiter && error.code === 'MODEL_NOT_FOUND') {
            this.modelWaiter.reject(new SvcError('MODEL_NOT_FOUND', `the server refused the model: ${error.message}`, { hint: 'see `svc models` on the server for the installed names (NAME or NAME:SPEAKER), or use "builtin"' }));
          } else if (!this.ready) fail(new SvcError(error.code === 'UNAUTHORIZED' ? 'INVALID_ARGUMENT' : 'DEVICE_UNAVAILABLE', `the server refused the session: ${error.code}: ${error.message}`, { hint: error.code === 'UNAUTHORIZED' ? 'pass the server\'s token with --token' : undefined }));
          else this.onServerError(error);
        }
      });
    });
  }

  /**
   * Switches the session's voice and waits for the server's confirmation (MODEL_NOT_FOUND → SvcError of
   * that code with the server's reason). Updates `ready.model`, `ready.controls` and `ready.latency`.
   */
  switchModel(name: string, timeoutMs = 60_000): Promise<ModelSwitchedMessage> {
    if (!this.ready) return Promise.reject(new SvcError('INTERNAL', 'switchModel before the session is ready'));
    if (this.modelWaiter) return Promise.reject(new SvcError('INTERNAL', 'a model switch is already waiting for its answer'));
    return new Promise<ModelSwitchedMessage>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.modelWaiter = null;
        this.ws.off('close', onClose);
      };
      const timer = setTimeout(() => {
        done();
        reject(new SvcError('DEVICE_UNAVAILABLE', `the server did not confirm model ${JSON.stringify(name)} within ${timeoutMs / 1000} s`, { hint: 'a large model may take long to load; try again' }));
      }, timeoutMs);
      const onClose = () => {
        done();
        reject(new SvcError('DEVICE_UNAVAILABLE', `the server closed the connection while switching to model ${JSON.stringify(name)}`));
      };
      this.ws.on('close', onClose);
      this.modelWaiter = {
        resolve: (message) => {
          done();
          const ready = this.ready!;
          ready.model = message.name;
          if (message.controls) ready.controls = message.controls;
          if (message.latency) ready.latency = message.latency;
          // A session that left the block to the server takes the new voice's.
          if (message.blockSamples) ready.blockSamples = message.blockSamples;
          resolve(message);
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      this.sendJson({ type: 'model', name });
    });
  }

  private decode(bytes: Buffer): Float32Array {
    const count = Math.floor(bytes.byteLength / bytesPerSample(this.format));
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.format === 'f32' ? bytes.readFloatLE(i * 4) : pcm16ToFloat(bytes.readInt16LE(i * 2));
    return out;
  }

  /** Sends interleaved samples (frames × channels) as one binary frame. */
  send(interleaved: Float32Array): void {
    const bytes = Buffer.allocUnsafe(interleaved.length * bytesPerSample(this.format));
    for (let i = 0; i < interleaved.length; i++) {
      if (this.format === 'f32') bytes.writeFloatLE(interleaved[i], i * 4);
      else bytes.writeInt16LE(floatToPcm16(interleaved[i]), i * 2);
    }
    this.ws.send(bytes);
  }

  sendJson(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  /** Closes the connection (1000) and waits for the close handshake. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000, 'done');
    const timer = setTimeout(() => this.ws.terminate(), 2000);
    await this.closedPromise;
    clearTimeout(timer);
  }

  get closed(): Promise<{ code: number; reason: string }> {
    return this.closedPromise;
  }
}

export interface StreamAudioOptions extends Omit<StreamClientOptions, 'sampleRate' | 'channels'> {
  /** Send at real-time pace (one block per block duration) instead of as fast as the server keeps up. */
  realtime?: boolean;
  /** Gives up when no converted audio arrives for this long, in ms. Default 15000. */
  stallTimeoutMs?: number;
  onProgress?: (sentSeconds: number, totalSeconds: number) => void;
}

export interface StreamAudioResult {
  audio: AudioData;
  ready: ReadyMessage;
  stats: StatsMessage | null;
  /** Samples trimmed from the start of the received stream (the server's reported delay). */
  trimmedSamples: number;
}

/**
 * Streams `audio` (1 or 2 channels at a protocol sample rate) through a server and returns the converted
 * audio with the same rate, channels and length, aligned with the input.
 */
export async function streamAudio(audio: AudioData, options: StreamAudioOptions): Promise<StreamAudioResult> {
  const channels = audio.channels.length;
  if (channels !== 1 && channels !== 2) throw new SvcError('INVALID_ARGUMENT', `the stream client sends 1 or 2 channels, the input has ${channels}`, { hint: 'mix the file down to stereo or mono first' });
  const length = audio.channels[0].length;
  const client = await StreamClient.connect({ ...options, sampleRate: audio.sampleRate, channels });
  try {
    const ready = client.ready!;
    const delay = ready.latency.delaySamples;
    const block = ready.blockSamples;
    const needed = length + delay;
    const received = new Float32Array(needed * channels);
    let receivedFrames = 0;
    let lastProgressMs = performance.now();
    let wake: (() => void) | null = null;
    let serverFailure: ErrorMessage | null = null;
    client.onAudio = (interleaved) => {
      const frames = interleaved.length / channels;
      const take = Math.max(0, Math.min(frames, needed - receivedFrames));
      if (take > 0) received.set(interleaved.subarray(0, take * channels), receivedFrames * channels);
      receivedFrames += frames;
      lastProgressMs = performance.now();
      wake?.();
    };
    client.onServerError = (error) => {
      if (error.fatal) serverFailure = error;
      wake?.();
    };
    const waitForEvent = (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          wake = null;
          resolve();
        }, ms);
        wake = () => {
          clearTimeout(timer);
          wake = null;
          resolve();
        };
      });
    // Flow control for non-real-time sending: keep at most one block (the one being converted) plus
    // half the server's queue limit in flight (sent minus received), so the behind-real-time policy
    // never triggers. The voice's look-ahead is not in flight: the server answers every block with a
    // block at once, the delay is inside the audio. (Counting `delaySamples` let a neural model's
    // queue reach 320 ms against a 200 ms limit: most blocks came back unconverted.) Frames the server
    // rejected (its rate limit) never come back: when the window stays full, the server's
    // `framesRejected` says how many, so a loss cannot stall the stream.
    const windowFrames = block + Math.floor((ready.limits.maxQueueMs / 2 / 1000) * audio.sampleRate);
    const rejectedFrames = () => (client.lastStats?.dropped.framesRejected ?? 0) * block;
    let statsAskedMs = 0;
    const stallMs = options.stallTimeoutMs ?? 15_000;
    // Input plus silence that pushes the last partial block and the delayed tail out.
    const totalFrames = length + delay + 2 * block;
    const startMs = performance.now();
    const audioSpeed = ready.limits.maxAudioSpeed ?? Infinity;
    const burstS = (ready.limits.audioBurstMs ?? 0) / 1000;
    // Half the server's burst and 80 % of its rate: the server counts arrival time, so frames that reach it
    // in a bunch after a stall (network, or the server busy loading a model) must still fit its bucket.
    const paceShare = 0.8;
    const paceBurstFrames = Math.max(block, 0.5 * burstS * audio.sampleRate);
    let tokens = paceBurstFrames;
    let tokensAtMs = startMs;
    const interleaved = new Float32Array(block * channels);
    for (let sent = 0; sent < totalFrames; ) {
      if (serverFailure) break;
      if (client.ws.readyState !== WebSocket.OPEN) throw new SvcError('DEVICE_UNAVAILABLE', 'the server closed the connection while streaming');
      if (options.realtime) {
        const dueMs = startMs + (sent / audio.sampleRate) * 1000;
        const waitMs = dueMs - performance.now();
        if (waitMs > 0) await new Promise((r) => setTimeout(r, waitMs));
      } else if (sent - rejectedFrames() - receivedFrames > windowFrames) {
        const now = performance.now();
        if (now - lastProgressMs > 500 && now - statsAskedMs > 500) {
          statsAskedMs = now;
          client.sendJson({ type: 'stats' });
        }
        await waitForEvent(100);
        if (performance.now() - lastProgressMs > stallMs) throw new SvcError('DEVICE_UNAVAILABLE', `no converted audio from the server for ${stallMs / 1000} s`);
        continue;
      } else if (Number.isFinite(audioSpeed)) {
        // The server accepts audio at most maxAudioSpeed × real time after a burst (a token bucket that
        // refills up to the burst, never beyond): mirror that bucket with a smaller rate and size, so
        // time spent waiting on the window above does not count as credit the server never gives.
        const now = performance.now();
        tokens = Math.min(paceBurstFrames, tokens + ((now - tokensAtMs) / 1000) * paceShare * audioSpeed * audio.sampleRate);
        tokensAtMs = now;
        if (tokens < block) {
          await new Promise((r) => setTimeout(r, Math.max(5, ((block - tokens) / (paceShare * audioSpeed * audio.sampleRate)) * 1000)));
          continue;
        }
        tokens -= Math.min(block, totalFrames - sent);
      }
      const frames = Math.min(block, totalFrames - sent);
      const chunk = interleaved.subarray(0, frames * channels);
      chunk.fill(0);
      const real = Math.max(0, Math.min(frames, length - sent));
      for (let i = 0; i < real; i++) for (let c = 0; c < channels; c++) chunk[i * channels + c] = audio.channels[c][sent + i];
      client.send(chunk);
      if (sent < length) options.onProgress?.(Math.min(sent + frames, length) / audio.sampleRate, length / audio.sampleRate);
      sent += frames;
    }
    while (receivedFrames < needed && !serverFailure) {
      if (client.ws.readyState !== WebSocket.OPEN) break;
      if (performance.now() - lastProgressMs > stallMs) break;
      await waitForEvent(100);
    }
    if (serverFailure) throw new SvcError('DEVICE_UNAVAILABLE', `the server ended the session: ${(serverFailure as ErrorMessage).code}: ${(serverFailure as ErrorMessage).message}`);
    if (receivedFrames < needed) {
      throw new SvcError('DEVICE_UNAVAILABLE', `the server returned ${Math.max(0, receivedFrames - delay)} of ${length} samples`, { hint: 'the connection stalled or dropped audio; try again or without --realtime' });
    }
    client.sendJson({ type: 'stats' });
    await waitForEvent(300);
    const out: Float32Array[] = [];
    for (let c = 0; c < channels; c++) {
      const channel = new Float32Array(length);
      for (let i = 0; i < length; i++) channel[i] = received[(i + delay) * channels + c];
      out.push(channel);
    }
    return { audio: { sampleRate: audio.sampleRate, channels: out }, ready, stats: client.lastStats, trimmedSamples: delay };
  } finally {
    await client.close();
  }
}
