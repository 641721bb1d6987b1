// The svc HTTP + WebSocket server: protocol v1 on ws://HOST:PORT/ws (docs/protocol.md), Prometheus
// metrics on GET /metrics, a health probe on GET /health, the voices a client may choose on GET /api/models
// (token-protected like /ws when the server has a token) and the web client's static files (GET / →
// clients/web/index.html, /obs → clients/web/obs.html, other files by path). Every client input is
// validated once at the boundary and bounded: frame size, message rate, session count, pending
// connections, idle time, send buffer. Whatever a client sends, the server answers with an error message
// (and closes only on fatal ones) and carries on serving everyone else.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { webClientDir } from '../paths.js';
import { MetricsWriter, ProcessMetrics } from './metrics.js';
import type { BehindPolicy } from '../engine/pipeline.js';
import {
  CLOSE_CODES,
  PROTOCOL_LIMITS,
  parseClientMessage,
  type ControlMessage,
  type ErrorMessage,
  type HelloMessage,
  type ModelListEntry,
  type ModelListResponse,
  type ModelSwitchedMessage,
  type ProtocolErrorCode,
  type ReadyMessage,
} from './protocol.js';
import { ConvertSession, type OutputEncoder, type StreamFormat } from './session.js';
import { DSP_CONTROLS, type StageFactory } from '../voices/stage.js';

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1 (this machine only). */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Shared secret clients must present (query ?token= or hello.token). Default: none. */
  token?: string;
  /** Browser origins allowed besides the server's own ("*" allows every origin). */
  allowOrigins?: string[];
  /** Block length for clients whose hello has no blockMs, in ms (10–500). Default 20. */
  blockMs?: number;
  /** Most concurrent sessions (convert + listen). Default 64. */
  maxSessions?: number;
  /** Close a connection after this many seconds without a message from it (listeners excepted). Default 30. */
  idleTimeoutS?: number;
  /** Behind-real-time policy. Default 'dry'. */
  policy?: BehindPolicy;
  /** Input queued per session beyond which the policy applies, in ms. Default max(4 blocks, 200 ms). */
  maxQueueMs?: number;
  /** SOLA crossfade / search for stateless stages, in ms. Defaults 10 / 10. */
  crossfadeMs?: number;
  searchMs?: number;
  /** Extra left context handed to stateless stages beyond what they declare, in ms. Default 0. */
  extraContextMs?: number;
  /** Largest binary frame a client may send, in bytes. Default 262144 (256 KiB). */
  maxFrameBytes?: number;
  /** Messages (text + binary) per second a connection may send. Default 1000. */
  maxMessagesPerSecond?: number;
  /** Interval of pushed `stats` messages, in ms. Default 1000. */
  statsIntervalMs?: number;
  /** Output not yet written to a slow client beyond which frames are dropped, in bytes. Default 1 MiB. */
  maxSendBufferBytes?: number;
  /** Builds the converter for each session. Default: the built-in DSP voice. */
  stageFactory?: StageFactory;
  /** Name of the voice for logs and `model` messages. Default "builtin". */
  modelName?: string;
  /**
   * Resolves a client's {"type":"model","name"} to a stage factory (loading the model if needed); the
   * session swaps to it and keeps its previous voice when this rejects. Without it only modelName works.
   */
  resolveModel?: (name: string) => Promise<StageFactory>;
  /**
   * The installed models for GET /api/models (read on every request, so newly installed bundles show up).
   * Default: none. The built-in voice is always listed first.
   */
  listModels?: () => ModelListEntry[];
  /** Human description for the start line, e.g. "built-in DSP". */
  voiceDescription?: string;
  /** Folder served over HTTP. Default clients/web. */
  webRoot?: string;
  /** One-line log sink (connects, closes, errors). Default: silent. */
  log?: (line: string) => void;
}

export interface SvcServer {
  /** http://HOST:PORT once listening. */
  readonly url: string;
  readonly port: number;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ url: string; port: number }>;
  /** Closes every connection (1001 going away) and the listening socket. */
  close(): Promise<void>;
  /** Current Prometheus text (same as GET /metrics). */
  metrics(): string;
  /** Sessions by role right now. */
  sessionCounts(): { convert: number; listen: number; pending: number };
}

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wav': 'audio/wav',
};

