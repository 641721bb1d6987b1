// Hostile and broken clients against a real server: every bad input gets a typed error (fatal only where
// the protocol says so), a concurrent session's output stays exactly right, the server stays up and its
// memory stays flat. Also the limits (sessions, idle time) and the behind-real-time policy via the server.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readAudio } from '../src/audio/io.js';
import { convertWithDspVoice } from '../src/voices/dsp/index.js';
import { streamAudio } from '../src/stream/client.js';
import { sessionTag } from '../src/server/metrics.js';
import { startServer, type SvcServer } from '../src/server/server.js';
import { PassThroughStage } from '../src/voices/stage.js';
import { shared } from './helpers/index.js';
import { f32Bytes, parsePrometheus, rawClient, sleep, type RawClient } from './stream-utils.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const TOKEN = 's3cret-token';
const SPEECH = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');

async function helloed(server: SvcServer, extra: Record<string, unknown> = {}): Promise<{ client: RawClient; ready: Record<string, any> }> {
  const client = rawClient(server.url);
  await client.opened;
  client.sendJson({ type: 'hello', version: 1, sampleRate: 16000, token: TOKEN, ...extra });
  return { client, ready: await client.next('ready') };
}

async function expectError(client: RawClient, code: string, fatal: boolean, pattern?: RegExp): Promise<void> {
  const error = await client.next('error');
  assert.is(error.code, code, JSON.stringify(error));
  assert.is(error.fatal, fatal, JSON.stringify(error));
  assert.type(error.message, 'string');
  if (pattern) assert.match(error.message, pattern);
}

