// The svc HTTP + WebSocket server: protocol v1 on ws://HOST:PORT/ws (docs/protocol.md) and the HTTP
// endpoints of http.ts on the same port. This module composes the parts — access policy, HTTP handler,
// the upgrade guard (Host, path, Origin, pending-connection gate), one Connection per client, the
// session table, metrics — and owns the lifecycle (listen, heartbeat, stats pushes, close).
import type { IncomingMessage } from 'node:http';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import { webClientDir } from '../paths.js';
import { PROTOCOL_VERSION } from '../stream/protocol.js';
import { ConvertSession } from '../stream/session.js';
import type { StageFactory } from '../voices/stage.js';
import { AccessPolicy } from './access.js';
import { Connection, type ConnectionHost } from './connection.js';
import { createHttpHandler } from './http.js';
import { PendingGate } from './limits.js';
import { ModelBlocks, ModelGate } from './models.js';
import { ServerMetrics } from './metrics.js';
import { HARD_MAX_TEXT_BYTES, HEARTBEAT_INTERVAL_MS, hardMaxPayloadBytes, resolveServerOptions, type ServerOptions } from './options.js';
import { SessionTable } from './sessions.js';
import { DspWorkerPool } from '../voices/dsp/pool.js';

export { hardMaxPayloadBytes, type ServerOptions } from './options.js';

export interface SvcServer {
  /** http://HOST:PORT once listening. */
  readonly url: string;
  readonly port: number;
  /** Starts listening; resolves with the bound address. */
  listen(): Promise<{ url: string; port: number }>;
  /** Closes every connection (1001 going away) and the listening socket. */
  close(): Promise<void>;
  /** Current Prometheus text (same as GET /metrics). */
  metrics(): Promise<string>;
  /** Sessions by role right now. */
  sessionCounts(): { convert: number; listen: number; pending: number };
}

