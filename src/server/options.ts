// The server's options: one typed definition with explicit defaults and limits, validated once when the
// server is created (resolveServerOptions). Everything after that reads the resolved ServerConfig.
import { SvcError } from '../errors.js';
import { DEFAULT_BEHIND_POLICY, type BehindPolicy } from '../engine/pipeline.js';
import { PROTOCOL_LIMITS, type ModelListEntry } from '../stream/protocol.js';
import type { StageFactory } from '../voices/stage.js';
import { isLoopbackHost, TrustedProxies } from './access.js';

export interface ServerOptions {
  /** Interface to bind. Default 127.0.0.1 (this machine only); any other needs a token. */
  host?: string;
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Shared secret clients must present (query ?token=, hello.token, or Bearer for HTTP). Default: none. */
  token?: string;
  /** Host names (Host header, without port) served besides loopback names when there is no token. */
  allowHosts?: string[];
  /** Browser origins allowed besides the server's own ("*" allows every origin). */
  allowOrigins?: string[];
  /**
   * Reverse proxies whose X-Forwarded-For names the client (CIDR blocks, addresses or "loopback"), so
   * per-address budgets count clients, not the proxy. Default: none (the socket's address counts).
   */
  trustProxy?: string[];
  /**
   * Block length for clients whose hello has no blockMs, in ms (10–500), for every voice. Default: 20 ms
   * for the built-in voice and, for a model, the smallest block it converts in time on this machine,
   * measured when it loads (models.ts ModelBlocks).
   */
  blockMs?: number;
  /** Most concurrent sessions (convert + listen). Default 64. */
  maxSessions?: number;
  /** Most listeners following one session. Default 8. */
  maxListenersPerSession?: number;
  /** Close a connection after this many seconds without a message from it (listeners excepted). Default 30. */
  idleTimeoutS?: number;
  /** A connection must send its hello within this many seconds of opening. Default 10. */
  helloTimeoutS?: number;
  /** Connections waiting for their hello per remote address / in total (oldest evicted beyond). Defaults 8 / 256. */
  maxPendingPerAddress?: number;
  maxPending?: number;
  /** Behind-real-time policy. Default 'silence' (never the unconverted voice). */
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
  /**
   * Audio a session may send, as a multiple of real time, after a burst of audioBurstS. Defaults 1.5 and
   * 10 s: the burst absorbs a real-time client's frames that arrive in a bunch after a stall (of the
   * network or of this server), while a flood is held to 10 s + 1.5 × its duration.
   */
  maxAudioSpeed?: number;
  audioBurstS?: number;
  /** Interval of pushed `stats` messages, in ms. Default 1000. */
  statsIntervalMs?: number;
  /** Output not yet written to a slow client beyond which frames are dropped, in bytes. Default 1 MiB. */
  maxSendBufferBytes?: number;
  /**
   * Worker threads that run the built-in DSP voice of every session (the main thread keeps the sockets,
   * resampling and encoding). 0 (the default) runs it on the main thread. Each block then makes a round
   * trip to its thread, so use it on a machine with cores to spare (scale-up, see bench/server.bench.ts);
   * on an overloaded machine the round trips themselves make sessions late. Unused when stageFactory is given.
   */
  dspWorkers?: number;
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
   * State on disk of what a model name's load depends on; a failed load is answered from cache while it
   * stays the same. Default: the installed bundle's files (voices/registry.ts bundleFingerprint).
   */
  modelFingerprint?: (name: string) => string;
  /** The installed models for GET /api/models (read on every request). The built-in voice is always first. */
  listModels?: () => ModelListEntry[];
  /** Folder served over HTTP. Default clients/web. */
  webRoot?: string;
  /** One-line log sink (connects, closes, errors). Default: silent. */
  log?: (line: string) => void;
}

/** Model switches a client may make at once, and per second after that. */
export const MODEL_SWITCH_BURST = 8;
export const MODEL_SWITCHES_PER_SECOND = 0.5;
/** Largest text (JSON) frame ws reads at all; frames between maxTextBytes and this get FRAME_TOO_LARGE. */
export const HARD_MAX_TEXT_BYTES = 4 * PROTOCOL_LIMITS.maxTextBytes;
export const HEARTBEAT_INTERVAL_MS = 15_000;