async function stillServes(client: RawClient): Promise<void> {
  const t = Math.random();
  client.sendJson({ type: 'ping', t });
  assert.is((await client.next('pong')).t, t);
}

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('bad input of every kind: typed errors, a concurrent session undisturbed, memory flat after 1,000 connects', async () => {
  const server = await startServer({ port: 0, token: TOKEN, allowOrigins: ['https://good.example'], maxFrameBytes: 65536, maxMessagesPerSecond: 200, maxQueueMs: 2000 });
  try {
    const speech = await readAudio(SPEECH);
    // ~9 s (the file three times), so the session streams through the whole barrage below.
    const one = speech.channels[0];
    const input = new Float32Array(one.length * 3);
    for (let k = 0; k < 3; k++) input.set(one, k * one.length);
    // The healthy session streams at real-time pace while everything below happens.
    const healthy = streamAudio({ sampleRate: 16000, channels: [input] }, { url: server.url, token: TOKEN, realtime: true, voice: { pitch: 4 } });
    healthy.catch(() => {}); // awaited below; a failure before that must not end the process

    // Warm up allocation paths, then take the memory baseline.
    for (let i = 0; i < 50; i++) {
      const c = rawClient(server.url);
      await c.opened;
      c.ws.terminate();
    }
    await sleep(100);
    const heapBefore = heapAfterGc();

    // Binary before hello, bad JSON, bad hellos: non-fatal errors; the connection can still say hello.
    const early = rawClient(server.url);
    await early.opened;
    early.ws.send(randomBytes(1000));
    await expectError(early, 'NOT_READY', false, /hello/);
    early.ws.send('{nope');
    await expectError(early, 'BAD_JSON', false);
    early.ws.send('[1,2,3]');
    await expectError(early, 'BAD_MESSAGE', false);
    early.sendJson({ type: 'dance' });
    await expectError(early, 'BAD_MESSAGE', false, /unknown message type/);
    early.sendJson({ type: 'hello', version: 2 });
    await expectError(early, 'BAD_MESSAGE', false, /hello\.version/);
    early.sendJson({ type: 'hello', version: 1, sampleRate: 12345 });
    await expectError(early, 'BAD_MESSAGE', false, /hello\.sampleRate: expected .*48000.*got 12345/);
    early.sendJson({ type: 'hello', version: 1, blockMs: 5 });
    await expectError(early, 'BAD_MESSAGE', false, /hello\.blockMs/);
    early.sendJson({ type: 'hello', version: 1, voice: { pitch: 30 } });
    await expectError(early, 'BAD_MESSAGE', false, /hello\.voice\.pitch/);
    early.sendJson({ type: 'hello', version: 1, format: 'u8' });
    await expectError(early, 'BAD_MESSAGE', false, /hello\.format/);
    early.sendJson({ type: 'ping', t: 1 });
    await expectError(early, 'NOT_READY', false);
    early.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(5000) }));
    await expectError(early, 'FRAME_TOO_LARGE', false);
    early.sendJson({ type: 'hello', version: 1, sampleRate: 16000, token: TOKEN });
    await early.next('ready');

    // After hello: malformed frames are rejected one by one and the session carries on.
    early.ws.send(Buffer.alloc(3));
    await expectError(early, 'BAD_FRAME', false, /whole sample frames of 4 bytes.*got 3/);
    early.ws.send(Buffer.alloc(4 * 100 + 1));
    await expectError(early, 'BAD_FRAME', false);
    early.ws.send(randomBytes(4 * 4000)); // NaN, Inf and huge floats: sanitized, not fatal
    early.ws.send(Buffer.alloc(65536 + 4));
    await expectError(early, 'FRAME_TOO_LARGE', false, /65536/);
    early.sendJson({ type: 'set', voice: { pitch: 99 } });
    await expectError(early, 'BAD_MESSAGE', false, /set\.voice\.pitch/);
    early.sendJson({ type: 'hello', version: 1, sampleRate: 16000, token: TOKEN });
    await expectError(early, 'BAD_MESSAGE', false, /already/);
    await stillServes(early);
    early.sendJson({ type: 'stats' });
    const earlyStats = await early.next('stats');
    assert.is(earlyStats.dropped.framesRejected, 3);
    assert.equal((await (async () => (early.sendJson({ type: 'set', voice: {} }), early.next('voice')))()).voice, { pitch: 0, formant: 1 }, 'a rejected set left the voice alone');

    // A flood beyond the message rate: dropped with one RATE_LIMITED notice, connection kept.
    for (let i = 0; i < 600; i++) early.ws.send(Buffer.alloc(8));
    await expectError(early, 'RATE_LIMITED', false);
    await sleep(1100);
    await stillServes(early);

    // A frame beyond the hard payload cap: ws closes that connection (1009); nobody else notices.
    early.ws.send(Buffer.alloc(4 * 65536 + 8));
    assert.is((await early.closed).code, 1009);

    // Tokens: wrong in the query, wrong in hello, missing → UNAUTHORIZED and close 4401.
    const badQuery = rawClient(server.url, { query: '?token=wrong' });
    await expectError(badQuery, 'UNAUTHORIZED', true);
    assert.is((await badQuery.closed).code, 4401);
    for (const token of ['wrong', undefined]) {
      const c = rawClient(server.url);
      await c.opened;
      c.sendJson({ type: 'hello', version: 1, token });
      await expectError(c, 'UNAUTHORIZED', true);
      assert.is((await c.closed).code, 4401);
    }
    const goodQuery = rawClient(server.url, { query: `?token=${TOKEN}` });
    await goodQuery.opened;
    goodQuery.sendJson({ type: 'hello', version: 1 });
    await goodQuery.next('ready');
    goodQuery.ws.close();

    // Origins: a foreign browser page is refused at the upgrade (403); allowed and same-origin pages pass.
    const refused = await rawClient(server.url, { origin: 'https://evil.example' }).opened.then(() => 'opened', (error: Error) => error.message);
    assert.match(refused, /HTTP 403/);
    for (const origin of ['https://good.example', server.url]) {
      const c = rawClient(server.url, { origin });
      await c.opened;
      c.ws.close();
    }

    // A listener of a session that does not exist.
    const lost = rawClient(server.url);
    await lost.opened;
    lost.sendJson({ type: 'hello', version: 1, role: 'listen', listen: 'no-such-session', token: TOKEN });
    await expectError(lost, 'UNKNOWN_SESSION', true);
    assert.is((await lost.closed).code, 4404);

    assert.is(server.sessionCounts().convert, 1, 'the healthy session is still streaming');
    // 1,000 rapid connects and disconnects, 50 at a time: abrupt drops, hello-then-close, garbage-then-drop.
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const c = rawClient(server.url);
          await c.opened;
          if (i % 4 === 0) c.sendJson({ type: 'hello', version: 1, sampleRate: 48000, token: TOKEN });
          else if (i % 4 === 1) c.ws.send(randomBytes(64));
          if (i % 2 === 0) c.ws.close();
          else c.ws.terminate();
          await c.closed;
        }),
      );
    }
    await sleep(300);
    const left = server.sessionCounts();
    assert.ok(left.convert <= 1 && left.listen === 0 && left.pending === 0, `only the healthy session may be left: ${JSON.stringify(left)}`);

    // The healthy session was undisturbed: its output is exactly the voice's offline conversion.
    const result = await healthy;
    const out = result.audio.channels[0];
    assert.is(out.length, input.length);
    const offline = convertWithDspVoice(input, 16000, { pitchSemitones: 4 });
    let maxError = 0;
    for (let i = 0; i < input.length; i++) maxError = Math.max(maxError, Math.abs(out[i] - offline[i]));
    assert.ok(maxError < 1e-5, `healthy session output differs by ${maxError}`);
    assert.is(result.stats!.dropped.dryBlocks + result.stats!.dropped.skippedBlocks + result.stats!.dropped.overflowMs, 0);

    await sleep(200);
    const heapAfter = heapAfterGc();
    const growthMb = (heapAfter - heapBefore) / 1e6;
    assert.ok(growthMb < 8, `heap grew by ${growthMb.toFixed(1)} MB`);
    const metrics = parsePrometheus(await server.metrics());
    assert.ok(metrics.find((s) => s.name === 'svc_connections_total')!.value >= 1050);
    assert.ok(metrics.find((s) => s.name === 'svc_upgrades_rejected_total' && s.labels.reason === 'origin')!.value >= 1);
  } finally {
    await server.close();
  }
});

