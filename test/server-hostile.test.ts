// The hostile-client suite of issue 16: one test per finding, each against a real server on loopback,
// bounded in connections and time, asserting counts and codes (never how fast a busy machine is).
// 1 lock-out by idle connections · 3 listeners in many formats · 4 byte budgets · 6 Host check, token on
// /metrics, unguessable ids · 8 histograms and counters that outlive sessions. (2 and 5, model loading
// and model names, are in test/server-models.test.ts; 7, scale-out, in test/server-proxy.test.ts.)
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { request } from 'node:http';
import WebSocket from 'ws';
import { sessionTag } from '../src/server/metrics.js';
import { createServer, startServer } from '../src/server/server.js';
import { f32Bytes, parsePrometheus, rawClient, sendPaced, sleep, type RawClient } from './stream-utils.js';

const TOKEN = 'hostile-suite-token';

/** A recording client from a chosen loopback source address (127.0.0.x: Linux routes all of 127/8 to lo). */
function connectFrom(url: string, localAddress: string, query = ''): RawClient {
  return rawClient(url, { query, localAddress });
}

function httpGet(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('1: idle connections that ping before hello lock nobody out, and are closed at the hello deadline', async () => {
  // 300 idle connections from one address (more than the old global cap of 256), each pinging.
  const server = await startServer({ port: 0, token: TOKEN, helloTimeoutS: 3 });
  const idle: RawClient[] = [];
  try {
    for (let i = 0; i < 300; i++) idle.push(connectFrom(server.url, '127.0.0.1'));
    await Promise.allSettled(idle.map((c) => c.opened));
    for (const c of idle) if (c.ws.readyState === WebSocket.OPEN) c.sendJson({ type: 'ping', t: 1 });
    assert.ok(server.sessionCounts().pending <= 8, `pending from one address capped: ${server.sessionCounts().pending}`);
    // A token holder on the same address, and a client from a new address, both get a session.
    const holder = connectFrom(server.url, '127.0.0.1', `?token=${TOKEN}`);
    await holder.opened;
    holder.sendJson({ type: 'hello', version: 1 });
    assert.is((await holder.next('ready')).type, 'ready');
    const other = connectFrom(server.url, '127.0.0.2');
    await other.opened;
    other.sendJson({ type: 'hello', version: 1, token: TOKEN });
    assert.is((await other.next('ready')).type, 'ready');
    // The displaced ones were told why (1013 try again later); the rest meet the hello deadline although
    // they keep pinging: pings before hello are not activity.
    const survivors = idle.filter((c) => c.ws.readyState === WebSocket.OPEN);
    const pinger = setInterval(() => survivors.forEach((c) => c.ws.readyState === WebSocket.OPEN && c.sendJson({ type: 'ping', t: 2 })), 500);
    try {
      const codes = await Promise.all(idle.map((c) => c.closed.then((x) => x.code)));
      assert.ok(codes.every((code) => code === 1013 || code === 4408), `close codes: ${[...new Set(codes)]}`);
      assert.ok(codes.includes(4408), 'some reached the hello deadline');
    } finally {
      clearInterval(pinger);
    }
    assert.is(server.sessionCounts().pending, 0);
    assert.is(server.sessionCounts().convert, 2);
    holder.ws.close();
    other.ws.close();
  } finally {
    for (const c of idle) c.ws.terminate();
    await server.close();
  }
});

test('3: fifty listeners in five formats share five encoders; the listener cap refuses the ninth of one session', async () => {
  const server = await startServer({ port: 0, maxSessions: 200, maxListenersPerSession: 10 });
  const clients: RawClient[] = [];
  try {
    const formats = [
      { sampleRate: 16000, format: 'f32', channels: 1 },
      { sampleRate: 22050, format: 's16', channels: 1 },
      { sampleRate: 24000, format: 'f32', channels: 2 },
      { sampleRate: 44100, format: 's16', channels: 2 },
      { sampleRate: 48000, format: 'f32', channels: 1 },
    ];
    const sessions: string[] = [];
    for (let s = 0; s < 5; s++) {
      const talker = rawClient(server.url);
      clients.push(talker);
      await talker.opened;
      talker.sendJson({ type: 'hello', version: 1, sampleRate: 48000 });
      sessions.push((await talker.next('ready')).sessionId);
    }
    for (const id of sessions) {
      for (let i = 0; i < 10; i++) {
        const listener = rawClient(server.url);
        clients.push(listener);
        await listener.opened;
        listener.sendJson({ type: 'hello', version: 1, role: 'listen', listen: id, ...formats[i % 5] });
        await listener.next('ready');
      }
    }
    const extra = rawClient(server.url);
    clients.push(extra);
    await extra.opened;
    extra.sendJson({ type: 'hello', version: 1, role: 'listen', listen: sessions[0] });
    const refused = await extra.next('error');
    assert.is(refused.code, 'TOO_MANY_SESSIONS');
    assert.is((await extra.closed).code, 4429);
    const metrics = parsePrometheus(await server.metrics());
    for (const id of sessions) {
      const sinks = metrics.find((m) => m.name === 'svc_session_sinks' && m.labels.session === sessionTag(id))!.value;
      // 10 listeners in 5 formats + the talker's own 48 kHz f32 mono (the same as one listener format).
      assert.is(sinks, 5, `session ${sessionTag(id)} encodes ${sinks} formats`);
      assert.is(metrics.find((m) => m.name === 'svc_session_listeners' && m.labels.session === sessionTag(id))!.value, 10);
    }
    // Every listener of one format gets the same bytes: send audio and compare two listeners of a format.
    const talker = clients[0];
    const tone = new Float32Array(48000 / 2).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 220 * i) / 48000));
    for (let i = 0; i < tone.length; i += 960) talker.ws.send(f32Bytes(tone.subarray(i, i + 960)));
    const a = clients[5 + 1];
    const b = clients[5 + 6];
    for (let i = 0; i < 100 && (a.frames.length < 20 || b.frames.length < 20); i++) await sleep(50);
    assert.ok(a.frames.length >= 20, 'listeners receive audio');
    assert.equal(Buffer.concat(a.frames.slice(0, 20)), Buffer.concat(b.frames.slice(0, 20)));
  } finally {
    for (const c of clients) c.ws.terminate();
    await server.close();
  }
});

