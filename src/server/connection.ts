// One WebSocket connection's state machine: pending (until a valid hello, bounded by the hello deadline;
// nothing it sends before hello extends that) → convert (owns a session) or listen (follows one) →
// closed. Every client message is budgeted (messages per second, audio at most maxAudioSpeed × real time)
// and validated once by the protocol module; failures become typed error messages, fatal ones close the
// connection, and nothing a client sends can throw past this class.
import { WebSocket, type RawData } from 'ws';
import type { Subscription } from 'rxjs';
import { bytesPerSample } from '../stream/codec.js';
import {
  CLOSE_CODES,
  parseClientMessage,
  type ControlMessage,
  type ErrorMessage,
  type HelloMessage,
  type ModelSwitchedMessage,
  type ProtocolErrorCode,
  type ReadyMessage,
  type SayMessage,
  PROTOCOL_LIMITS,
} from '../stream/protocol.js';
import { SayQueue } from '../stream/say.js';
import { ConvertSession, type SinkHandle, type StreamFormat } from '../stream/session.js';
import type { StageFactory } from '../voices/stage.js';
import type { AccessPolicy } from './access.js';
import { clientText, errorCode, logStack, logText, withoutPaths } from './errors.js';
import { NoticeThrottle, TokenBucket, type PendingGate } from './limits.js';
import type { DropReason, ServerMetrics } from './metrics.js';
import { MODEL_SWITCH_BURST, MODEL_SWITCHES_PER_SECOND, type ServerConfig } from './options.js';
import { newSessionId, type SessionTable } from './sessions.js';

/** What a connection needs from its server. */
export interface ConnectionHost {
  readonly config: ServerConfig;
  readonly access: AccessPolicy;
  readonly metrics: ServerMetrics;
  readonly table: SessionTable<Connection>;
  readonly pending: PendingGate<Connection>;
  stageFactory(): StageFactory;
  /** Block for a client whose hello has no blockMs, with the default voice (measured for a model). */
  defaultBlockMs(): number;
  /** The block of voice `name` made by `factory`, for sessions that did not choose theirs (measured once per model). */
  blockMsFor(name: string, factory: StageFactory): Promise<number>;
  /** The built-in voice (on the DSP worker threads when the server has them), for {"type":"model","name":"builtin"}. */
  builtinStageFactory(): Promise<StageFactory>;
  readonly resolveModel?: (name: string) => Promise<StageFactory>;
  log(line: string): void;
  /** The connection has closed (the server forgets it). */
  closed(conn: Connection): void;
}

export type ConnectionState = 'pending' | 'convert' | 'listen' | 'closed';

export class Connection {
  state: ConnectionState = 'pending';
  private authorized: boolean;
  /** The session this connection converts, or follows as a listener. */
  private session: ConvertSession | null = null;
  private sink: SinkHandle | null = null;
  private readonly subscriptions: Subscription[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly messages: TokenBucket;
  private audio: TokenBucket | null = null;
  private readonly modelSwitches = new TokenBucket(MODEL_SWITCHES_PER_SECOND, MODEL_SWITCH_BURST);
  private readonly rateNotice = new NoticeThrottle();
  /** Live say: its per-minute budget and its queue (made on the first say). */
  private readonly says = new TokenBucket(PROTOCOL_LIMITS.say.perMinute / 60, PROTOCOL_LIMITS.say.burst);
  private sayQueue: SayQueue | null = null;
  private switching = false;
  /** The session takes its voice's block (its hello had no blockMs), also after a model switch. */
  private voiceBlock = false;
  private alive = true;

  constructor(
    readonly id: number,
    readonly ws: WebSocket,
    /** Remote address (for per-address limits and logs). */
    readonly address: string,
    private readonly host: ConnectionHost,
  ) {
    this.authorized = !host.access.hasToken;
    this.messages = new TokenBucket(host.config.maxMessagesPerSecond, host.config.maxMessagesPerSecond);
  }

  /** Wires the socket; `queryToken` is ?token= of the upgrade URL. */
  start(queryToken: string | null): void {
    const ws = this.ws;
    ws.on('error', () => {}); // protocol violations (e.g. over maxPayload) end in 'close'
    ws.on('close', () => this.cleanup());
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (data, isBinary) => {
      try {
        this.onMessage(data, isBinary);
      } catch (error) {
        this.host.log(`internal error on connection ${this.id}: ${logStack(error)}`);
        this.fail('INTERNAL', `the server failed to handle that message: ${clientText(error)}`, CLOSE_CODES.internal);
      }
    });
    if (queryToken !== null && this.host.access.hasToken) {
      if (!this.host.access.tokenMatches(queryToken)) {
        this.fail('UNAUTHORIZED', 'the token in ?token= is wrong', CLOSE_CODES.unauthorized);
        return;
      }
      this.authorized = true;
    }
    // The hello deadline: absolute from the open, whatever the client sends before its hello (and never
    // longer than the idle timeout).
    const helloMs = Math.min(this.host.config.helloTimeoutMs, this.host.config.idleTimeoutMs);
    this.armTimer(helloMs, `no hello within ${helloMs / 1000} s of connecting; the first message must be {"type":"hello","version":1,...}`);
  }