test('session limit and idle timeout close with TOO_MANY_SESSIONS and IDLE_TIMEOUT', async () => {
  const server = await startServer({ port: 0, maxSessions: 2, idleTimeoutS: 1 });
  try {
    const a = rawClient(server.url);
    const b = rawClient(server.url);
    await Promise.all([a.opened, b.opened]);
    a.sendJson({ type: 'hello', version: 1 });
    const readyA = await a.next('ready');
    b.sendJson({ type: 'hello', version: 1, role: 'listen', listen: readyA.sessionId });
    await b.next('ready');
    const c = rawClient(server.url);
    await c.opened;
    c.sendJson({ type: 'hello', version: 1 });
    await expectError(c, 'TOO_MANY_SESSIONS', true);
    assert.is((await c.closed).code, 4429);
    // a sends nothing more: after 1 s it is closed; its listener (b) is told the session ended.
    await expectError(a, 'IDLE_TIMEOUT', true);
    assert.is((await a.closed).code, 4408);
    await expectError(b, 'UNKNOWN_SESSION', true);
    // A connection that never says hello is closed too.
    const silent = rawClient(server.url);
    await silent.opened;
    await expectError(silent, 'IDLE_TIMEOUT', true);
  } finally {
    await server.close();
  }
});

/** A stateful stage taking `delayMs` per block: asynchronously (like a model off-thread) or by blocking the event loop. */
function slowStageFactory(delayMs: number, blocking: boolean) {
  return ({ clientSampleRate }: { clientSampleRate: number }) => {
    const stage = new PassThroughStage(clientSampleRate);
    stage.process = ((block: Float32Array) => {
      if (!blocking) return new Promise<Float32Array>((resolve) => setTimeout(() => resolve(block.slice()), delayMs));
      const until = performance.now() + delayMs;
      while (performance.now() < until);
      return block.slice();
    }) as typeof stage.process;
    return stage;
  };
}

for (const [policy, blocking] of [['dry', false], ['skip', true]] as const) {
  test(`a stage slower than real time (${blocking ? 'blocking' : 'async'}): '${policy}' policy counted, queue bounded, server responsive`, async () => {
    const server = await startServer({ port: 0, policy, maxQueueMs: 200, stageFactory: slowStageFactory(30, blocking) });
    try {
      const { client, ready } = await helloed(server, { blockMs: 20 });
      const block = new Float32Array(320).fill(0.1);
      const startMs = performance.now();
      for (let i = 0; i < 75; i++) {
        client.ws.send(f32Bytes(block)); // 1.5 s at real-time pace, 20 ms per frame
        const wait = startMs + (i + 1) * 20 - performance.now();
        if (wait > 0) await sleep(wait);
      }
      await stillServes(client);
      await sleep(300); // let the backlog that arrived while the stage was busy be handled
      client.sendJson({ type: 'stats' });
      await client.next('stats');
      await sleep(100);
      const stats = client.messages.filter((m) => m.type === 'stats').at(-1)!; // the newest (pushes arrive too)
      const handled = policy === 'dry' ? stats.dropped.dryBlocks : stats.dropped.skippedBlocks;
      assert.ok(handled >= 10, `${policy} blocks: ${handled}`);
      assert.is(stats.policy, policy);
      assert.ok(stats.overruns >= handled);
      // Bounded: the policy keeps the queue inside its ring buffer (2 × maxQueueMs + 2 blocks) without
      // ever overflowing it, and the backlog is gone once the burst is handled.
      assert.ok(stats.queueMaxMs <= 2 * 200 + 2 * 20, `queue reached ${stats.queueMaxMs} ms`);
      assert.is(stats.dropped.overflowMs, 0);
      assert.ok(stats.queueMs < 200, `queue still ${stats.queueMs} ms`);
      const metrics = parsePrometheus(await server.metrics());
      const dropped = metrics.find((s) => s.name === 'svc_session_dropped_blocks_total' && s.labels.session === sessionTag(ready.sessionId) && s.labels.action === policy);
      assert.is(dropped?.value, handled);
      client.ws.close();
    } finally {
      await server.close();
    }
  });
}

test.run();