test('4: a 1 MB text frame is cut at its header; a 10 KB one is refused; audio beyond 1.5× real time is RATE_LIMITED', async () => {
  const server = await startServer({ port: 0 });
  try {
    const big = rawClient(server.url);
    await big.opened;
    big.ws.send('x'.repeat(1 << 20) /* 1 MiB, below the binary hard cap of 4 × 256 KiB */);
    assert.is((await big.closed).code, 1009);

    const medium = rawClient(server.url);
    await medium.opened;
    medium.ws.send(JSON.stringify({ type: 'ping', pad: 'x'.repeat(10_000) }));
    assert.is((await medium.next('error')).code, 'FRAME_TOO_LARGE');
    medium.sendJson({ type: 'hello', version: 1, sampleRate: 48000 });
    const ready = await medium.next('ready');
    assert.is(ready.limits.maxAudioSpeed, 1.5);
    assert.is(ready.limits.audioBurstMs, 10000);

    // 20 s of audio (48 kHz f32) in 256 KiB frames, as fast as the socket takes them.
    const startedMs = performance.now();
    const frame = Buffer.alloc(262_144);
    for (let i = 0; i < 15; i++) medium.ws.send(frame); // 15 × 65536 samples = 20.5 s
    const limited = await medium.next('error');
    assert.is(limited.code, 'RATE_LIMITED');
    assert.match(limited.message, /1\.5× real time/);
    medium.sendJson({ type: 'stats' });
    const stats = await medium.next('stats');
    const elapsedS = (performance.now() - startedMs) / 1000;
    assert.ok(stats.inputMs <= 10000 + 1500 * elapsedS + 1400, `accepted ${stats.inputMs} ms of audio in ${elapsedS.toFixed(2)} s`);
    assert.ok(stats.dropped.framesRejected >= 1);
    medium.ws.close();
  } finally {
    await server.close();
  }
});

