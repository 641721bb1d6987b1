// The WebSocket server end to end: a real server on port 0, real ws clients, shared speech.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAudio } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { convertWithDspVoice } from '../src/voices/dsp/index.js';
import { streamAudio } from '../src/stream/client.js';
import { sessionTag } from '../src/server/metrics.js';
import { startServer } from '../src/server/server.js';
import { PassThroughStage } from '../src/voices/stage.js';
import { defaultMaxQueueSamples } from '../src/engine/pipeline.js';
import { makeTempDir, shared } from './helpers/index.js';
import { bestLag, boundaryJumps, envelope, f32Bytes, framesToSamples, medianPitchRatio, parsePrometheus, rawClient, sendPaced, sleep } from './stream-utils.js';

const SPEECH_48K = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'); // stereo, 3.8 s
const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');

test('a client streaming speech at real-time pace gets the same length back, pitch-shifted, without clicks at block edges', async () => {
  const input = await readAudio(SPEECH_48K);
  assert.is(input.channels.length, 2);
  // A generous queue: this shared 2-core machine may stall us briefly; the policy is tested elsewhere.
  const server = await startServer({ port: 0, maxQueueMs: 2000 });
  try {
    const result = await streamAudio(input, { url: server.url, realtime: true, voice: { pitch: 5 }, blockMs: 20 });
    const out = result.audio;
    assert.is(out.sampleRate, 48000);
    assert.is(out.channels.length, 2);
    assert.is(out.channels[0].length, input.channels[0].length);
    assert.equal(Array.from(out.channels[1].subarray(0, 1000)), Array.from(out.channels[0].subarray(0, 1000)), 'mono conversion duplicated to both channels');
    assert.ok(result.stats, 'a stats message arrived');
    assert.is(result.stats!.dropped.dryBlocks + result.stats!.dropped.skippedBlocks + result.stats!.dropped.silencedBlocks, 0);
    const mono = input.channels[0].map((x, i) => (x + input.channels[1][i]) / 2);
    const { ratio, frames } = await medianPitchRatio(mono, out.channels[0], 48000);
    assert.ok(frames > 50, `voiced frames ${frames}`);
    const expected = 2 ** (5 / 12);
    assert.ok(Math.abs(ratio / expected - 1) < 0.03, `pitch ratio ${ratio.toFixed(3)}, asked ${expected.toFixed(3)}`);
    // Blocks left the server every blockSamples of its output stream; the client trimmed delaySamples.
    const jumps = boundaryJumps(out.channels[0], result.ready.blockSamples, result.ready.latency.delaySamples);
    assert.ok(jumps.boundary <= jumps.elsewhere, `largest step at block edges ${jumps.boundary.toFixed(4)} vs elsewhere ${jumps.elsewhere.toFixed(4)}`);
    // The streamed result is exactly what the voice gives offline on the whole file (aligned, nothing lost).
    const offline = convertWithDspVoice(mono, 48000, { pitchSemitones: 5 });
    let maxError = 0;
    for (let i = 0; i < offline.length; i++) maxError = Math.max(maxError, Math.abs(offline[i] - out.channels[0][i]));
    assert.ok(maxError < 1e-5, `differs from offline conversion by ${maxError}`);
  } finally {
    await server.close();
  }
});

test("without --max-queue-ms the session's queue limit (ready.limits.maxQueueMs) is the pipeline's one default", async () => {
  const server = await startServer({ port: 0 });
  try {
    for (const blockMs of [20, 100]) {
      const c = rawClient(server.url);
      await c.opened;
      c.sendJson({ type: 'hello', version: 1, sampleRate: 48000, blockMs });
      const ready = await c.next('ready');
      // The DSP voice runs at the client's rate here, so the block is the stage's too.
      assert.is(ready.sampleRate, 48000);
      assert.is(ready.limits.maxQueueMs, Math.round((defaultMaxQueueSamples(ready.blockSamples, 48000) * 1000) / 48000), `blockMs ${blockMs}`);
      assert.is(ready.limits.maxQueueMs, Math.max(4 * blockMs, 200));
      c.ws.close();
    }
  } finally {
    await server.close();
  }
});

