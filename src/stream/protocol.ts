// WebSocket protocol v1 (docs/protocol.md): the one typed definition of every client message, with its
// defaults and limits, and of the messages the server sends. Client text is validated here, once; the
// rest of the server only sees typed messages.
import { SUPPORTED_SAMPLE_RATES } from '../audio/types.js';
import { DEFAULT_VOICE, VOICE_LIMITS, type VoiceControl } from '../voices/stage.js';
import { number, object, opaque, optional, SchemaError, string, type Infer } from './schema.js';
import { errorMessage } from '../errors.js';
import { TTS_RATE_WPM } from '../tts/espeak.js';

export const PROTOCOL_VERSION = 1;

export const PROTOCOL_LIMITS = {
  sampleRates: SUPPORTED_SAMPLE_RATES,
  blockMs: { min: 10, max: 500 },
  pitch: VOICE_LIMITS.pitch,
  formant: VOICE_LIMITS.formant,
  /** Largest JSON text message, in bytes. */
  maxTextBytes: 4096,
  tokenMaxLength: 256,
  sessionIdMaxLength: 64,
  modelNameMaxLength: 128,
  /** Live `say` (docs/protocol.md, *Speaking typed text*). */
  say: {
    /** Characters per say message (≈ 1 minute of speech at the default rate). */
    maxCharacters: 1000,
    rateWpm: TTS_RATE_WPM,
    /** Say messages per minute per session (token bucket), and the burst allowed at once. */
    perMinute: 20,
    burst: 5,
    /** Says a session holds at once: the one speaking and those waiting; more are refused (SAY_BUSY). */
    maxQueued: 4,
    ttsVoiceMaxLength: 40,
  },
} as const;

export const SAMPLE_FORMATS = ['f32', 's16'] as const;
export type SampleFormat = (typeof SAMPLE_FORMATS)[number];
export const ROLES = ['convert', 'listen'] as const;
export type Role = (typeof ROLES)[number];

export const ERROR_CODES = [
  'BAD_JSON',
  'BAD_MESSAGE',
  'BAD_FRAME',
  'FRAME_TOO_LARGE',
  'RATE_LIMITED',
  'NOT_READY',
  'UNAUTHORIZED',
  'TOO_MANY_SESSIONS',
  'UNKNOWN_SESSION',
  'MODEL_NOT_FOUND',
  'TTS_UNAVAILABLE',
  'SAY_BUSY',
  'IDLE_TIMEOUT',
  'INTERNAL',
] as const;
export type ProtocolErrorCode = (typeof ERROR_CODES)[number];

/** WebSocket close codes the server uses (4000–4999 are application codes). */
export const CLOSE_CODES = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 4400,
  unauthorized: 4401,
  unknownSession: 4404,
  idleTimeout: 4408,
  tooManySessions: 4429,
  internal: 4500,
} as const;

const pitch = number({ min: PROTOCOL_LIMITS.pitch.min, max: PROTOCOL_LIMITS.pitch.max });
const formant = number({ min: PROTOCOL_LIMITS.formant.min, max: PROTOCOL_LIMITS.formant.max });
/** RVC voices: share of retrieved index features (0..1) and consonant protection (0..0.5, 0.5 = off). */
const indexRate = number({ min: 0, max: 1 });
const protect = number({ min: 0, max: 0.5 });

/**
 * Hello with explicit defaults: every field but `type` and `version` may be left out. Without blockMs the
 * server picks the block for the voice (`defaultBlockMs` when given here; else the server's choice per
 * voice: 20 ms for the built-in voice, a model's measured block).
 */
export function helloSchema(defaultBlockMs?: number) {
  const blockMs = number({ min: PROTOCOL_LIMITS.blockMs.min, max: PROTOCOL_LIMITS.blockMs.max, default: defaultBlockMs });
  return object({
    type: string({ maxLength: 16, oneOf: ['hello'] as const }),
    version: number({ integer: true, oneOf: [PROTOCOL_VERSION] }),
    role: string({ maxLength: 16, oneOf: ROLES, default: 'convert' }),
    sampleRate: number({ integer: true, oneOf: PROTOCOL_LIMITS.sampleRates, default: 48000 }),
    format: string({ maxLength: 8, oneOf: SAMPLE_FORMATS, default: 'f32' }),
    channels: number({ integer: true, oneOf: [1, 2], default: 1 }),
    blockMs: defaultBlockMs === undefined ? optional(blockMs) : blockMs,
    voice: object({ pitch: number({ min: PROTOCOL_LIMITS.pitch.min, max: PROTOCOL_LIMITS.pitch.max, default: DEFAULT_VOICE.pitch }), formant: number({ min: PROTOCOL_LIMITS.formant.min, max: PROTOCOL_LIMITS.formant.max, default: DEFAULT_VOICE.formant }) }, { whenAbsent: 'defaults' }),
    token: optional(string({ maxLength: PROTOCOL_LIMITS.tokenMaxLength })),
    listen: optional(string({ maxLength: PROTOCOL_LIMITS.sessionIdMaxLength })),
  });
}

