// The real voice never leaks by default: when conversion falls behind (a slow voice, a client that
// stalls and then sends a burst) or a conversion fails, the default policy outputs silence, never the
// unconverted input; `dry` does so only when asked for. The "voice" here marks its output with a
// constant level (0.25) and the input is a loud sine (0.9), so any leaked input is unmistakable.
// No clock in the assertions: the backlog is created by pushing a burst at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_BEHIND_POLICY, StreamPipeline, type BehindPolicy } from '../src/engine/pipeline.js';
import { startServer } from '../src/server/server.js';
import type { ConverterStage } from '../src/voices/stage.js';
import { f32Bytes, framesToSamples, rawClient, sleep } from './stream-utils.js';

const RATE = 16000;
const MARK = 0.25;

/** A stateful "voice" that answers every block with the constant MARK, after `delayMs` (async). */
class MarkingStage implements ConverterStage {
  readonly name = 'marking';
  readonly sampleRate = RATE;
  readonly lookaheadSamples = 0;
  readonly contextSamples = 0;
  readonly stateful = true;
  calls = 0;
  constructor(readonly delayMs: number, readonly failEvery = 0) {}
  setVoice(): void {}
  reset(): void {}
  dispose(): void {}
  process(block: Float32Array): Promise<Float32Array> {
    const call = ++this.calls;
    return new Promise((resolve, reject) =>
      setTimeout(() => (this.failEvery && call % this.failEvery === 0 ? reject(new Error('model run failed')) : resolve(new Float32Array(block.length).fill(MARK))), this.delayMs),
    );
  }
}

function sine(samples: number): Float32Array {
  return Float32Array.from({ length: samples }, (_, i) => 0.9 * Math.sin((2 * Math.PI * 440 * i) / RATE));
}

/** Samples louder than the voice's mark: input that leaked through. */
function leakedSamples(output: Float32Array): number {
  let n = 0;
  for (const v of output) if (Math.abs(v) > MARK + 1e-6) n++;
  return n;
}

/** Converts one second of sine; `burst`: pushed at once (a stall, then everything), else written without loss. */
async function run(stage: MarkingStage, policy?: BehindPolicy, burst = true): Promise<{ output: Float32Array; stats: ReturnType<StreamPipeline['stats']> }> {
  const pipeline = new StreamPipeline(stage, { blockSamples: 320, policy, maxQueueSamples: 1600 });
  const blocks: Float32Array[] = [];
  pipeline.output$.subscribe((b) => blocks.push(b));
  pipeline.errors$.subscribe(() => {});
  if (burst) pipeline.push(sine(RATE));
  else await pipeline.write(sine(RATE));
  await pipeline.drain();
  const stats = pipeline.stats();
  pipeline.dispose();
  const output = new Float32Array(blocks.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of blocks) output.set(b, (offset += b.length) - b.length);
  return { output, stats };
}

test('the default policy is silence', () => {
  assert.is(DEFAULT_BEHIND_POLICY, 'silence');
  assert.is(new StreamPipeline(new MarkingStage(0), { blockSamples: 320 }).policy, 'silence');
});

test('behind real time by default: silenced blocks, no input in the output, no gap', async () => {
  const { output, stats } = await run(new MarkingStage(5));
  assert.ok(stats.blocksSilenced > 10, `silenced ${stats.blocksSilenced}`);
  assert.is(stats.blocksDry, 0);
  assert.is(leakedSamples(output), 0, 'the unconverted sine never comes out');
  // Input beyond the queue's ring buffer is discarded (counted); every other block has an output block.
  assert.is(output.length + stats.overflowSamples, RATE);
  assert.ok(stats.blocksConverted > 0);
});

test('a failing conversion outputs silence by default (dry only under the dry policy)', async () => {
  const quiet = await run(new MarkingStage(0, 3), undefined, false);
  assert.ok(quiet.stats.stageErrors > 10, `stage errors ${quiet.stats.stageErrors}`);
  assert.is(quiet.output.length, RATE);
  assert.is(leakedSamples(quiet.output), 0);
  const dry = await run(new MarkingStage(0, 3), 'dry', false);
  assert.ok(leakedSamples(dry.output) > 1000, 'dry is what it says: the input comes through');
});

test('silence after converted audio ramps down instead of clicking', async () => {
  const { output } = await run(new MarkingStage(5));
  // Downward steps are the converted → silence transitions (the voice's own level is constant).
  let drop = 0;
  for (let i = 1; i < output.length; i++) drop = Math.max(drop, output[i - 1]! - output[i]!);
  assert.ok(drop < 0.01, `largest downward step ${drop}`);
});

test('a server with default options: a client that stalls then bursts gets silence, not its own voice', async () => {
  const server = await startServer({ port: 0, maxQueueMs: 100, stageFactory: () => new MarkingStage(5) });
  const client = rawClient(server.url);
  try {
    await client.opened;
    client.sendJson({ type: 'hello', version: 1, sampleRate: RATE, blockMs: 20 });
    const ready = await client.next('ready');
    const input = sine(RATE);
    // 1 s in one go (as after a 1 s network stall), in 20 ms frames.
    for (let i = 0; i < input.length; i += 320) client.ws.send(f32Bytes(input.subarray(i, i + 320)));
    for (let i = 0; i < 100 && framesToSamples(client.frames).length < RATE; i++) await sleep(100);
    client.sendJson({ type: 'stats' });
    const stats = await client.next('stats');
    assert.is(stats.policy, 'silence');
    assert.is(stats.dropped.dryBlocks, 0);
    assert.ok(stats.dropped.silencedBlocks > 0, JSON.stringify(stats.dropped));
    assert.is(leakedSamples(framesToSamples(client.frames)), 0, `no input came back (ready ${ready.sessionId})`);
  } finally {
    client.ws.close();
    await server.close();
  }
});

test.run();