test('a stateless stage at 16 kHz behind a 48 kHz client: resamplers + SOLA keep the output aligned and whole', async () => {
  const speech = await readAudio(SPEECH_16K);
  const input = await resample(speech.channels[0], 16000, 48000); // band-limited to 8 kHz
  const server = await startServer({ port: 0, stageFactory: () => new PassThroughStage(16000, { stateful: false, contextSamples: 640 }) });
  try {
    const result = await streamAudio({ sampleRate: 48000, channels: [input] }, { url: server.url, blockMs: 50 });
    const out = result.audio.channels[0];
    assert.is(out.length, input.length);
    const { lag, correlation } = bestLag(input, out, 48);
    assert.is(lag, 0, `output lags input by ${lag} samples after removing the reported ${result.ready.latency.delaySamples}`);
    assert.ok(correlation > 0.99, `correlation ${correlation.toFixed(4)}`);
    // Reported algorithmic latency covers block + SOLA (crossfade + search/2) + both resamplers.
    assert.ok(result.ready.latency.algorithmicMs > 50 + 15 && result.ready.latency.algorithmicMs < 50 + 25, `algorithmic ${result.ready.latency.algorithmicMs} ms`);
  } finally {
    await server.close();
  }
});

test('a listener follows a session in its own rate and format; control messages answer', async () => {
  const input = (await readAudio(SPEECH_48K)).channels[0].subarray(0, 48000 * 2);
  const server = await startServer({ port: 0 });
  try {
    const talker = rawClient(server.url);
    await talker.opened;
    talker.sendJson({ type: 'hello', version: 1, sampleRate: 48000, voice: { pitch: 3 } });
    const ready = await talker.next('ready');
    assert.is(ready.blockSamples, 960);
    assert.equal(ready.voice, { pitch: 3, formant: 1 });
    assert.ok(ready.latency.algorithmicMs > 20);
    const listener = rawClient(server.url);
    await listener.opened;
    listener.sendJson({ type: 'hello', version: 1, role: 'listen', listen: ready.sessionId, sampleRate: 24000, format: 's16', channels: 2 });
    const listenReady = await listener.next('ready');
    assert.is(listenReady.sessionId, ready.sessionId);
    assert.is(listenReady.role, 'listen');
    // Control messages.
    talker.sendJson({ type: 'ping', t: 12345.5 });
    assert.is((await talker.next('pong')).t, 12345.5);
    talker.sendJson({ type: 'set', voice: { formant: 1.2 } });
    assert.equal((await talker.next('voice')).voice, { pitch: 3, formant: 1.2 });
    talker.sendJson({ type: 'model', name: 'no-such-model' });
    const modelError = await talker.next('error');
    assert.is(modelError.code, 'MODEL_NOT_FOUND');
    assert.is(modelError.fatal, false);
    talker.sendJson({ type: 'model', name: 'builtin' });
    assert.is((await talker.next('model')).name, 'builtin');
    await sendPaced(talker.ws, input, 960, 4800);
    await sleep(400);
    talker.sendJson({ type: 'stats' });
    const stats = await talker.next('stats');
    assert.is(stats.sessionId, ready.sessionId);
    assert.is(stats.inputMs, 2000);
    assert.is(stats.listeners, 1);
    assert.ok(stats.outputMs >= 1960 && stats.outputMs <= 2000, `outputMs ${stats.outputMs}`);
    for (const key of ['computeMsMean', 'computeMsP95', 'computeMsMax', 'algorithmicMs', 'blockMs']) assert.type(stats.latency[key], 'number');
    // The listener heard the same conversion at 24 kHz, 16-bit, duplicated to stereo.
    const talkerOut = framesToSamples(talker.frames);
    const bytes = Buffer.concat(listener.frames);
    const frames = bytes.byteLength / 4;
    assert.ok(Math.abs(frames - talkerOut.length / 2) < 200, `listener got ${frames} frames for ${talkerOut.length} at twice the rate`);
    const left = new Float32Array(frames);
    for (let i = 0; i < frames; i++) {
      left[i] = bytes.readInt16LE(i * 4) / 32768;
      assert.is(bytes.readInt16LE(i * 4 + 2), bytes.readInt16LE(i * 4));
    }
    const talkerDown = await resample(talkerOut, 48000, 24000);
    // The listener's own resampler adds the delay its ready message reports (on top of the session's).
    const expectedLag = listenReady.latency.delaySamples - ready.latency.delaySamples / 2;
    const { lag, correlation } = bestLag(talkerDown, left, 200);
    assert.ok(Math.abs(lag - expectedLag) <= 1 && correlation > 0.95, `listener vs talker: lag ${lag} (expected ${expectedLag}), correlation ${correlation.toFixed(3)}`);
    // When the session ends, its listener is told and closed.
    talker.ws.close();
    const ended = await listener.next('error');
    assert.is(ended.code, 'UNKNOWN_SESSION');
    assert.is((await listener.closed).code, 4404);
  } finally {
    await server.close();
  }
});