/** Most connections waiting for their hello at once (beyond this, new ones are closed 1013). */
const MAX_PENDING_CONNECTIONS = 256;
const HEARTBEAT_INTERVAL_MS = 15_000;

type ConnectionState = 'pending' | 'convert' | 'listen' | 'closed';

interface Connection {
  id: number;
  ws: WebSocket;
  state: ConnectionState;
  authorized: boolean;
  session?: ConvertSession;
  /** The session a listener follows. */
  following?: ConvertSession;
  encoder?: OutputEncoder;
  unsubscribe?: () => void;
  idleTimer?: NodeJS.Timeout;
  tokens: number;
  tokensUpdatedMs: number;
  lastRateLimitNoticeMs: number;
  alive: boolean;
}

export function createServer(options: ServerOptions = {}): SvcServer {
  const host = options.host ?? '127.0.0.1';
  const requestedPort = options.port ?? 8080;
  const defaultBlockMs = options.blockMs ?? 20;
  const maxSessions = options.maxSessions ?? 64;
  const idleTimeoutMs = (options.idleTimeoutS ?? 30) * 1000;
  const policy: BehindPolicy = options.policy ?? 'dry';
  const maxFrameBytes = options.maxFrameBytes ?? 262_144;
  const maxMessagesPerSecond = options.maxMessagesPerSecond ?? 1000;
  const statsIntervalMs = options.statsIntervalMs ?? 1000;
  const maxSendBufferBytes = options.maxSendBufferBytes ?? 1 << 20;
  const modelName = options.modelName ?? 'builtin';
  const webRoot = resolve(options.webRoot ?? webClientDir);
  const allowOrigins = new Set(options.allowOrigins ?? []);
  const log = options.log ?? (() => {});
  if (!Number.isFinite(defaultBlockMs) || defaultBlockMs < PROTOCOL_LIMITS.blockMs.min || defaultBlockMs > PROTOCOL_LIMITS.blockMs.max) {
    throw new RangeError(`blockMs must be ${PROTOCOL_LIMITS.blockMs.min}–${PROTOCOL_LIMITS.blockMs.max}, got ${defaultBlockMs}`);
  }
  let stageFactory = options.stageFactory;

  const connections = new Set<Connection>();
  const sessions = new Map<string, ConvertSession>();
  const listenersBySession = new Map<string, Set<Connection>>();
  const counters = { connectionsTotal: 0, upgradesRejected: new Map<string, number>(), errors: new Map<string, number>() };
  const processMetrics = new ProcessMetrics();
  let nextConnectionId = 1;
  let boundPort = 0;
  let closing = false;

  const http: HttpServer = createHttpServer((req, res) => {
    try {
      handleHttp(req, res);
    } catch (error) {
      log(`HTTP ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    }
  });
  // maxPayload is the hard cap ws enforces by closing (1009); frames between maxFrameBytes and it get a
  // FRAME_TOO_LARGE error and are dropped, so a client learns the limit without losing its session.
  const wss = new WebSocketServer({ noServer: true, maxPayload: hardMaxPayloadBytes(maxFrameBytes), perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => handleUpgrade(req, socket, head));
  http.on('clientError', (_error, socket) => socket.destroy());

  const statsTimer = setInterval(pushStats, statsIntervalMs);
  statsTimer.unref();
  const heartbeatTimer = setInterval(heartbeat, HEARTBEAT_INTERVAL_MS);
  heartbeatTimer.unref();

  function countInto(map: Map<string, number>, key: string): void {
    map.set(key, (map.get(key) ?? 0) + 1);
  }

  // ---------- HTTP ----------

  function handleHttp(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    if (url.pathname === '/metrics') {
      const body = metrics();
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/health') {
      const body = JSON.stringify({ ok: true, sessions: sessionCounts(), model: modelName, protocol: 1 });
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/api/models') {
      serveModelList(req, res, url);
      return;
    }
    if (url.pathname === '/ws') {
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket' }).end('this endpoint speaks WebSocket (protocol v1, see docs/protocol.md)\n');
      return;
    }
    serveStatic(url.pathname, req, res);
  }

  /** GET /api/models: {"default", "models": [builtin, installed...]}; needs the token (query or Bearer) when set. */
  function serveModelList(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const json = (status: number, body: object) =>
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : JSON.stringify(body));
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!tokenMatches(url.searchParams.get('token') ?? bearer)) {
      json(401, { error: 'UNAUTHORIZED', message: 'this server needs a token (?token= in the URL or an Authorization: Bearer header)' });
      return;
    }
    const builtin: ModelListEntry = { name: 'builtin', builtin: true, speakers: [], sampleRate: null, speechEncoder: null, controls: [...DSP_CONTROLS] };
    let installed: ModelListEntry[] = [];
    try {
      installed = (options.listModels?.() ?? []).filter((m) => m.name !== 'builtin');
    } catch (error) {
      log(`listing models failed: ${(error as Error).message}`);
      json(500, { error: 'INTERNAL', message: `could not list the installed models: ${(error as Error).message}` });
      return;
    }
    const body: ModelListResponse = { default: modelName, models: [builtin, ...installed] };
    json(200, body);
  }

  function serveStatic(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    const notFound = () => res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found\n');
    let relative: string;
    try {
      relative = decodeURIComponent(pathname);
    } catch {
      notFound();
      return;
    }
    if (relative === '/' || relative === '') relative = '/index.html';
    else if (relative === '/obs' || relative === '/obs/') relative = '/obs.html';
    if (relative.includes('\0')) {
      notFound();
      return;
    }
    // Resolve inside webRoot and refuse anything that escapes it (../, encoded or not) or is hidden.
    const file = resolve(webRoot, '.' + normalize('/' + relative));
    if (file !== webRoot && !file.startsWith(webRoot + sep)) {
      notFound();
      return;
    }
    if (file.slice(webRoot.length).split(sep).some((part) => part.startsWith('.'))) {
      notFound();
      return;
    }
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a file');
      size = st.size;
    } catch {
      notFound();
      return;
    }
    const type = MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

  // ---------- Upgrade: path, origin, pending-connection cap ----------

  function rejectUpgrade(socket: Duplex, status: number, reason: string, text: string): void {
    countInto(counters.upgradesRejected, reason);
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
  }

  function originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true; // not a browser: browsers always send Origin on WebSocket upgrades
    if (allowOrigins.has('*') || allowOrigins.has(origin)) return true;
    // The server's own pages (same host and port as this request) are always allowed.
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (closing) return rejectUpgrade(socket, 503, 'closing', 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return rejectUpgrade(socket, 404, 'path', 'Not Found');
    if (!originAllowed(req)) {
      log(`rejected WebSocket from origin ${req.headers.origin}`);
      return rejectUpgrade(socket, 403, 'origin', 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, url));
  }

  // ---------- Connections ----------

  function send(conn: Connection, message: object): void {
    if (conn.ws.readyState === WebSocket.OPEN) conn.ws.send(JSON.stringify(message));
  }

  function sendError(conn: Connection, code: ProtocolErrorCode, message: string, fatal: boolean, closeCode?: number): void {
    countInto(counters.errors, code);
    const error: ErrorMessage = { type: 'error', code, message, fatal };
    send(conn, error);
    if (fatal) closeConnection(conn, closeCode ?? CLOSE_CODES.protocolError, code);
  }

  function tokenMatches(candidate: string | undefined): boolean {
    if (options.token === undefined) return true;
    if (candidate === undefined) return false;
    const a = Buffer.from(candidate, 'utf8');
    const b = Buffer.from(options.token, 'utf8');
    return a.length === b.length && timingSafeEqual(a, b);
  }

  function pendingCount(): number {
    let n = 0;
    for (const c of connections) if (c.state === 'pending') n++;
    return n;
  }

  function onConnection(ws: WebSocket, url: URL): void {
    counters.connectionsTotal++;
    const conn: Connection = {
      id: nextConnectionId++,
      ws,
      state: 'pending',
      authorized: options.token === undefined,
      tokens: maxMessagesPerSecond,
      tokensUpdatedMs: performance.now(),
      lastRateLimitNoticeMs: -Infinity,
      alive: true,
    };
    ws.on('error', () => {}); // protocol violations (e.g. over maxPayload) end in 'close'; nothing to do here
    ws.on('close', () => cleanup(conn));
    ws.on('pong', () => (conn.alive = true));
    if (pendingCount() >= MAX_PENDING_CONNECTIONS) {
      countInto(counters.upgradesRejected, 'pending');
      ws.close(1013, 'too many connections waiting for hello');
      return;
    }
    connections.add(conn);
    const queryToken = url.searchParams.get('token');
    if (queryToken !== null && options.token !== undefined) {
      if (!tokenMatches(queryToken)) {
        sendError(conn, 'UNAUTHORIZED', 'the token in ?token= is wrong', true, CLOSE_CODES.unauthorized);
        return;
      }
      conn.authorized = true;
    }
    resetIdle(conn);
    ws.on('message', (data, isBinary) => {
      try {
        onMessage(conn, data, isBinary);
      } catch (error) {
        log(`internal error on connection ${conn.id}: ${(error as Error).stack ?? String(error)}`);
        sendError(conn, 'INTERNAL', `the server failed to handle that message: ${(error as Error).message}`, true, CLOSE_CODES.internal);
      }
    });
  }

  function resetIdle(conn: Connection): void {
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    if (conn.state === 'listen' || conn.state === 'closed') return;
    conn.idleTimer = setTimeout(() => {
      sendError(conn, 'IDLE_TIMEOUT', `no message for ${idleTimeoutMs / 1000} s; closing`, true, CLOSE_CODES.idleTimeout);
    }, idleTimeoutMs);
    conn.idleTimer.unref();
  }

  /** Token bucket: maxMessagesPerSecond sustained, the same as burst. */
  function takeRateToken(conn: Connection): boolean {
    const now = performance.now();
    conn.tokens = Math.min(maxMessagesPerSecond, conn.tokens + ((now - conn.tokensUpdatedMs) / 1000) * maxMessagesPerSecond);
    conn.tokensUpdatedMs = now;
    if (conn.tokens < 1) return false;
    conn.tokens -= 1;
    return true;
  }

  function dataBytes(data: RawData): Buffer {
    if (Buffer.isBuffer(data)) return data;
    if (Array.isArray(data)) return Buffer.concat(data);
    return Buffer.from(data);
  }

  function onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    if (conn.state === 'closed') return;
    resetIdle(conn);
    if (!takeRateToken(conn)) {
      const now = performance.now();
      if (now - conn.lastRateLimitNoticeMs > 1000) {
        conn.lastRateLimitNoticeMs = now;
        sendError(conn, 'RATE_LIMITED', `more than ${maxMessagesPerSecond} messages per second; messages are being dropped`, false);
      }
      if (conn.session) conn.session.counters.framesRejected++;
      return;
    }
    const bytes = dataBytes(data);
    if (isBinary) {
      if (bytes.byteLength > maxFrameBytes) {
        if (conn.session) conn.session.counters.framesRejected++;
        sendError(conn, 'FRAME_TOO_LARGE', `binary frames may be at most ${maxFrameBytes} bytes, got ${bytes.byteLength}; split the audio into smaller frames`, false);
        return;
      }
      if (conn.state !== 'convert' || !conn.session) {
        const why = conn.state === 'listen' ? 'listeners do not send audio' : 'send a hello message first';
        sendError(conn, 'NOT_READY', `binary audio arrived before the session was ready (${why})`, false);
        return;
      }
      const problem = conn.session.acceptFrame(bytes);
      if (problem) sendError(conn, 'BAD_FRAME', problem, false);
      return;
    }
    const parsed = parseClientMessage(bytes.toString('utf8'), { defaultBlockMs });
    if (!parsed.ok) {
      sendError(conn, parsed.code, parsed.message, false);
      return;
    }
    const message = parsed.message;
    if (message.type === 'hello') {
      if (conn.state !== 'pending') {
        sendError(conn, 'BAD_MESSAGE', 'hello was already received on this connection', false);
        return;
      }
      onHello(conn, message);
      return;
    }
    if (conn.state === 'pending') {
      sendError(conn, 'NOT_READY', `"${message.type}" arrived before hello; the first message must be {"type":"hello","version":1,...}`, false);
      return;
    }
    onControl(conn, message);
  }

  function onHello(conn: Connection, hello: HelloMessage): void {
    if (!conn.authorized) {
      if (!tokenMatches(hello.token)) {
        sendError(conn, 'UNAUTHORIZED', hello.token === undefined ? 'this server needs a token (?token= in the URL or "token" in hello)' : 'the token is wrong', true, CLOSE_CODES.unauthorized);
        return;
      }
      conn.authorized = true;
    }
    if (sessions.size + listenerCount() >= maxSessions) {
      sendError(conn, 'TOO_MANY_SESSIONS', `the server already has ${maxSessions} sessions; try again later`, true, CLOSE_CODES.tooManySessions);
      return;
    }
    const format: StreamFormat = { sampleRate: hello.sampleRate, format: hello.format, channels: hello.channels };
    if (hello.role === 'listen') {
      startListener(conn, hello, format);
      return;
    }
    const id = randomBytes(8).toString('hex');
    let session: ConvertSession;
    try {
      session = new ConvertSession({
        id,
        ...format,
        blockMs: hello.blockMs,
        voice: hello.voice,
        stageFactory: stageFactory!,
        modelName,
        policy,
        maxQueueMs: options.maxQueueMs,
        crossfadeMs: options.crossfadeMs,
        searchMs: options.searchMs,
        extraContextMs: options.extraContextMs,
      });
    } catch (error) {
      log(`could not start a session: ${(error as Error).stack ?? String(error)}`);
      sendError(conn, 'INTERNAL', `could not start the converter: ${(error as Error).message}`, true, CLOSE_CODES.internal);
      return;
    }
    conn.state = 'convert';
    conn.session = session;
    sessions.set(id, session);
    listenersBySession.set(id, new Set());
    const encoder = session.createEncoder(format);
    conn.encoder = encoder;
    const subscription = session.stageOutput$.subscribe((block) => deliver(conn, session, block));
    const errorSubscription = session.errors$.subscribe((error) => {
      log(`stage error in session ${id}: ${(error as Error).message ?? String(error)}`);
      sendError(conn, 'INTERNAL', `the converter failed on a block (passed through unconverted): ${(error as Error).message ?? String(error)}`, false);
    });
    conn.unsubscribe = () => {
      subscription.unsubscribe();
      errorSubscription.unsubscribe();
    };
    send(conn, readyMessage(session, 'convert', format, encoder));
    log(`session ${id} started (${format.sampleRate} Hz ${format.format} ×${format.channels}, block ${hello.blockMs} ms)`);
  }

  /** The `ready` answer to a hello: the negotiated format and the session's voice, model and latency. */
  function readyMessage(session: ConvertSession, role: ReadyMessage['role'], format: StreamFormat, encoder: OutputEncoder): ReadyMessage {
    return {
      type: 'ready',
      sessionId: session.id,
      role,
      ...format,
      blockSamples: Math.round((session.blockMs * format.sampleRate) / 1000),
      voice: { ...session.voice },
      model: session.modelName,
      controls: session.controls(),
      latency: session.latency(encoder),
      limits: limits(session),
    };
  }

  function limits(session?: ConvertSession): ReadyMessage['limits'] {
    const maxQueueMs = session ? Math.round((session.pipeline.maxQueueSamples * 1000) / session.stage.sampleRate) : (options.maxQueueMs ?? 200);
    return { maxFrameBytes, maxMessagesPerSecond, maxQueueMs, idleTimeoutS: idleTimeoutMs / 1000 };
  }

  function listenerCount(): number {
    let n = 0;
    for (const set of listenersBySession.values()) n += set.size;
    return n;
  }

  function startListener(conn: Connection, hello: HelloMessage, format: StreamFormat): void {
    const session = hello.listen === undefined ? undefined : sessions.get(hello.listen);
    if (!session) {
      const what = hello.listen === undefined ? 'a listener must name a session in "listen"' : `no session ${JSON.stringify(hello.listen)} is running`;
      sendError(conn, 'UNKNOWN_SESSION', what, true, CLOSE_CODES.unknownSession);
      return;
    }
    conn.state = 'listen';
    conn.following = session;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    const encoder = session.createEncoder(format);
    conn.encoder = encoder;
    listenersBySession.get(session.id)?.add(conn);
    const subscription = session.stageOutput$.subscribe((block) => deliver(conn, session, block));
    conn.unsubscribe = () => subscription.unsubscribe();
    send(conn, readyMessage(session, 'listen', format, encoder));
  }

  /** Sends converted audio to one sink, dropping it (counted) when the client does not keep up. */
  function deliver(conn: Connection, session: ConvertSession, block: Float32Array): void {
    if (conn.state === 'closed' || !conn.encoder || conn.ws.readyState !== WebSocket.OPEN) return;
    try {
      const encoded = conn.encoder.process(block);
      if (!encoded) return;
      if (conn.ws.bufferedAmount > maxSendBufferBytes) {
        session.counters.outputFramesDropped++;
        return;
      }
      conn.ws.send(encoded.frame);
    } catch (error) {
      // Never let one sink's failure escape into the pipeline (rxjs would rethrow it asynchronously).
      log(`output failed on connection ${conn.id}: ${(error as Error).stack ?? String(error)}`);
      sendError(conn, 'INTERNAL', `the server failed to send converted audio: ${(error as Error).message}`, true, CLOSE_CODES.internal);
    }
  }

  function onControl(conn: Connection, message: ControlMessage): void {
    const session = conn.session ?? conn.following;
    switch (message.type) {
      case 'ping':
        send(conn, { type: 'pong', t: message.t });
        return;
      case 'stats':
        if (session) send(conn, session.stats(policy, listenersBySession.get(session.id)?.size ?? 0, session.latency(conn.encoder)));
        return;
      case 'set':
        if (!conn.session) {
          sendError(conn, 'BAD_MESSAGE', 'listeners cannot change the voice', false);
          return;
        }
        send(conn, { type: 'voice', voice: conn.session.setVoice(message.voice) });
        return;
      case 'model':
        if (!conn.session) {
          sendError(conn, 'BAD_MESSAGE', 'listeners cannot change the model', false);
          return;
        }
        if (message.name === conn.session.modelName) {
          send(conn, modelSwitched(conn, conn.session));
          return;
        }
        if (!options.resolveModel) {
          sendError(conn, 'MODEL_NOT_FOUND', `no model named ${JSON.stringify(message.name)}; available: ${JSON.stringify(modelName)}`, false);
          return;
        }
        switchModel(conn, conn.session, message.name, options.resolveModel);
        return;
    }
  }

  /** Loads a model and swaps the session's stage; on failure the session keeps its voice (non-fatal error). */
  function switchModel(conn: Connection, session: ConvertSession, name: string, resolveModel: (name: string) => Promise<StageFactory>): void {
    resolveModel(name)
      .then(async (factory) => {
        if (conn.state !== 'convert' || conn.session !== session) return;
        if (await session.replaceStage(factory, name)) {
          // The stage rate changed: every sink re-encodes from the new rate.
          for (const sink of [conn, ...(listenersBySession.get(session.id) ?? [])]) {
            if (!sink.encoder) continue;
            const target = sink.encoder.target;
            sink.encoder.dispose();
            sink.encoder = session.createEncoder(target);
          }
        }
        log(`session ${session.id} now uses model ${name}`);
        // The confirmation carries the new latency (the model's look-ahead changes the signal delay);
        // listeners get theirs too, and the converting client a fresh stats message.
        for (const sink of [conn, ...(listenersBySession.get(session.id) ?? [])]) send(sink, modelSwitched(sink, session));
        send(conn, session.stats(policy, listenersBySession.get(session.id)?.size ?? 0, session.latency(conn.encoder)));
      })
      .catch((error: unknown) => {
        // One protocol code for "that model cannot be used"; the message names the cause (missing, invalid, ...).
        const cause = (error as { code?: string }).code ?? 'INTERNAL';
        log(`session ${session.id}: model ${JSON.stringify(name)} failed: ${(error as Error).message ?? String(error)}`);
        sendError(conn, 'MODEL_NOT_FOUND', `cannot switch to model ${JSON.stringify(name)} (${cause}): ${errorText(error)}; keeping ${JSON.stringify(session.modelName)}`, false);
      });
  }

  function modelSwitched(sink: Connection, session: ConvertSession): ModelSwitchedMessage {
    return { type: 'model', name: session.modelName, controls: session.controls(), latency: session.latency(sink.encoder) };
  }

  function errorText(error: unknown): string {
    const e = error as { message?: string; hint?: string };
    return e.hint ? `${e.message} (${e.hint})` : (e.message ?? String(error));
  }

  function pushStats(): void {
    for (const conn of connections) {
      if (conn.state !== 'convert' || !conn.session) continue;
      const session = conn.session;
      try {
        send(conn, session.stats(policy, listenersBySession.get(session.id)?.size ?? 0, session.latency(conn.encoder)));
      } catch (error) {
        log(`stats for session ${session.id} failed: ${(error as Error).message}`);
      }
    }
  }

  function heartbeat(): void {
    for (const conn of connections) {
      if (!conn.alive) {
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      if (conn.ws.readyState === WebSocket.OPEN) conn.ws.ping();
    }
  }

  function closeConnection(conn: Connection, code: number, reason: string): void {
    if (conn.ws.readyState === WebSocket.OPEN || conn.ws.readyState === WebSocket.CONNECTING) conn.ws.close(code, reason.slice(0, 120));
    cleanup(conn);
    // A client that ignores the close handshake is cut off after a grace period.
    setTimeout(() => conn.ws.terminate(), 2000).unref();
  }

  function cleanup(conn: Connection): void {
    if (conn.state === 'closed') return;
    const wasState = conn.state;
    conn.state = 'closed';
    connections.delete(conn);
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.unsubscribe?.();
    conn.encoder?.dispose();
    conn.encoder = undefined;
    if (wasState === 'listen' && conn.following) listenersBySession.get(conn.following.id)?.delete(conn);
    const session = conn.session;
    if (session) {
      sessions.delete(session.id);
      const listeners = listenersBySession.get(session.id);
      listenersBySession.delete(session.id);
      for (const listener of listeners ?? []) sendError(listener, 'UNKNOWN_SESSION', `session ${session.id} ended`, true, CLOSE_CODES.unknownSession);
      session.dispose();
      log(`session ${session.id} ended`);
    }
  }

  // ---------- Metrics ----------

  function sessionCounts(): { convert: number; listen: number; pending: number } {
    return { convert: sessions.size, listen: listenerCount(), pending: pendingCount() };
  }

  function metrics(): string {
    const w = new MetricsWriter();
    const counts = sessionCounts();
    w.add('svc_sessions', 'gauge', 'Open sessions by role.', counts.convert, { role: 'convert' });
    w.add('svc_sessions', 'gauge', 'Open sessions by role.', counts.listen, { role: 'listen' });
    w.add('svc_pending_connections', 'gauge', 'WebSocket connections that have not sent hello yet.', counts.pending);
    w.add('svc_max_sessions', 'gauge', 'Configured session limit.', maxSessions);
    w.add('svc_connections_total', 'counter', 'WebSocket connections accepted since start.', counters.connectionsTotal);
    w.declare('svc_upgrades_rejected_total', 'counter', 'WebSocket upgrades refused, by reason.');
    for (const [reason, n] of counters.upgradesRejected) w.add('svc_upgrades_rejected_total', 'counter', 'WebSocket upgrades refused, by reason.', n, { reason });
    w.declare('svc_errors_total', 'counter', 'Error messages sent to clients, by code.');
    for (const [code, n] of counters.errors) w.add('svc_errors_total', 'counter', 'Error messages sent to clients, by code.', n, { code });
    const help = {
      input: 'Client audio received by the session, in seconds.',
      output: 'Converted audio produced by the session, in seconds.',
      algorithmic: 'Algorithmic latency of the session (block + lookahead + crossfade + resampler delays), in seconds.',
      compute: 'Compute time per block over the recent blocks, by statistic, in seconds.',
      computeTotal: 'Total compute time spent converting this session, in seconds.',
      block: 'Block length of the session, in seconds.',
      queue: 'Input queued for conversion now, in seconds.',
      dropped: 'Blocks handled by the behind-real-time policy, by policy action.',
      overflow: 'Input discarded because the queue was full, in seconds.',
      rejected: 'Client frames rejected (malformed, too large, rate-limited).',
      outDropped: 'Output frames dropped because the client did not read them in time.',
      underruns: 'Times the client input stopped for more than two blocks mid-stream.',
      listeners: 'Listeners following the session.',
      model: 'The voice converting the session right now (label model; value 1).',
    };
    for (const family of ['svc_session_input_seconds_total', 'svc_session_output_seconds_total', 'svc_session_dropped_blocks_total']) w.declare(family, 'counter', family);
    for (const session of sessions.values()) {
      const labels = { session: session.id };
      const s = session.stats(policy, listenersBySession.get(session.id)?.size ?? 0);
      const p = session.pipeline.stats();
      w.add('svc_session_model_info', 'gauge', help.model, 1, { ...labels, model: session.modelName });
      w.add('svc_session_input_seconds_total', 'counter', help.input, s.inputMs / 1000, labels);
      w.add('svc_session_output_seconds_total', 'counter', help.output, s.outputMs / 1000, labels);
      w.add('svc_session_algorithmic_latency_seconds', 'gauge', help.algorithmic, s.latency.algorithmicMs / 1000, labels);
      w.add('svc_session_block_seconds', 'gauge', help.block, s.latency.blockMs / 1000, labels);
      w.add('svc_session_compute_seconds', 'gauge', help.compute, s.latency.computeMsMean / 1000, { ...labels, stat: 'mean' });
      w.add('svc_session_compute_seconds', 'gauge', help.compute, s.latency.computeMsP95 / 1000, { ...labels, stat: 'p95' });
      w.add('svc_session_compute_seconds', 'gauge', help.compute, s.latency.computeMsMax / 1000, { ...labels, stat: 'max' });
      w.add('svc_session_compute_seconds_total', 'counter', help.computeTotal, p.totalComputeMs / 1000, labels);
      w.add('svc_session_queue_seconds', 'gauge', help.queue, s.queueMs / 1000, labels);
      w.add('svc_session_dropped_blocks_total', 'counter', help.dropped, s.dropped.skippedBlocks, { ...labels, action: 'skip' });
      w.add('svc_session_dropped_blocks_total', 'counter', help.dropped, s.dropped.dryBlocks, { ...labels, action: 'dry' });
      w.add('svc_session_dropped_blocks_total', 'counter', help.dropped, s.dropped.silencedBlocks, { ...labels, action: 'silence' });
      w.add('svc_session_overflow_seconds_total', 'counter', help.overflow, s.dropped.overflowMs / 1000, labels);
      w.add('svc_session_rejected_frames_total', 'counter', help.rejected, s.dropped.framesRejected, labels);
      w.add('svc_session_output_frames_dropped_total', 'counter', help.outDropped, s.dropped.outputFramesDropped, labels);
      w.add('svc_session_underruns_total', 'counter', help.underruns, s.underruns, labels);
      w.add('svc_session_listeners', 'gauge', help.listeners, s.listeners, labels);
    }
    processMetrics.write(w);
    return w.toString();
  }

  // ---------- Lifecycle ----------

  const server: SvcServer = {
    get url() {
      return `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    async listen() {
      await ConvertSession.ready();
      stageFactory ??= await loadBuiltinStageFactory();
      await new Promise<void>((resolvePromise, reject) => {
        const onError = (error: Error) => reject(error);
        http.once('error', onError);
        http.listen(requestedPort, host, () => {
          http.off('error', onError);
          resolvePromise();
        });
      });
      boundPort = (http.address() as AddressInfo).port;
      return { url: server.url, port: boundPort };
    },
    async close() {
      if (closing) return;
      closing = true;
      clearInterval(statsTimer);
      clearInterval(heartbeatTimer);
      for (const conn of [...connections]) {
        if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(CLOSE_CODES.goingAway, 'server shutting down');
        cleanup(conn);
      }
      for (const client of wss.clients) client.terminate();
      wss.close();
      processMetrics.dispose();
      await new Promise<void>((resolvePromise) => {
        http.close(() => resolvePromise());
        http.closeAllConnections();
      });
    },
    metrics,
    sessionCounts,
  };
  return server;
}

/** Frames above this are cut off by ws itself (close 1009): 4 × maxFrameBytes, at least 64 KiB. */
export function hardMaxPayloadBytes(maxFrameBytes: number): number {
  return Math.max(4 * maxFrameBytes, 65536);
}

/** createServer + listen. */
export async function startServer(options: ServerOptions = {}): Promise<SvcServer> {
  const server = createServer(options);
  await server.listen();
  return server;
}

let builtinFactory: StageFactory | undefined;

/** Loads the built-in voice stage factory (kept out of module load so a broken voice cannot stop the server module). */
export async function loadBuiltinStageFactory(): Promise<StageFactory> {
  builtinFactory ??= (await import('../voices/dsp/stage.js')).createDspStageFactory();
  return builtinFactory;
}