const setSchema = object({
  type: string({ maxLength: 16, oneOf: ['set'] as const }),
  voice: object({ pitch: optional(pitch), formant: optional(formant), indexRate: optional(indexRate), protect: optional(protect) }),
});
const modelSchema = object({
  type: string({ maxLength: 16, oneOf: ['model'] as const }),
  name: string({ maxLength: PROTOCOL_LIMITS.modelNameMaxLength }),
});
const saySchema = object({
  type: string({ maxLength: 16, oneOf: ['say'] as const }),
  text: string({ maxLength: PROTOCOL_LIMITS.say.maxCharacters, nonBlank: true }),
  rate: number({ min: PROTOCOL_LIMITS.say.rateWpm.min, max: PROTOCOL_LIMITS.say.rateWpm.max, default: PROTOCOL_LIMITS.say.rateWpm.default }),
  ttsVoice: optional(string({ maxLength: PROTOCOL_LIMITS.say.ttsVoiceMaxLength, pattern: { regex: /^[A-Za-z0-9_+-]+$/, description: 'an eSpeak voice name such as en-us, en-gb or en-us+f3' } })),
});
const sayStopSchema = object({ type: string({ maxLength: 16, oneOf: ['sayStop'] as const }) });
const statsSchema = object({ type: string({ maxLength: 16, oneOf: ['stats'] as const }) });
const pingSchema = object({ type: string({ maxLength: 16, oneOf: ['ping'] as const }), t: opaque(256) });

export type HelloMessage = Infer<ReturnType<typeof helloSchema>>;
export type SetMessage = Infer<typeof setSchema>;
export type ModelMessage = Infer<typeof modelSchema>;
export type StatsRequestMessage = Infer<typeof statsSchema>;
export type PingMessage = Infer<typeof pingSchema>;
export type SayMessage = Infer<typeof saySchema>;
export type SayStopMessage = Infer<typeof sayStopSchema>;
export type ControlMessage = SetMessage | ModelMessage | StatsRequestMessage | PingMessage | SayMessage | SayStopMessage;
export type ClientMessage = HelloMessage | ControlMessage;

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; code: 'BAD_JSON' | 'BAD_MESSAGE' | 'FRAME_TOO_LARGE'; message: string };

const CONTROL_SCHEMAS = { set: setSchema, model: modelSchema, stats: statsSchema, ping: pingSchema, say: saySchema, sayStop: sayStopSchema } as const;

