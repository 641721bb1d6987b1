// Pipeline unit tests: ring buffer, SOLA stitching of a stateless stage, chunking invariance, alignment,
// and the behind-real-time policy with a deliberately slow stage.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { from, lastValueFrom, toArray } from 'rxjs';
import { Float32RingBuffer } from '../src/engine/ringBuffer.js';
import { convertChunks, StreamPipeline, type PipelineOptions } from '../src/engine/pipeline.js';
import { PassThroughStage, type ConverterStage } from '../src/voices/stage.js';
import { parseClientMessage } from '../src/stream/protocol.js';
import { decodeFrame, encodeFrame } from '../src/stream/codec.js';
import { concatFloat32 } from '../src/dsp/arrays.js';

const RATE = 16000;

/** What the test stages share: the rate, no voice controls, nothing to reset or free. */
abstract class TestStage implements ConverterStage {
  readonly sampleRate = RATE;
  constructor(readonly name: string, readonly stateful: boolean, readonly lookaheadSamples: number, readonly contextSamples: number) {}
  abstract process(window: Float32Array): Float32Array | Promise<Float32Array>;
  setVoice(): void {}
  reset(): void {}
  dispose(): void {}
}

/** Stateless stage imitating a vocoder: every window restarts a sine at phase 0 (plus some of the input). */
class PhaseResetSineStage extends TestStage {
  constructor(private readonly frequencyHz: number, private readonly inputMix = 0) {
    super('phase-reset-sine', false, 0, 800);
  }
  process(window: Float32Array): Float32Array {
    const out = new Float32Array(window.length);
    for (let n = 0; n < window.length; n++) out[n] = 0.5 * Math.sin((2 * Math.PI * this.frequencyHz * n) / RATE) + this.inputMix * window[n];
    return out;
  }
}

/** Stateful stage: a one-pole low-pass filter plus a pure delay of `lookaheadSamples`. */
class StatefulFilterStage extends TestStage {
  private y = 0;
  private readonly delay: number[];
  constructor(lookaheadSamples: number, private readonly coefficient = 0.3) {
    super('stateful-filter', true, lookaheadSamples, 0);
    this.delay = new Array<number>(lookaheadSamples).fill(0);
  }
  process(block: Float32Array): Float32Array {
    const out = new Float32Array(block.length);
    for (let i = 0; i < block.length; i++) {
      this.y += this.coefficient * (block[i] - this.y);
      this.delay.push(this.y);
      out[i] = this.delay.shift()!;
    }
    return out;
  }
}

/** A stateful stage that takes `delayMs` of wall time per block (asynchronously, like a model on a worker). */
class SlowStage extends TestStage {
  constructor(private readonly delayMs: number) {
    super('slow', true, 0, 0);
  }
  process(block: Float32Array): Promise<Float32Array> {
    return new Promise((resolve) => setTimeout(() => resolve(block.slice()), this.delayMs));
  }
}

function noise(length: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.8;
  }
  return out;
}

function randomChunks(signal: Float32Array, seed: number): Float32Array[] {
  const chunks: Float32Array[] = [];
  let s = seed;
  for (let offset = 0; offset < signal.length; ) {
    s = (s * 1103515245 + 12345) >>> 0;
    const size = 1 + (s % 997);
    chunks.push(signal.slice(offset, offset + size));
    offset += size;
  }
  return chunks;
}

async function convertAll(createStage: () => ConverterStage, chunks: Float32Array[], options: PipelineOptions): Promise<Float32Array> {
  const parts = await lastValueFrom(from(chunks).pipe(convertChunks(createStage, options), toArray()));
  return concatFloat32(parts);
}

function maxJump(x: Float32Array, from = 1, to = x.length): number {
  let m = 0;
  for (let i = Math.max(1, from); i < to; i++) m = Math.max(m, Math.abs(x[i] - x[i - 1]));
  return m;
}

test('ring buffer keeps order across wrap-around and refuses overflow', () => {
  const ring = new Float32RingBuffer(5);
  ring.write(Float32Array.of(1, 2, 3));
  const two = new Float32Array(2);
  ring.readInto(two);
  assert.equal(Array.from(two), [1, 2]);
  ring.write(Float32Array.of(4, 5, 6, 7));
  assert.is(ring.availableSamples, 5);
  assert.throws(() => ring.write(Float32Array.of(8)));
  const all = new Float32Array(5);
  ring.readInto(all);
  assert.equal(Array.from(all), [3, 4, 5, 6, 7]);
  assert.is(ring.availableSamples, 0);
});