test('GET /metrics is valid Prometheus text with per-session figures and process figures', async () => {
  const server = await startServer({ port: 0 });
  try {
    const client = rawClient(server.url);
    await client.opened;
    client.sendJson({ type: 'hello', version: 1, sampleRate: 16000, blockMs: 40 });
    const ready = await client.next('ready');
    const input = (await readAudio(SPEECH_16K)).channels[0].subarray(0, 16000);
    await sendPaced(client.ws, input, 320, 1600);
    await sleep(300);
    const response = await fetch(`${server.url}/metrics`);
    assert.is(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const samples = parsePrometheus(await response.text());
    const find = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    // /metrics labels a session by a public tag of its id (the id itself lets a client listen).
    const mine = { session: sessionTag(ready.sessionId) };
    assert.is(find('svc_sessions', { role: 'convert' })?.value, 1);
    assert.is(find('svc_session_input_seconds_total', mine)?.value, 1);
    assert.ok(find('svc_session_output_seconds_total', mine)!.value >= 0.96);
    assert.is(find('svc_session_algorithmic_latency_seconds', mine)?.value, ready.latency.algorithmicMs / 1000);
    assert.is(find('svc_session_block_seconds', mine)?.value, 0.04);
    const meanCompute = find('svc_session_compute_seconds', { ...mine, stat: 'mean' })!.value;
    const maxCompute = find('svc_session_compute_seconds', { ...mine, stat: 'max' })!.value;
    assert.ok(meanCompute > 0 && meanCompute <= maxCompute);
    assert.is(find('svc_session_dropped_blocks_total', { ...mine, action: 'dry' })?.value, 0);
    assert.ok(find('process_resident_memory_bytes')!.value > 10e6);
    assert.ok(find('process_cpu_seconds_total')!.value > 0);
    assert.ok(find('nodejs_eventloop_lag_max_seconds') !== undefined);
    assert.not.ok(samples.some((s) => Object.values(s.labels).includes(ready.sessionId)), 'no session id on /metrics');
    client.ws.close();
    await client.closed;
    await sleep(50);
    const after = parsePrometheus(await (await fetch(`${server.url}/metrics`)).text());
    assert.is(after.find((s) => s.name === 'svc_sessions' && s.labels.role === 'convert')?.value, 0);
    assert.not.ok(after.some((s) => s.labels.session === mine.session), 'a closed session leaves /metrics');
  } finally {
    await server.close();
  }
});

test('static web client: /, /obs and files by path with MIME types; no path traversal', async () => {
  const { dir, cleanup } = makeTempDir('svc-web-');
  const webRoot = join(dir, 'web');
  mkdirSync(join(webRoot, 'js'), { recursive: true });
  writeFileSync(join(webRoot, 'index.html'), '<!doctype html><title>client</title>');
  writeFileSync(join(webRoot, 'obs.html'), '<!doctype html><title>obs</title>');
  writeFileSync(join(webRoot, 'js', 'app.js'), 'export {};');
  writeFileSync(join(dir, 'secret.txt'), 'do not serve');
  const server = await startServer({ port: 0, webRoot });
  try {
    const get = (path: string, init?: RequestInit) => fetch(`${server.url}${path}`, init);
    let r = await get('/');
    assert.is(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await r.text(), /client/);
    r = await get('/obs');
    assert.match(await r.text(), /obs/);
    r = await get('/js/app.js');
    assert.match(r.headers.get('content-type') ?? '', /^text\/javascript/);
    await r.text();
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/js/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/%00', '/nope.html', '/js']) {
      r = await get(path);
      assert.is(r.status, 404, path);
      assert.not.match(await r.text(), /do not serve/);
    }
    r = await get('/ws');
    assert.is(r.status, 426);
    await r.text();
    r = await get('/', { method: 'POST', body: 'x' });
    assert.is(r.status, 405);
    await r.text();
    r = await get('/health');
    assert.equal((await r.json()).ok, true);
  } finally {
    await server.close();
    cleanup();
  }
  // The default root is the repository's clients/web.
  const real = await startServer({ port: 0 });
  try {
    const r = await fetch(`${real.url}/`);
    assert.is(r.status, 200);
    assert.match(await r.text(), /<html|<!doctype/i);
  } finally {
    await real.close();
  }
});

test.run();