  // ---------- Sending ----------

  send(message: object): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** A non-fatal error message. */
  error(code: ProtocolErrorCode, message: string): void {
    this.host.metrics.errorSent(code);
    const error: ErrorMessage = { type: 'error', code, message, fatal: false };
    this.send(error);
  }

  /** A fatal error message, then close with `closeCode`. */
  fail(code: ProtocolErrorCode, message: string, closeCode: number = CLOSE_CODES.protocolError): void {
    this.host.metrics.errorSent(code);
    const error: ErrorMessage = { type: 'error', code, message, fatal: true };
    this.send(error);
    this.close(closeCode, code);
  }

  close(code: number, reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(code, reason.slice(0, 120));
    this.cleanup();
    // A client that ignores the close handshake is cut off after a grace period.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private armTimer(ms: number, why: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.fail('IDLE_TIMEOUT', why, CLOSE_CODES.idleTimeout), ms);
    this.timer.unref();
  }

  /** After hello: any message from a converting client restarts its idle timer; listeners have none. */
  private touch(): void {
    if (this.state !== 'convert') return;
    const idleMs = this.host.config.idleTimeoutMs;
    this.armTimer(idleMs, `no message for ${idleMs / 1000} s; closing`);
  }

  private rateLimited(reason: DropReason, message: string): void {
    this.session?.countRejectedFrame();
    this.host.metrics.drop(reason);
    if (this.rateNotice.due()) this.error('RATE_LIMITED', message);
  }

