// Neural voices through the real WebSocket server (port 0, real ws clients): a server whose default voice
// is a model, switching builtin ⇄ model mid-stream without dropping the stream, and every bad switch
// (unknown name, broken bundle, a path instead of a name) answered with a non-fatal error while the session
// keeps its voice and the server keeps serving another session.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { streamAudio } from '../src/stream/client.js';
import { ModelResolver } from '../src/voices/registry.js';
import { loadBuiltinStageFactory, startServer } from '../src/server/server.js';
import { installedModelEntries } from '../src/server/models.js';
import { CANDIDATE_BLOCK_MS } from '../src/engine/blockChoice.js';
import type { ModelListResponse } from '../src/stream/protocol.js';
import { makeTempDir, shared, useModelsDir } from './helpers/index.js';
import { buildTinyBundles } from './neural-fixtures.js';
import { framesToSamples, rawClient, sendPaced, sleep } from './stream-utils.js';

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
const temp = makeTempDir('svc-neural-server-');
const root = join(temp.dir, 'models');
let speech: Float32Array;
let restoreModelsDir: (() => void) | undefined;

test.before(async () => {
  const bundles = await buildTinyBundles(temp.dir);
  mkdirSync(join(root, 'tiny'), { recursive: true });
  mkdirSync(join(root, 'broken'), { recursive: true });
  for (const file of readdirSync(bundles.random)) {
    copyFileSync(join(bundles.random, file), join(root, 'tiny', file));
    copyFileSync(join(bundles.random, file), join(root, 'broken', file));
  }
  // A bundle whose config.json disagrees with its generator.
  const config = JSON.parse(readFileSync(join(root, 'broken', 'config.json'), 'utf8'));
  config.data.hop_length = 512;
  writeFileSync(join(root, 'broken', 'config.json'), JSON.stringify(config));
  restoreModelsDir = useModelsDir(root);
  speech = (await readMono(SPEECH_16K)).samples.subarray(0, 48000);
});

test.after(() => {
  restoreModelsDir?.();
  temp.cleanup();
});