test('SOLA stitches a stateless stage that restarts its phase every window into a continuous sine', async () => {
  const frequencyHz = 220;
  const blockSamples = 320; // 20 ms: not a whole number of periods (72.7 samples)
  const input = noise(RATE); // 1 s; the stage ignores it
  const out = await convertAll(() => new PhaseResetSineStage(frequencyHz), [input], { blockSamples, crossfadeSamples: 160, searchSamples: 160 });
  assert.is(out.length, input.length);
  const naturalJump = 0.5 * 2 * Math.sin((Math.PI * frequencyHz) / RATE);
  const settled = out.subarray(blockSamples * 2);
  assert.ok(maxJump(settled) < 1.3 * naturalJump, `largest step ${maxJump(settled).toFixed(4)} vs a clean sine's ${naturalJump.toFixed(4)}`);
  // No amplitude dips at the crossfades: every period still peaks near 0.5.
  const period = Math.round(RATE / frequencyHz);
  for (let start = 0; start + period <= settled.length; start += period) {
    let peak = 0;
    for (let i = start; i < start + period; i++) peak = Math.max(peak, Math.abs(settled[i]));
    assert.ok(peak > 0.45, `peak ${peak.toFixed(3)} at ${start}`);
  }
  // The same windows concatenated without SOLA would click (this is what the test guards against).
  const stage = new PhaseResetSineStage(frequencyHz);
  const naive = new Float32Array(blockSamples * 10);
  for (let b = 0; b < 10; b++) naive.set(stage.process(new Float32Array(blockSamples)), b * blockSamples);
  assert.ok(maxJump(naive) > 3 * naturalJump);
});

test('arbitrary chunking of the input gives the same output (stateless + SOLA and stateful)', async () => {
  const input = noise(RATE * 0.7, 7);
  const options = { blockSamples: 256, crossfadeSamples: 96, searchSamples: 64 };
  const stateless = () => new PhaseResetSineStage(180, 0.5);
  const whole = await convertAll(stateless, [input], options);
  const chunked = await convertAll(stateless, randomChunks(input, 3), options);
  assert.is(whole.length, input.length);
  assert.equal(Array.from(chunked), Array.from(whole));
  const stateful = () => new StatefulFilterStage(37);
  const wholeStateful = await convertAll(stateful, [input], { blockSamples: 160 });
  const chunkedStateful = await convertAll(stateful, randomChunks(input, 11), { blockSamples: 160 });
  assert.equal(Array.from(chunkedStateful), Array.from(wholeStateful));
});

test('output is time-aligned with the input once the reported delay is removed', async () => {
  const input = noise(RATE / 2, 5);
  const identityStateless = () => new PassThroughStage(RATE, { stateful: false, contextSamples: 400 });
  const a = await convertAll(identityStateless, randomChunks(input, 2), { blockSamples: 320 });
  assert.is(a.length, input.length);
  let maxError = 0;
  for (let i = 0; i < input.length; i++) maxError = Math.max(maxError, Math.abs(a[i] - input[i]));
  assert.ok(maxError < 1e-5, `stateless identity differs by ${maxError}`);
  // A stateful stage with a pure delay of 50 samples and a low-pass filter: removing the declared
  // delay leaves exactly the filtered input.
  const b = await convertAll(() => new StatefulFilterStage(50, 1), [input], { blockSamples: 200 });
  for (let i = 0; i < input.length; i++) maxError = Math.max(maxError, Math.abs(b[i] - input[i]));
  assert.ok(maxError < 1e-6, `stateful delay differs by ${maxError}`);
});

async function feedRealTime(pipeline: StreamPipeline, seconds: number, chunkMs = 10): Promise<void> {
  const chunk = Math.round((RATE * chunkMs) / 1000);
  const total = Math.round((seconds * 1000) / chunkMs);
  const startMs = performance.now();
  for (let i = 0; i < total; i++) {
    pipeline.push(noise(chunk, i + 1));
    const due = startMs + (i + 1) * chunkMs;
    await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
  }
}