export interface ServerConfig {
  host: string;
  port: number;
  token: string | undefined;
  allowHosts: string[];
  allowOrigins: string[];
  trustProxy: string[];
  /** Block for clients that choose none: the operator's for every voice, else 20 ms for the built-in voice. */
  blockMs: number;
  /** True when the operator set blockMs: model voices then use it too instead of their measured block. */
  blockMsFixed: boolean;
  maxSessions: number;
  maxListenersPerSession: number;
  idleTimeoutMs: number;
  helloTimeoutMs: number;
  maxPendingPerAddress: number;
  maxPending: number;
  policy: BehindPolicy;
  maxQueueMs: number | undefined;
  crossfadeMs: number | undefined;
  searchMs: number | undefined;
  extraContextMs: number | undefined;
  maxFrameBytes: number;
  maxMessagesPerSecond: number;
  maxAudioSpeed: number;
  audioBurstS: number;
  statsIntervalMs: number;
  maxSendBufferBytes: number;
  modelName: string;
  dspWorkers: number;
}

function check(name: string, value: number, min: number, max: number, integer = false): number {
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new SvcError('INVALID_ARGUMENT', `${name} must be ${integer ? 'an integer ' : ''}from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function resolveServerOptions(o: ServerOptions): ServerConfig {
  const host = o.host ?? '127.0.0.1';
  if (o.token !== undefined && o.token.length === 0) throw new SvcError('INVALID_ARGUMENT', 'the token is empty', { hint: 'give a non-empty secret or leave --token out' });
  if (o.token === undefined && !isLoopbackHost(host)) {
    throw new SvcError('INVALID_ARGUMENT', `without a token the server listens on loopback addresses only, not ${host}`, {
      hint: 'set --token SECRET (or SVC_TOKEN) to serve other machines, or keep --host 127.0.0.1',
    });
  }
  const maxPendingPerAddress = check('maxPendingPerAddress', o.maxPendingPerAddress ?? 8, 1, 10000, true);
  return {
    host,
    port: check('port', o.port ?? 8080, 0, 65535, true),
    token: o.token,
    allowHosts: o.allowHosts ?? [],
    allowOrigins: o.allowOrigins ?? [],
    trustProxy: TrustedProxies.parse(o.trustProxy ?? []).specs.slice(),
    blockMs: check('blockMs', o.blockMs ?? 20, PROTOCOL_LIMITS.blockMs.min, PROTOCOL_LIMITS.blockMs.max),
    blockMsFixed: o.blockMs !== undefined,
    maxSessions: check('maxSessions', o.maxSessions ?? 64, 1, 100000, true),
    maxListenersPerSession: check('maxListenersPerSession', o.maxListenersPerSession ?? 8, 0, 10000, true),
    idleTimeoutMs: check('idleTimeoutS', o.idleTimeoutS ?? 30, 0.01, 86400) * 1000,
    helloTimeoutMs: check('helloTimeoutS', o.helloTimeoutS ?? 10, 0.01, 3600) * 1000,
    maxPendingPerAddress,
    maxPending: check('maxPending', o.maxPending ?? 256, maxPendingPerAddress, 100000, true),
    policy: o.policy ?? DEFAULT_BEHIND_POLICY,
    maxQueueMs: o.maxQueueMs,
    crossfadeMs: o.crossfadeMs,
    searchMs: o.searchMs,
    extraContextMs: o.extraContextMs,
    maxFrameBytes: check('maxFrameBytes', o.maxFrameBytes ?? 262_144, 1024, 64 * 1024 * 1024, true),
    maxMessagesPerSecond: check('maxMessagesPerSecond', o.maxMessagesPerSecond ?? 1000, 1, 1e6),
    maxAudioSpeed: check('maxAudioSpeed', o.maxAudioSpeed ?? 1.5, 1, 1000),
    audioBurstS: check('audioBurstS', o.audioBurstS ?? 10, 0.1, 600),
    statsIntervalMs: check('statsIntervalMs', o.statsIntervalMs ?? 1000, 10, 3_600_000),
    maxSendBufferBytes: check('maxSendBufferBytes', o.maxSendBufferBytes ?? 1 << 20, 1024, 1 << 30, true),
    modelName: o.modelName ?? 'builtin',
    dspWorkers: check('dspWorkers', o.dspWorkers ?? 0, 0, 256, true),
  };
}

/** Frames above this are cut off by ws itself (close 1009): 4 × maxFrameBytes, at least 64 KiB. */
export function hardMaxPayloadBytes(maxFrameBytes: number): number {
  return Math.max(4 * maxFrameBytes, 65536);
}