/** Parses and validates one text message from a client. */
export function parseClientMessage(text: string, options: { defaultBlockMs?: number } = {}): ParseResult {
  if (Buffer.byteLength(text, 'utf8') > PROTOCOL_LIMITS.maxTextBytes) {
    return { ok: false, code: 'FRAME_TOO_LARGE', message: `text messages may be at most ${PROTOCOL_LIMITS.maxTextBytes} bytes, got ${Buffer.byteLength(text, 'utf8')}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, code: 'BAD_JSON', message: `text messages must be JSON: ${errorMessage(error)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BAD_MESSAGE', message: `a message must be a JSON object with a "type", got ${Array.isArray(value) ? 'an array' : typeof value}` };
  }
  const type = (value as { type?: unknown }).type;
  try {
    if (type === 'hello') return { ok: true, message: helloSchema(options.defaultBlockMs).parse(value, 'hello') };
    if (typeof type === 'string' && Object.prototype.hasOwnProperty.call(CONTROL_SCHEMAS, type)) {
      return { ok: true, message: CONTROL_SCHEMAS[type as keyof typeof CONTROL_SCHEMAS].parse(value, type) };
    }
  } catch (error) {
    if (error instanceof SchemaError) return { ok: false, code: 'BAD_MESSAGE', message: error.message };
    throw error;
  }
  return { ok: false, code: 'BAD_MESSAGE', message: `unknown message type ${JSON.stringify(type)}; expected one of "hello", "set", "model", "stats", "ping", "say", "sayStop"` };
}

// ---- Server → client messages ----

export interface VoiceMessageBody {
  pitch: number;
  formant: number;
}

/** A voice parameter a converter honours (`set` may still carry the others; they are kept but unused). */
export type { VoiceControl };

export interface LatencyBody {
  algorithmicMs: number;
  blockMs: number;
  delayMs: number;
  delaySamples: number;
}

export interface ReadyMessage {
  type: 'ready';
  sessionId: string;
  role: Role;
  sampleRate: number;
  format: SampleFormat;
  channels: number;
  /** Samples per block at the client's rate (per channel). */
  blockSamples: number;
  voice: VoiceMessageBody;
  model: string;
  /** Voice parameters the current model honours: the DSP voice takes pitch and formant, neural models pitch only. */
  controls: VoiceControl[];
  latency: LatencyBody;
  /**
   * The session's budgets: frames beyond maxFrameBytes, messages beyond maxMessagesPerSecond and audio
   * beyond maxAudioSpeed × real time (after a burst of audioBurstMs) are dropped with an error.
   */
  limits: { maxFrameBytes: number; maxMessagesPerSecond: number; maxQueueMs: number; idleTimeoutS: number; maxAudioSpeed: number; audioBurstMs: number };
}

/**
 * Answer to a successful {"type":"model"} (also sent to the session's listeners): the model now converting
 * and the latency that comes with it (the signal delay usually changes with the model).
 */
export interface ModelSwitchedMessage {
  type: 'model';
  name: string;
  controls: VoiceControl[];
  latency: LatencyBody;
  /**
   * Samples per block at the client's rate from now on: a session whose hello had no blockMs takes the new
   * voice's block (measured for models); one that chose its block keeps it.
   */
  blockSamples: number;
}

export interface StatsMessage {
  type: 'stats';
  sessionId: string;
  /** The model converting right now ("builtin" or an installed model name, maybe NAME:SPEAKER). */
  model: string;
  inputMs: number;
  outputMs: number;
  /** serverMs: algorithmicMs + computeMsMedian + the whole blocks of queueMs, what the server adds between a sample's arrival and its converted copy's departure. */
  latency: { algorithmicMs: number; computeMsMean: number; computeMsMedian: number; computeMsP95: number; computeMsMax: number; blockMs: number; delayMs: number; delaySamples: number; serverMs: number };
  queueMs: number;
  queueMaxMs: number;
  dropped: { skippedBlocks: number; dryBlocks: number; silencedBlocks: number; overflowMs: number; outputFramesDropped: number; framesRejected: number };
  /** Blocks the voice converted, and blocks that were not (behind-real-time policy or a failed stage call). */
  blocks: { converted: number; notConverted: number };
  underruns: number;
  overruns: number;
  policy: string;
  listeners: number;
}

/**
 * Progress of one live `say` (answer to {"type":"say"}): `queued` (behind `position` others), `speaking`
 * (its first audio went into the session `firstAudioMs` after the message arrived), `done` (all of it
 * went in: `speechMs` of speech), `stopped` (sayStop or the session ended), `failed` (an error message
 * with the cause comes just before).
 */
export interface SayStateMessage {
  type: 'say';
  id: number;
  state: 'queued' | 'speaking' | 'done' | 'stopped' | 'failed';
  position?: number;
  firstAudioMs?: number;
  speechMs?: number;
}

export interface ErrorMessage {
  type: 'error';
  code: ProtocolErrorCode;
  message: string;
  fatal: boolean;
}

/** One voice in GET /api/models (the models a client may name in {"type":"model"}). */
export interface ModelListEntry {
  /** What {"type":"model","name"} takes ("builtin" or an installed folder name). */
  name: string;
  /** True for the built-in DSP voice. */
  builtin: boolean;
  /** Speaker names (select one with "NAME:SPEAKER"; the first is the default). Empty for builtin. */
  speakers: string[];
  /** Rate the model converts at, Hz (the client's rate is resampled to it and back); null for builtin (any rate). */
  sampleRate: number | null;
  /** Content features the model needs (e.g. vec768l12, hubertsoft); null for builtin. */
  speechEncoder: string | null;
  controls: VoiceControl[];
  /** Model family: 'sovits' or 'rvc' (absent for builtin). */
  type?: 'sovits' | 'rvc';
  /** RVC only: pitch-guided (f0) model. */
  f0?: boolean;
  /** RVC and So-VITS: whether it carries a feature-retrieval index (So-VITS: feature_and_index.pkl; --cluster-ratio). */
  index?: boolean;
  /** So-VITS only: a kmeans cluster model (kmeans_10000.pt; --cluster-ratio), and whether speakers can be mixed ("NAME:a:0.7,b:0.3"). */
  cluster?: boolean;
  speakerMix?: boolean;
  /** Why the model cannot be used (broken bundle, missing encoder); absent when it can. */
  error?: string;
  /** True for a random-weight reference bundle (`svc make-reference`): it makes sound, not a voice. */
  randomWeights?: boolean;
  /**
   * The block, ms, this voice converts in for clients whose hello has no blockMs: the built-in voice's
   * always; a model's once the server has loaded it (measured then: the smallest block it converts in time).
   */
  blockMs?: number;
}

export interface ModelListResponse {
  /** The voice new sessions start with. */
  default: string;
  models: ModelListEntry[];
}