for (const policy of ['dry', 'skip', 'silence'] as const) {
  test(`a stage slower than real time triggers the '${policy}' policy, counted, with a bounded queue`, async () => {
    const blockSamples = 320; // 20 ms
    const pipeline = new StreamPipeline(new SlowStage(45), { blockSamples, policy, maxQueueSamples: 1600 });
    let outputSamples = 0;
    pipeline.output$.subscribe((b) => (outputSamples += b.length));
    await feedRealTime(pipeline, 1.2);
    await new Promise((r) => setTimeout(r, 150)); // the stage call in flight ends; the pump handles the backlog
    const stats = pipeline.stats();
    pipeline.dispose();
    const handled = policy === 'dry' ? stats.blocksDry : policy === 'skip' ? stats.blocksSkipped : stats.blocksSilenced;
    assert.ok(handled > 5, `policy blocks ${handled}`);
    assert.ok(stats.blocksConverted > 5 && stats.blocksConverted < 40, `converted ${stats.blocksConverted}`);
    // Bounded: the policy keeps the queue inside its ring buffer (2 × threshold + 2 blocks) and never
    // lets it overflow; what is left at the end is below the threshold.
    assert.ok(stats.queueMaxSamples <= 2 * 1600 + 2 * blockSamples, `queue max ${stats.queueMaxSamples}`);
    assert.is(stats.overflowSamples, 0);
    assert.ok(stats.queueSamples <= 1600, `queue left ${stats.queueSamples}`);
    const missing = stats.inputSamples - outputSamples - stats.queueSamples;
    // Whatever is neither queued nor output is the skipped blocks (skip only) plus at most the block in flight.
    const unaccounted = missing - (policy === 'skip' ? stats.blocksSkipped * blockSamples : 0);
    assert.ok(unaccounted >= 0 && unaccounted <= blockSamples, `${unaccounted} samples unaccounted for`);
  });
}

test('hello gets the documented defaults; invalid fields are named', () => {
  const parsed = parseClientMessage('{"type":"hello","version":1}');
  assert.ok(parsed.ok);
  // No blockMs: the server picks the voice's block (20 ms for the built-in voice, a model's measured one).
  assert.equal(parsed.ok && parsed.message, { type: 'hello', version: 1, role: 'convert', sampleRate: 48000, format: 'f32', channels: 1, voice: { pitch: 0, formant: 1 } });
  const withServerBlock = parseClientMessage('{"type":"hello","version":1,"voice":{"pitch":-3}}', { defaultBlockMs: 50 });
  assert.equal(withServerBlock.ok && withServerBlock.message, { type: 'hello', version: 1, role: 'convert', sampleRate: 48000, format: 'f32', channels: 1, blockMs: 50, voice: { pitch: -3, formant: 1 } });
  const cases: Array<[string, string, RegExp]> = [
    ['{"type":"hello","version":1,"channels":3}', 'BAD_MESSAGE', /hello\.channels: expected an integer one of 1, 2, got 3/],
    ['{"type":"hello","version":1,"voice":{"formant":"big"}}', 'BAD_MESSAGE', /hello\.voice\.formant: expected a number from 0\.5 to 2, got "big"/],
    ['{"type":"set","voice":{"pitch":-25}}', 'BAD_MESSAGE', /set\.voice\.pitch/],
    ['{"type":"model"}', 'BAD_MESSAGE', /model\.name/],
    ['"hello"', 'BAD_MESSAGE', /JSON object/],
    ['{"type":', 'BAD_JSON', /JSON/],
  ];
  for (const [text, code, pattern] of cases) {
    const r = parseClientMessage(text);
    assert.not.ok(r.ok, text);
    if (!r.ok) {
      assert.is(r.code, code, text);
      assert.match(r.message, pattern);
    }
  }
});

test('wire codec: s16 stereo round trip, whole frames only, hostile floats sanitized', () => {
  const x = Float32Array.from({ length: 500 }, (_, i) => 0.8 * Math.sin(i / 7));
  const bytes = encodeFrame(x, 's16', 2);
  assert.is(bytes.byteLength, 500 * 2 * 2);
  const back = decodeFrame(bytes, 's16', 2);
  assert.ok(back.ok);
  if (back.ok) for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back.samples[i] - x[i]) < 1e-4);
  assert.not.ok(decodeFrame(bytes.subarray(0, 6), 's16', 2).ok, 'one and a half stereo frames');
  assert.not.ok(decodeFrame(Buffer.alloc(0), 'f32', 1).ok, 'empty');
  const hostile = Buffer.alloc(12);
  hostile.writeFloatLE(NaN, 0);
  hostile.writeFloatLE(-Infinity, 4);
  hostile.writeFloatLE(3e38, 8);
  const clean = decodeFrame(hostile, 'f32', 1);
  assert.equal(clean.ok && Array.from(clean.samples), [0, 0, 1]);
});

test.run();