  // ---------- Receiving ----------

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.touch();
    const config = this.host.config;
    if (!this.messages.take()) {
      this.rateLimited('rate_limited', `more than ${config.maxMessagesPerSecond} messages per second; messages are being dropped`);
      return;
    }
    const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    if (isBinary) {
      this.onAudio(bytes);
      return;
    }
    const parsed = parseClientMessage(bytes.toString('utf8'));
    if (!parsed.ok) {
      this.error(parsed.code, parsed.message);
      return;
    }
    const message = parsed.message;
    if (message.type === 'hello') {
      if (this.state !== 'pending') this.error('BAD_MESSAGE', 'hello was already received on this connection');
      else this.onHello(message);
      return;
    }
    if (this.state === 'pending') {
      this.error('NOT_READY', `"${message.type}" arrived before hello; the first message must be {"type":"hello","version":1,...}`);
      return;
    }
    this.onControl(message);
  }

  private onAudio(bytes: Buffer): void {
    const config = this.host.config;
    if (bytes.byteLength > config.maxFrameBytes) {
      this.session?.countRejectedFrame();
      this.host.metrics.drop('frame_rejected');
      this.error('FRAME_TOO_LARGE', `binary frames may be at most ${config.maxFrameBytes} bytes, got ${bytes.byteLength}; split the audio into smaller frames`);
      return;
    }
    if (this.state !== 'convert' || !this.session) {
      const why = this.state === 'listen' ? 'listeners do not send audio' : 'send a hello message first';
      this.error('NOT_READY', `binary audio arrived before the session was ready (${why})`);
      return;
    }
    // The audio budget counts sample frames, read from the byte length before decoding anything.
    const format = this.session.format;
    const frames = Math.floor(bytes.byteLength / (bytesPerSample(format.format) * format.channels));
    if (frames > 0 && !this.audio!.take(frames)) {
      this.rateLimited('rate_limited', `audio is accepted at most ${config.maxAudioSpeed}× real time (after a ${config.audioBurstS} s burst); frames beyond are dropped — pace the stream`);
      return;
    }
    const problem = this.session.acceptFrame(bytes);
    if (problem) {
      this.host.metrics.drop('frame_rejected');
      this.error('BAD_FRAME', problem);
    }
  }

  private onHello(hello: HelloMessage): void {
    const host = this.host;
    if (!this.authorized) {
      if (!host.access.tokenMatches(hello.token)) {
        this.fail('UNAUTHORIZED', hello.token === undefined ? 'this server needs a token (?token= in the URL or "token" in hello)' : 'the token is wrong', CLOSE_CODES.unauthorized);
        return;
      }
      this.authorized = true;
    }
    if (host.table.full) {
      this.fail('TOO_MANY_SESSIONS', `the server already has ${host.config.maxSessions} sessions; try again later`, CLOSE_CODES.tooManySessions);
      return;
    }
    host.pending.release(this);
    const format: StreamFormat = { sampleRate: hello.sampleRate, format: hello.format, channels: hello.channels };
    if (hello.role === 'listen') this.startListening(hello, format);
    else this.startConverting(hello, format);
  }

  private startConverting(hello: HelloMessage, format: StreamFormat): void {
    const host = this.host;
    const config = host.config;
    const id = newSessionId();
    // Without a blockMs the session follows its voice's block (also across model switches).
    this.voiceBlock = hello.blockMs === undefined;
    const blockMs = hello.blockMs ?? host.defaultBlockMs();
    let session: ConvertSession;
    try {
      session = new ConvertSession({
        id,
        ...format,
        blockMs,
        voice: hello.voice,
        stageFactory: host.stageFactory(),
        modelName: config.modelName,
        policy: config.policy,
        maxQueueMs: config.maxQueueMs,
        crossfadeMs: config.crossfadeMs,
        searchMs: config.searchMs,
        extraContextMs: config.extraContextMs,
        onBlock: (timing) => host.metrics.block(timing),
      });
    } catch (error) {
      host.log(`could not start a session: ${logStack(error)}`);
      this.fail('INTERNAL', `could not start the converter: ${clientText(error)}`, CLOSE_CODES.internal);
      return;
    }
    this.state = 'convert';
    this.session = session;
    this.audio = new TokenBucket(config.maxAudioSpeed * format.sampleRate, config.audioBurstS * format.sampleRate);
    host.table.add(session, this);
    this.attach(session, format);
    this.subscriptions.push(
      session.errors$.subscribe((error) => {
        host.log(`stage error in session ${id}: ${logText(error)}`);
        this.error('INTERNAL', `the converter failed on a block (passed through unconverted): ${clientText(error)}`);
      }),
    );
    this.touch();
    this.send(this.readyMessage('convert', format));
    host.log(`session ${id} started (${format.sampleRate} Hz ${format.format} ×${format.channels}, block ${blockMs} ms${this.voiceBlock ? ", the voice's" : ''})`);
  }

  private startListening(hello: HelloMessage, format: StreamFormat): void {
    if (hello.listen === undefined) {
      this.fail('UNKNOWN_SESSION', 'a listener must name a session in "listen"', CLOSE_CODES.unknownSession);
      return;
    }
    const followed = this.host.table.follow(hello.listen, this);
    if (followed === 'unknown') {
      this.fail('UNKNOWN_SESSION', 'no such session is running', CLOSE_CODES.unknownSession);
      return;
    }
    if (followed === 'full') {
      this.fail('TOO_MANY_SESSIONS', `that session already has ${this.host.config.maxListenersPerSession} listeners`, CLOSE_CODES.tooManySessions);
      return;
    }
    this.state = 'listen';
    this.session = followed;
    if (this.timer) clearTimeout(this.timer);
    this.attach(followed, format);
    this.send(this.readyMessage('listen', format));
  }

  /** Takes the session's shared sink for `format` and forwards its frames to this client. */
  private attach(session: ConvertSession, format: StreamFormat): void {
    const sink = session.attachSink(format);
    this.sink = sink;
    this.subscriptions.push(
      sink.frames$.subscribe({
        next: (frame) => this.deliver(session, frame),
        error: (error: unknown) => {
          this.host.log(`output failed on connection ${this.id}: ${logStack(error)}`);
          this.fail('INTERNAL', `the server failed to encode converted audio: ${clientText(error)}`, CLOSE_CODES.internal);
        },
      }),
    );
  }

  /** Sends one converted frame, dropping it (counted) when the client does not keep up. */
  private deliver(session: ConvertSession, frame: Buffer): void {
    if (this.state === 'closed' || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.ws.bufferedAmount > this.host.config.maxSendBufferBytes) {
      session.countDroppedOutput();
      this.host.metrics.drop('output_backpressure');
      return;
    }
    this.ws.send(frame);
  }

  private readyMessage(role: ReadyMessage['role'], format: StreamFormat): ReadyMessage {
    const session = this.session!;
    const config = this.host.config;
    return {
      type: 'ready',
      sessionId: session.id,
      role,
      ...format,
      blockSamples: Math.round((session.blockMs * format.sampleRate) / 1000),
      voice: { ...session.voice },
      model: session.modelName,
      controls: session.controls(),
      latency: this.sink!.latency(),
      limits: {
        maxFrameBytes: config.maxFrameBytes,
        maxMessagesPerSecond: config.maxMessagesPerSecond,
        maxQueueMs: session.maxQueueMs,
        idleTimeoutS: config.idleTimeoutMs / 1000,
        maxAudioSpeed: config.maxAudioSpeed,
        audioBurstMs: config.audioBurstS * 1000,
      },
    };
  }

  // ---------- Control messages ----------

  private onControl(message: ControlMessage): void {
    const session = this.session;
    switch (message.type) {
      case 'ping':
        this.send({ type: 'pong', t: message.t });
        return;
      case 'stats':
        if (session) this.send(this.statsMessage(session));
        return;
      case 'set':
        if (this.state !== 'convert' || !session) {
          this.error('BAD_MESSAGE', 'listeners cannot change the voice');
          return;
        }
        this.send({ type: 'voice', voice: session.setVoice(message.voice) });
        return;
      case 'model':
        if (this.state !== 'convert' || !session) {
          this.error('BAD_MESSAGE', 'listeners cannot change the model');
          return;
        }
        this.onModel(session, message.name);
        return;
      case 'say':
      case 'sayStop':
        if (this.state !== 'convert' || !session) {
          this.error('BAD_MESSAGE', 'listeners cannot speak into a session; the converting client sends say');
          return;
        }
        if (message.type === 'sayStop') this.sayQueue?.stop();
        else this.onSay(session, message);
        return;
    }
  }

  /** {"type":"say"}: typed text spoken into this session (stream/say.ts), within the per-minute budget. */
  private onSay(session: ConvertSession, message: SayMessage): void {
    const limits = PROTOCOL_LIMITS.say;
    // A say the full queue refuses (SAY_BUSY) costs no budget.
    if (!this.sayQueue?.full && !this.says.take()) {
      this.error('RATE_LIMITED', `at most ${limits.perMinute} say messages per minute (${limits.burst} at once); this one was dropped`);
      return;
    }
    this.sayQueue ??= new SayQueue(session, {
      state: (state) => this.send(state),
      error: (code, text) => this.error(code, withoutPaths(text)),
      active: () => this.touch(),
      log: (line) => this.host.log(`session ${session.id}: ${line}`),
    });
    this.sayQueue.request(message);
  }

  statsMessage(session: ConvertSession) {
    return session.stats(this.host.config.policy, this.host.table.listenersOf(session.id).length, this.sink?.latency());
  }

  /** Pushes a stats message to a converting client (the server's stats timer). */
  pushStats(): void {
    if (this.state !== 'convert' || !this.session) return;
    try {
      this.send(this.statsMessage(this.session));
    } catch (error) {
      this.host.log(`stats for session ${this.session.id} failed: ${logText(error)}`);
    }
  }

  private onModel(session: ConvertSession, name: string): void {
    if (name === session.modelName) {
      this.send(this.modelSwitched(session));
      return;
    }
    const resolveModel = name === 'builtin' ? () => this.host.builtinStageFactory() : this.host.resolveModel;
    if (!resolveModel) {
      this.error('MODEL_NOT_FOUND', `no model named ${JSON.stringify(name)}; available: ${JSON.stringify(this.host.config.modelName)}`);
      return;
    }
    const baseName = (text: string) => (text.includes(':') ? text.slice(0, text.indexOf(':')) : text);
    if (!this.switching && name !== 'builtin' && baseName(name) === baseName(session.modelName)) {
      // Another speaker of the model in use: the stage ramps to it in place (speaker-mix graphs).
      try {
        if (session.changeSpeaker(name, name.includes(':') ? name.slice(name.indexOf(':') + 1) : undefined)) {
          this.host.log(`session ${session.id} now uses speaker ${name}`);
          this.send(this.modelSwitched(session));
          for (const listener of this.host.table.listenersOf(session.id)) listener.send(listener.modelSwitched(session));
          return;
        }
      } catch (error) {
        this.error('MODEL_NOT_FOUND', `cannot switch to model ${JSON.stringify(name)} (${errorCode(error)}): ${clientText(error)}; keeping ${JSON.stringify(session.modelName)}`);
        return;
      }
    }
    if (this.switching) {
      this.error('RATE_LIMITED', `a model switch is already in progress; wait for its answer before asking for ${JSON.stringify(name)}`);
      return;
    }
    if (!this.modelSwitches.take()) {
      this.error('RATE_LIMITED', `too many model switches: at most ${MODEL_SWITCH_BURST} at once, then one every ${1 / MODEL_SWITCHES_PER_SECOND} s; keeping ${JSON.stringify(session.modelName)}`);
      return;
    }
    this.switching = true;
    const startedMs = performance.now();
    resolveModel(name)
      .then(async (factory) => {
        this.host.metrics.modelLoaded((performance.now() - startedMs) / 1000, 'ok');
        if (this.state !== 'convert' || this.session !== session) return;
        const blockMs = this.voiceBlock ? await this.host.blockMsFor(name, factory) : session.blockMs;
        if (this.state !== 'convert' || this.session !== session) return;
        await session.replaceStage(factory, name, blockMs);
        this.host.log(`session ${session.id} now uses model ${name}`);
        // The confirmation carries the new latency (the model's look-ahead changes the signal delay);
        // listeners get theirs too, and the converting client a fresh stats message.
        this.send(this.modelSwitched(session));
        for (const listener of this.host.table.listenersOf(session.id)) listener.send(listener.modelSwitched(session));
        this.send(this.statsMessage(session));
      })
      .catch((error: unknown) => {
        this.host.metrics.modelLoaded((performance.now() - startedMs) / 1000, 'error');
        this.host.log(`session ${session.id}: model ${JSON.stringify(name)} failed: ${logText(error)}`);
        // One protocol code for "that model cannot be used"; the message names the cause (missing, invalid, ...).
        this.error('MODEL_NOT_FOUND', `cannot switch to model ${JSON.stringify(name)} (${errorCode(error)}): ${clientText(error)}; keeping ${JSON.stringify(session.modelName)}`);
      })
      .finally(() => (this.switching = false));
  }

  modelSwitched(session: ConvertSession): ModelSwitchedMessage {
    const rate = this.sink?.format.sampleRate ?? session.format.sampleRate;
    return { type: 'model', name: session.modelName, controls: session.controls(), latency: this.sink?.latency() ?? session.latency(), blockSamples: Math.round((session.blockMs * rate) / 1000) };
  }

  // ---------- Lifecycle ----------

  /** Heartbeat tick: false (and terminated) when the previous ping got no pong. */
  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /** The session this connection owns ended: a listener is told and closed. */
  sessionEnded(sessionId: string): void {
    this.fail('UNKNOWN_SESSION', `session ${sessionId} ended`, CLOSE_CODES.unknownSession);
  }

  cleanup(): void {
    if (this.state === 'closed') return;
    const wasState = this.state;
    this.state = 'closed';
    const host = this.host;
    host.pending.release(this);
    host.closed(this);
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.subscriptions) s.unsubscribe();
    this.subscriptions.length = 0;
    this.sayQueue?.dispose();
    this.sayQueue = null;
    this.sink?.detach();
    this.sink = null;
    const session = this.session;
    this.session = null;
    if (!session) return;
    if (wasState === 'listen') {
      host.table.unfollow(session.id, this);
      return;
    }
    for (const listener of host.table.remove(session.id)) listener.sessionEnded(session.id);
    host.metrics.reportPolicy(session);
    session.dispose();
    host.log(`session ${session.id} ended`);
  }
}