test('6: without a token: loopback only, Host checked (DNS rebinding); with one: /metrics needs it; ids are 128-bit', async () => {
  assert.throws(() => createServer({ host: '0.0.0.0' }), /loopback/);
  const open = await startServer({ port: 0, allowHosts: ['studio.local'] });
  try {
    const base = `http://127.0.0.1:${open.port}`;
    assert.is((await httpGet(`${base}/metrics`, { Host: 'evil.example' })).status, 421);
    assert.is((await httpGet(`${base}/metrics`, { Host: `evil.example:${open.port}` })).status, 421);
    assert.is((await httpGet(`${base}/health`, { Host: `localhost:${open.port}` })).status, 200);
    assert.is((await httpGet(`${base}/health`, { Host: `studio.local:${open.port}` })).status, 200);
    // A rebound page's WebSocket: refused before upgrade.
    const rebound = new WebSocket(`ws://127.0.0.1:${open.port}/ws`, { headers: { Host: `evil.example:${open.port}`, Origin: `http://evil.example:${open.port}` } });
    const status = await new Promise<number>((resolve) => {
      rebound.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      rebound.on('error', () => resolve(-1));
    });
    assert.is(status, 421);
    // Session ids are 128 random bits and never appear on /metrics.
    const talker = rawClient(open.url);
    await talker.opened;
    talker.sendJson({ type: 'hello', version: 1 });
    const ready = await talker.next('ready');
    assert.match(ready.sessionId, /^[0-9a-f]{32}$/);
    assert.not.ok((await httpGet(`${base}/metrics`)).body.includes(ready.sessionId));
    talker.ws.close();
  } finally {
    await open.close();
  }
  const guarded = await startServer({ port: 0, token: TOKEN });
  try {
    assert.is((await httpGet(`${guarded.url}/metrics`)).status, 401);
    assert.is((await httpGet(`${guarded.url}/metrics`, { Authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.is((await httpGet(`${guarded.url}/metrics?token=${TOKEN}`, { Host: 'any.name' })).status, 200, 'with a token any Host is served');
    const talker = rawClient(guarded.url, { query: `?token=${TOKEN}` });
    await talker.opened;
    talker.sendJson({ type: 'hello', version: 1 });
    const ready = await talker.next('ready');
    const spy = rawClient(guarded.url);
    await spy.opened;
    spy.sendJson({ type: 'hello', version: 1, role: 'listen', listen: ready.sessionId });
    assert.is((await spy.next('error')).code, 'UNAUTHORIZED');
    assert.is((await spy.closed).code, 4401);
    talker.ws.close();
  } finally {
    await guarded.close();
  }
});

test('8: block compute and latency histograms, late and dropped counters outlive the sessions', async () => {
  const server = await startServer({ port: 0 });
  try {
    const talker = rawClient(server.url);
    await talker.opened;
    talker.sendJson({ type: 'hello', version: 1, sampleRate: 16000, blockMs: 20 });
    await talker.next('ready');
    const second = new Float32Array(16000).map((_, i) => 0.2 * Math.sin(i / 10));
    await sendPaced(talker.ws, second, 320, 1600, 30);
    for (let i = 0; i < 100 && talker.frames.length < 50; i++) await sleep(50);
    talker.sendJson({ type: 'stats' });
    const stats = await talker.next('stats');
    const outputBlocks = Math.round(stats.outputMs / 20);
    const policyBlocks = stats.dropped.dryBlocks + stats.dropped.skippedBlocks + stats.dropped.silencedBlocks;
    talker.ws.close();
    await talker.closed;
    await sleep(50);
    const metrics = parsePrometheus(await server.metrics());
    const value = (name: string, labels: Record<string, string> = {}) =>
      metrics.find((m) => m.name === name && Object.entries(labels).every(([k, v]) => m.labels[k] === v))?.value;
    assert.is(value('svc_sessions', { role: 'convert' }), 0);
    assert.ok(outputBlocks >= 40, `output ${stats.outputMs} ms`);
    assert.is(value('svc_block_compute_seconds_count'), outputBlocks - policyBlocks, 'a compute time per converted block');
    assert.is(value('svc_block_latency_seconds_count'), outputBlocks, 'a latency per output block');
    assert.is(value('svc_block_latency_seconds_bucket', { le: '+Inf' }), outputBlocks);
    assert.ok(value('svc_block_latency_seconds_sum')! >= outputBlocks * 0.02, 'each block is at least one block late (the block length)');
    assert.ok(value('svc_late_blocks_total')! >= 0);
    assert.is(value('svc_dropped_total', { reason: 'policy_dry' }) ?? 0, stats.dropped.dryBlocks, 'the policy counter outlives the session');
  } finally {
    await server.close();
  }
});

test.run();