function rms(x: Float32Array, from = 0, to = x.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

test('a server whose default voice is a model (svc serve --model tiny) streams a file back whole and aligned', async () => {
  const models = new ModelResolver({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  const server = await startServer({ port: 0, stageFactory: await models.defaultFactory('tiny'), modelName: 'tiny', resolveModel: (n) => models.resolve(n), maxQueueMs: 3000 });
  try {
    const result = await streamAudio({ sampleRate: 16000, channels: [speech] }, { url: server.url, blockMs: 100 });
    assert.is(result.ready.model, 'tiny');
    const out = result.audio.channels[0]!;
    assert.is(out.length, speech.length);
    assert.ok(rms(out, 8000, out.length - 8000) > 1e-3, 'the model made sound');
    assert.ok(result.ready.latency.algorithmicMs > 100, `latency ${result.ready.latency.algorithmicMs} ms includes the model's look-ahead`);
  } finally {
    await server.close();
    await models.close();
  }
});

test('a model streamed faster than real time under the default queue limit converts every block (svc stream flow control)', async () => {
  // The server's defaults (queue limit max(4 blocks, 200 ms), policy) and the client's own flow control:
  // with the voice's look-ahead counted as "in flight" the queue reached 320 ms and most blocks came back
  // dry. Independent of the machine's speed: the window bounds the queue, not a clock.
  const models = new ModelResolver({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  const server = await startServer({ port: 0, stageFactory: await models.defaultFactory('tiny'), modelName: 'tiny', resolveModel: (n) => models.resolve(n) });
  try {
    const result = await streamAudio({ sampleRate: 16000, channels: [speech] }, { url: server.url, blockMs: 20 });
    const s = result.stats!;
    assert.ok(s.blocks.converted >= Math.floor(speech.length / 320), `converted ${s.blocks.converted} blocks`);
    assert.is(s.blocks.notConverted, 0, `not converted: ${JSON.stringify(s.dropped)}, queue max ${s.queueMaxMs} ms`);
    assert.ok(s.queueMaxMs <= 200, `queue peaked at ${s.queueMaxMs} ms`);
  } finally {
    await server.close();
    await models.close();
  }
});

test('without a blockMs a model streams in the block measured at load: real time, ≥ 99 % of blocks converted; /api/models and the model reply carry it', async () => {
  // `svc serve --model tiny` with no --block-ms: the server times the model at start (the function
  // `svc live` uses) and gives clients that choose no block the smallest one it converts in time here.
  // Sent at real-time pace like a microphone, on this busy machine, almost every block is converted.
  const models = new ModelResolver({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  const server = await startServer({ port: 0, stageFactory: await models.defaultFactory('tiny'), modelName: 'tiny', resolveModel: (n) => models.resolve(n), listModels: () => installedModelEntries() });
  const other = rawClient(server.url);
  try {
    const list = (await (await fetch(`${server.url}/api/models`)).json()) as ModelListResponse;
    const blockMs = list.models.find((m) => m.name === 'tiny')!.blockMs!;
    assert.ok(CANDIDATE_BLOCK_MS.includes(blockMs as (typeof CANDIDATE_BLOCK_MS)[number]), `measured block ${blockMs} ms`);
    assert.is(list.models.find((m) => m.name === 'builtin')!.blockMs, 20);
    const result = await streamAudio({ sampleRate: 16000, channels: [speech] }, { url: server.url, realtime: true });
    assert.is(result.ready.blockSamples, (blockMs * 16000) / 1000, 'the session converts in the measured block');
    const s = result.stats!;
    const share = s.blocks.converted / (s.blocks.converted + s.blocks.notConverted);
    assert.ok(s.blocks.converted >= Math.floor((speech.length / 16000) * (1000 / blockMs)) - 1, `converted ${s.blocks.converted} blocks`);
    // What the server adds per sample, the server part of what a click measurement gives (bench --only latency).
    // The queue's partial block is the block filling, already in algorithmicMs: only whole blocks add.
    const wholeQueuedMs = Math.floor(s.queueMs / blockMs + 1e-6) * blockMs;
    assert.ok(Math.abs(s.latency.serverMs - (s.latency.algorithmicMs + s.latency.computeMsMedian + wholeQueuedMs)) < 0.1, `${JSON.stringify(s.latency)}, queue ${s.queueMs} ms`);
    assert.ok(s.latency.serverMs > blockMs, `serverMs ${s.latency.serverMs} includes the block`);
    assert.ok(share >= 0.99, `${(100 * share).toFixed(1)} % of blocks converted (${JSON.stringify(s.dropped)}, compute p95 ${s.latency.computeMsP95} ms per ${blockMs} ms block)`);

    // A session that starts on the built-in voice (20 ms) and switches to the model takes the model's block;
    // one that chose its block keeps it.
    await other.opened;
    other.sendJson({ type: 'hello', version: 1, sampleRate: 16000 });
    assert.is((await other.next('ready')).blockSamples, (blockMs * 16000) / 1000, 'the default voice is the model');
    other.sendJson({ type: 'model', name: 'builtin' });
    assert.is((await other.next('model', 20000)).blockSamples, 320, 'the built-in voice converts in 20 ms blocks');
    other.sendJson({ type: 'model', name: 'tiny' });
    assert.is((await other.next('model', 20000)).blockSamples, (blockMs * 16000) / 1000, "back to the model's block");
    const fixed = await streamAudio({ sampleRate: 16000, channels: [speech.subarray(0, 8000)] }, { url: server.url, blockMs: 50, model: 'builtin' });
    assert.is(fixed.ready.blockSamples, 800, 'a chosen block stays across the switch');
  } finally {
    other.ws.close();
    await server.close();
    await models.close();
  }
});

test('switching builtin → model → builtin mid-stream keeps the stream going; bad switches keep the voice and the server', async () => {
  const models = new ModelResolver({ builtin: loadBuiltinStageFactory, f0Method: 'dsp' });
  const server = await startServer({ port: 0, resolveModel: (n) => models.resolve(n), maxQueueMs: 3000 });
  const talker = rawClient(server.url);
  const other = rawClient(server.url);
  try {
    await Promise.all([talker.opened, other.opened]);
    for (const c of [talker, other]) c.sendJson({ type: 'hello', version: 1, sampleRate: 16000, format: 'f32', channels: 1, blockMs: 50 });
    assert.is((await talker.next('ready')).model, 'builtin');
    await other.next('ready');
    const third = speech.length / 3;
    const otherSending = sendPaced(other.ws, speech, 800, 4000, 30);
    await sendPaced(talker.ws, speech.subarray(0, third), 800, 4000, 30);

    const builtinReady = talker.messages.find((m) => m.type === 'ready')!;
    talker.sendJson({ type: 'model', name: 'tiny' });
    const switched = await talker.next('model', 20000);
    assert.is(switched.name, 'tiny');
    // The confirmation carries the model's latency (its look-ahead), and stats follow with the model named.
    assert.equal(switched.controls, ['pitch']);
    // (the tiny model: 105 ms of look-ahead + 15 ms of SOLA; the DSP voice about 21 ms)
    assert.ok(switched.latency.delayMs > builtinReady.latency.delayMs + 80, `delay ${switched.latency.delayMs} ms vs builtin ${builtinReady.latency.delayMs} ms`);
    const switchedAt = talker.messages.indexOf(switched);
    for (let i = 0; i < 50 && !talker.messages.slice(switchedAt).some((m) => m.type === 'stats'); i++) await sleep(100);
    const after = talker.messages.slice(switchedAt).find((m) => m.type === 'stats')!;
    assert.ok(after, 'a stats message follows the switch');
    assert.is(after.model, 'tiny');
    assert.is(after.latency.delayMs, switched.latency.delayMs);
    await sendPaced(talker.ws, speech.subarray(third, 2 * third), 800, 4000, 30);

    // Bad switches: each a non-fatal MODEL_NOT_FOUND naming the cause; the session stays on tiny.
    const bad: Array<[string, RegExp]> = [
      ['no-such-model', /no model named 'no-such-model'/],
      ['broken', /MODEL_INVALID.*hop_length/],
      ['../models/tiny', /installed folder names/],
      ['tiny:nobody', /unknown speaker 'nobody'/],
    ];
    for (const [name, pattern] of bad) {
      talker.sendJson({ type: 'model', name });
      const error = await talker.next('error', 20000);
      assert.is(error.code, 'MODEL_NOT_FOUND', name);
      assert.is(error.fatal, false);
      assert.match(error.message, pattern);
      assert.match(error.message, /keeping "tiny"/);
    }
    talker.sendJson({ type: 'model', name: 'builtin' });
    assert.is((await talker.next('model', 20000)).name, 'builtin');
    await sendPaced(talker.ws, speech.subarray(2 * third), 800, 4000, 30);
    await otherSending;

    // Everything sent comes back (minus the pipeline delay still in flight); no error closed anything.
    const expected = speech.length;
    for (let i = 0; i < 100; i++) {
      if (framesToSamples(talker.frames).length >= expected - 16000 * 0.3 && framesToSamples(other.frames).length >= expected - 16000 * 0.3) break;
      await sleep(100);
    }
    const out = framesToSamples(talker.frames);
    assert.ok(out.length >= expected - 16000 * 0.3 && out.length <= expected, `talker got ${out.length} of ${expected} samples`);
    assert.ok(framesToSamples(other.frames).length >= expected - 16000 * 0.3, 'the other session was served throughout');
    assert.ok(rms(out, 2 * third - 8000, 2 * third - 1600) > 1e-3, 'model output while on tiny');
    const health = await (await fetch(`${server.url}/health`)).json();
    assert.equal(health.sessions.convert, 2);
    const stats = await (talker.sendJson({ type: 'stats' }), talker.next('stats'));
    assert.ok(stats.dropped.skippedBlocks === 0, 'nothing skipped');
  } finally {
    talker.ws.close();
    other.ws.close();
    await server.close();
    await models.close();
  }
});

test.run();