export function createServer(options: ServerOptions = {}): SvcServer {
  const config = resolveServerOptions(options);
  const log = options.log ?? (() => {});
  const access = new AccessPolicy({ token: config.token, allowHosts: config.allowHosts, allowOrigins: config.allowOrigins, trustProxy: config.trustProxy });
  const table = new SessionTable<Connection>(config.maxSessions, config.maxListenersPerSession);
  const pending = new PendingGate<Connection>(config.maxPendingPerAddress, config.maxPending);
  const connections = new Set<Connection>();
  const sessionCounts = () => ({ convert: table.converting, listen: table.listeners, pending: pending.size });
  const metrics = new ServerMetrics({ sessions: () => table.all(), counts: sessionCounts, maxSessions: config.maxSessions, policy: config.policy });
  let stageFactory = options.stageFactory;
  /** The built-in voice on worker threads (started with the server when it is the default voice). */
  let dspPool: DspWorkerPool | null = null;
  const builtinStageFactory = async (): Promise<StageFactory> => dspPool?.stageFactory() ?? loadBuiltinStageFactory();
  const models = options.resolveModel ? new ModelGate(options.resolveModel, options.modelFingerprint) : undefined;
  const blocks = new ModelBlocks({ blockMs: config.blockMs, fixed: config.blockMsFixed, log });
  /** The block of the default voice for clients that choose none (a model's is measured in listen()). */
  let defaultBlockMs = config.blockMs;
  let nextConnectionId = 1;
  let boundPort = 0;
  let closing = false;

  const host: ConnectionHost = {
    config,
    access,
    metrics,
    table,
    pending,
    stageFactory: () => stageFactory!,
    defaultBlockMs: () => defaultBlockMs,
    blockMsFor: (name, factory) => blocks.blockMsFor(name, factory),
    builtinStageFactory,
    resolveModel: models ? (name) => models.resolve(name) : undefined,
    log,
    closed: (conn) => connections.delete(conn),
  };

  const http: HttpServer = createHttpServer(
    createHttpHandler({
      access,
      metrics,
      webRoot: resolve(options.webRoot ?? webClientDir),
      modelName: config.modelName,
      listModels: options.listModels,
      blockMsOf: (name) => blocks.knownBlockMs(name),
      health: () => ({ ok: true, sessions: sessionCounts(), model: config.modelName, protocol: PROTOCOL_VERSION }),
      log,
    }),
  );
  // maxPayload is the hard cap ws enforces by closing (1009) as soon as a frame header announces more;
  // binary frames between maxFrameBytes and it get FRAME_TOO_LARGE and are dropped, so a client learns
  // the limit without losing its session. Text frames get a lower cap (capTextFrames).
  const wss = new WebSocketServer({ noServer: true, maxPayload: hardMaxPayloadBytes(config.maxFrameBytes), perMessageDeflate: false });
  http.on('upgrade', (req, socket, head) => handleUpgrade(req, socket, head));
  http.on('clientError', (_error, socket) => socket.destroy());

  const statsTimer = setInterval(() => {
    for (const conn of connections) conn.pushStats();
  }, config.statsIntervalMs);
  statsTimer.unref();
  const heartbeatTimer = setInterval(() => {
    for (const conn of connections) conn.heartbeat();
  }, HEARTBEAT_INTERVAL_MS);
  heartbeatTimer.unref();

  function rejectUpgrade(socket: Duplex, status: number, reason: string, text: string): void {
    metrics.upgradeRejected(reason);
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length + 1}\r\n\r\n${text}\n`);
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (closing) return rejectUpgrade(socket, 503, 'closing', 'Service Unavailable');
    if (!access.hostAllowed(req)) {
      log(`rejected WebSocket for Host ${req.headers.host}`);
      return rejectUpgrade(socket, 421, 'host', 'Misdirected Request');
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/ws') return rejectUpgrade(socket, 404, 'path', 'Not Found');
    if (!access.originAllowed(req)) {
      log(`rejected WebSocket from origin ${req.headers.origin}`);
      return rejectUpgrade(socket, 403, 'origin', 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, url, access.clientAddress(req)));
  }

  function onConnection(ws: WebSocket, url: URL, address: string): void {
    metrics.connectionAccepted();
    capTextFrames(ws, HARD_MAX_TEXT_BYTES);
    const conn = new Connection(nextConnectionId++, ws, address, host);
    connections.add(conn);
    const displaced = pending.admit(address, conn);
    if (displaced) {
      // The oldest connection still without a hello makes room (a real client says hello at once).
      metrics.upgradeRejected(displaced.reason === 'address' ? 'pending_address' : 'pending');
      displaced.evicted.fail('IDLE_TIMEOUT', 'closed without a hello to make room for a new connection', CLOSE_TRY_AGAIN);
    }
    conn.start(url.searchParams.get('token'));
  }

  const server: SvcServer = {
    get url() {
      return `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${boundPort}`;
    },
    get port() {
      return boundPort;
    },
    async listen() {
      await ConvertSession.ready();
      if (!stageFactory && config.dspWorkers > 0) {
        dspPool = new DspWorkerPool(config.dspWorkers);
        await dspPool.ready();
      }
      if (stageFactory && config.modelName !== 'builtin') defaultBlockMs = await blocks.blockMsFor(config.modelName, stageFactory);
      stageFactory ??= await builtinStageFactory();
      await new Promise<void>((resolvePromise, reject) => {
        const onError = (error: Error) => reject(error);
        http.once('error', onError);
        http.listen(config.port, config.host, () => {
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
        if (conn.ws.readyState === WebSocket.OPEN) conn.ws.close(1001, 'server shutting down');
        conn.cleanup();
      }
      for (const client of wss.clients) client.terminate();
      wss.close();
      await new Promise<void>((resolvePromise) => {
        http.close(() => resolvePromise());
        http.closeAllConnections();
      });
      await dspPool?.close();
      metrics.dispose();
    },
    metrics: () => metrics.text(),
    sessionCounts,
  };
  return server;
}

/** Close code for a connection displaced from the pending set: 1013 "try again later". */
const CLOSE_TRY_AGAIN = 1013;

/**
 * Caps text frames at `maxTextBytes` when their header arrives, before their payload is read: ws has one
 * maxPayload for both kinds, and binary audio frames need far more than JSON control messages. Uses ws 8's
 * receiver (its haveLength step sees the frame's opcode and announced length); if that ever changes the
 * hook is skipped and text frames are still rejected after reading, by the protocol's size check.
 */
function capTextFrames(ws: WebSocket, maxTextBytes: number): void {
  type ReceiverInternals = { _opcode: number; _fragmented: number; _maxPayload: number; haveLength?: (cb: unknown) => unknown };
  const receiver = (ws as unknown as { _receiver?: ReceiverInternals })._receiver;
  const original = receiver?.haveLength;
  if (!receiver || typeof original !== 'function' || typeof receiver._maxPayload !== 'number') return;
  const binaryMax = receiver._maxPayload;
  receiver.haveLength = function (this: ReceiverInternals, cb: unknown) {
    const text = this._opcode === 1 || (this._opcode === 0 && this._fragmented === 1);
    this._maxPayload = text ? maxTextBytes : binaryMax;
    return original.call(this, cb);
  };
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
