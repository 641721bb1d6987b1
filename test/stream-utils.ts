// Helpers for the streaming/server tests: a raw protocol client that records every message, a
// Prometheus text checker, and signal measures (alignment lag, jumps at block boundaries, pitch ratio).
import WebSocket from 'ws';
import { estimateF0 } from '../src/dsp/f0/index.js';

export interface RawClient {
  ws: WebSocket;
  /** JSON messages received so far, in order. */
  messages: Array<Record<string, any>>;
  /** Binary frames received so far. */
  frames: Buffer[];
  /** Resolves with the next JSON message of `type` (already received ones count), or rejects after timeoutMs. */
  next(type: string, timeoutMs?: number): Promise<Record<string, any>>;
  closed: Promise<{ code: number; reason: string }>;
  opened: Promise<void>;
  sendJson(message: unknown): void;
}

export function rawClient(url: string, options: { origin?: string; query?: string; localAddress?: string } = {}): RawClient {
  const wsUrl = `${url.replace(/^http/, 'ws')}/ws${options.query ?? ''}`;
  const ws = new WebSocket(wsUrl, { headers: options.origin ? { Origin: options.origin } : undefined, localAddress: options.localAddress });
  const messages: Array<Record<string, any>> = [];
  const frames: Buffer[] = [];
  const consumed = new Set<number>();
  let waiters: Array<() => void> = [];
  ws.on('message', (data, isBinary) => {
    if (isBinary) frames.push(data as Buffer);
    else messages.push(JSON.parse(data.toString()));
    const w = waiters;
    waiters = [];
    w.forEach((f) => f());
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() });
      const w = waiters;
      waiters = [];
      w.forEach((f) => f());
    }),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('error', reject);
  });
  opened.catch(() => {}); // callers that care await it; others must not crash the run
  function next(type: string, timeoutMs = 5000): Promise<Record<string, any>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${type}" message within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.type))}`)), timeoutMs);
      const check = () => {
        const index = messages.findIndex((m, i) => !consumed.has(i) && m.type === type);
        if (index >= 0) {
          consumed.add(index);
          clearTimeout(timer);
          resolve(messages[index]);
        } else if (ws.readyState === WebSocket.CLOSED) {
          clearTimeout(timer);
          reject(new Error(`connection closed before a "${type}" message; got ${JSON.stringify(messages)}`));
        } else waiters.push(check);
      };
      check();
    });
  }
  return { ws, messages, frames, next, closed, opened, sendJson: (m) => ws.send(JSON.stringify(m)) };
}

/** Float32 little-endian bytes of `samples`. */
export function f32Bytes(samples: Float32Array): Buffer {
  return Buffer.from(samples.buffer.slice(samples.byteOffset, samples.byteOffset + samples.byteLength));
}

/** Concatenated f32 frames as samples. */
export function framesToSamples(frames: Buffer[]): Float32Array {
  const all = Buffer.concat(frames);
  const out = new Float32Array(all.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = all.readFloatLE(i * 4);
  return out;
}

/**
 * Checks Prometheus text exposition format 0.0.4: every sample line is `name{labels} value`, names and
 * labels are valid, and every family has one HELP and one TYPE line before its samples.
 * Returns the samples as {name, labels, value}.
 */
export function parsePrometheus(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const samples: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  const typed = new Map<string, string>();
  const helped = new Set<string>();
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${name})(?:\\{(.*)\\})? (-?[0-9.eE+-]+|NaN|\\+Inf|-Inf)$`);
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\["\\n])*)"(?:,|$)/;
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  for (const line of text.split('\n').slice(0, -1)) {
    if (line.startsWith('# HELP ')) {
      const family = line.split(' ')[2];
      if (helped.has(family)) throw new Error(`second HELP for ${family}`);
      helped.add(family);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , family, type] = line.split(' ');
      if (typed.has(family)) throw new Error(`second TYPE for ${family}`);
      if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`bad type in ${line}`);
      typed.set(family, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`not a valid sample line: ${JSON.stringify(line)}`);
    // Histogram and summary families expose NAME_bucket/_sum/_count samples under NAME's TYPE.
    const family = typed.has(m[1]) ? m[1] : m[1].replace(/_(bucket|sum|count)$/, '');
    if (!typed.has(family) || (family !== m[1] && !['histogram', 'summary'].includes(typed.get(family)!))) throw new Error(`sample before its TYPE line: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length > 0) {
      const l = labelRe.exec(rest);
      if (!l) throw new Error(`bad labels in ${JSON.stringify(line)}`);
      labels[l[1]] = l[2];
      rest = rest.slice(l[0].length);
    }
    const value = Number(m[3].replace('+Inf', 'Infinity').replace('-Inf', '-Infinity'));
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in ${line}`);
    if (typed.get(m[1]) === 'counter' && value < 0) throw new Error(`negative counter: ${line}`);
    samples.push({ name: m[1], labels, value });
  }
  return samples;
}

/** Lag (in samples, −maxLag..maxLag) at which b best matches a: b[n + lag] ≈ a[n]; with the correlation there. */
export function bestLag(a: Float32Array, b: Float32Array, maxLag: number): { lag: number; correlation: number } {
  let best = { lag: 0, correlation: -Infinity };
  const n = Math.min(a.length, b.length);
  for (let lag = -maxLag; lag <= maxLag; lag++) {
    let dot = 0;
    let ea = 0;
    let eb = 0;
    for (let i = maxLag; i < n - maxLag; i++) {
      dot += a[i] * b[i + lag];
      ea += a[i] * a[i];
      eb += b[i + lag] * b[i + lag];
    }
    const c = dot / Math.sqrt(ea * eb + 1e-20);
    if (c > best.correlation) best = { lag, correlation: c };
  }
  return best;
}

/** Smoothed magnitude envelope (one-pole, time constant ~1 ms at 48 kHz, run forwards and backwards). */
export function envelope(x: Float32Array, coefficient = 0.02): Float32Array {
  const y = new Float32Array(x.length);
  let s = 0;
  for (let i = 0; i < x.length; i++) y[i] = s += coefficient * (Math.abs(x[i]) - s);
  s = 0;
  for (let i = x.length - 1; i >= 0; i--) y[i] = s += coefficient * (y[i] - s);
  return y;
}

/** Largest |x[n] − x[n−1]| within ±radius of block boundaries (k·block − offset) and elsewhere. */
export function boundaryJumps(x: Float32Array, blockSamples: number, offset: number, radius = 2): { boundary: number; elsewhere: number } {
  let boundary = 0;
  let elsewhere = 0;
  for (let n = 1; n < x.length; n++) {
    const jump = Math.abs(x[n] - x[n - 1]);
    const phase = (((n + offset) % blockSamples) + blockSamples) % blockSamples;
    const near = phase <= radius || phase >= blockSamples - radius;
    if (near) boundary = Math.max(boundary, jump);
    else elsewhere = Math.max(elsewhere, jump);
  }
  return { boundary, elsewhere };
}

/** Median f0 ratio output/input over frames voiced in both (YIN, no model). */
export async function medianPitchRatio(input: Float32Array, output: Float32Array, sampleRate: number): Promise<{ ratio: number; frames: number }> {
  const hopSamples = Math.round(sampleRate / 100);
  const [a, b] = await Promise.all([estimateF0(input, sampleRate, { method: 'dsp', hopSamples }), estimateF0(output, sampleRate, { method: 'dsp', hopSamples })]);
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.f0Hz.length, b.f0Hz.length); i++) if (a.voiced[i] && b.voiced[i]) ratios.push(b.f0Hz[i] / a.f0Hz[i]);
  ratios.sort((p, q) => p - q);
  return { ratio: ratios[Math.floor(ratios.length / 2)] ?? NaN, frames: ratios.length };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sends f32 frames of `frameSamples`, pausing after every `burstSamples` so the server's queue never overflows. */
export async function sendPaced(ws: WebSocket, samples: Float32Array, frameSamples: number, burstSamples: number, pauseMs = 15): Promise<void> {
  let sinceLastPause = 0;
  for (let i = 0; i < samples.length; i += frameSamples) {
    ws.send(f32Bytes(samples.subarray(i, i + frameSamples)));
    sinceLastPause += frameSamples;
    if (sinceLastPause >= burstSamples) {
      sinceLastPause = 0;
      await sleep(pauseMs);
    }
  }
}

/** A converting client that said hello (16 kHz, defaults otherwise), with the server's `ready`. */
export async function helloClient(url: string): Promise<{ c: RawClient; ready: Record<string, any> }> {
  const c = rawClient(url);
  await c.opened;
  c.sendJson({ type: 'hello', version: 1, sampleRate: 16000 });
  return { c, ready: await c.next('ready') };
}

/** Asks for a model and returns the answer (a `model` confirmation or an `error`), waiting up to `timeoutMs`. */
export async function askModel(c: RawClient, name: string, timeoutMs = 60000): Promise<Record<string, any>> {
  const before = c.messages.length;
  c.sendJson({ type: 'model', name });
  for (const end = Date.now() + timeoutMs; Date.now() < end; ) {
    const answer = c.messages.slice(before).find((m) => m.type === 'model' || m.type === 'error');
    if (answer) return answer;
    await sleep(50);
  }
  throw new Error(`no answer to model ${name} within ${timeoutMs} ms`);
}
