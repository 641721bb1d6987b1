// The So-VITS feature timeline is the one place features are computed: dataset preprocessing (training
// features), offline conversion and the streaming stage all drain it. Here: the features preprocessing
// writes for a clip are bit-identical to what the generator is fed for that clip, and to what a live
// timeline computes from the same audio pushed in arbitrary chunks (incremental f0, volume, 16 kHz feed);
// the live content rows come from bounded-context encoder runs on other lengths, which onnxruntime sums in
// another order: equal to float32 rounding (≤ 1e-6), not bit for bit. At a model rate other than 16 kHz
// the timeline resamples each block once: its f0 reads the same 16 kHz feed as the encoder.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { createF0Stream, type F0Frame } from '../src/dsp/f0/index.js';
import { StreamingResamplerTo16k } from '../src/dsp/f0/resample16k.js';
import { CONFIG_PRESETS } from '../src/offline/config.js';
import { runPythonModule } from '../src/python.js';
import { ContentEncoder } from '../src/voices/sovits/encoder.js';
import { extractClipFeatures, trainingTimelineOptions } from '../src/voices/sovits/features.js';
import { SovitsTimeline, type TimelineOptions, type TrainingFeatures } from '../src/voices/sovits/timeline.js';
import { makeTempDir, shared } from './helpers/index.js';

const temp = makeTempDir('svc-timeline-');
const settings = CONFIG_PRESETS.tiny;
let encoder: ContentEncoder;
let clip: Float32Array;

test.before(async () => {
  const path = join(temp.dir, 'tiny-encoder.onnx');
  await runPythonModule('export_run', ['--write-tiny-encoder', path]);
  encoder = await ContentEncoder.load(path, { intraOpThreads: 1 });
  // 4 s of speech with pauses at the model rate (the tiny config runs at 16 kHz).
  clip = (await readMono(shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav'))).samples.slice(0, 4 * 16000);
});

test.after(async () => {
  await encoder?.dispose();
  temp.cleanup();
});

/** Pushes `samples` in pseudo-random chunks of 1..maxChunk samples (seeded). */
async function pushInChunks(timeline: SovitsTimeline, samples: Float32Array, maxChunk: number, seed: number): Promise<void> {
  let state = seed >>> 0;
  for (let offset = 0; offset < samples.length; ) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const size = 1 + (state % maxChunk);
    await timeline.push(samples.subarray(offset, Math.min(samples.length, offset + size)));
    offset += size;
  }
}

/** f0, uv and volume bit for bit; content rows to `unitsTolerance` (0 = bit for bit). */
function assertSameFeatures(a: TrainingFeatures, b: TrainingFeatures, label: string, unitsTolerance = 0): void {
  assert.is(a.frames, b.frames, `${label}: frames`);
  assert.is(a.units.rows, b.units.rows, `${label}: content rows`);
  assert.is(a.units.dim, b.units.dim, `${label}: content width`);
  for (const key of ['f0Hz', 'uv', 'volume'] as const) {
    const x = a[key];
    const y = b[key];
    assert.is(x.length, y.length, `${label}: ${key} length`);
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) assert.unreachable(`${label}: ${key}[${i}] ${x[i]} vs ${y[i]}`);
  }
  const u = a.units.data;
  const v = b.units.data;
  for (let i = 0; i < u.length; i++) if (!(Math.abs(u[i]! - v[i]!) <= unitsTolerance)) assert.unreachable(`${label}: content row ${Math.floor(i / a.units.dim)} differs (${u[i]} vs ${v[i]})`);
}

test('training features (preprocess) equal a live timeline fed the clip in random chunks', async () => {
  const trained = await extractClipFeatures(clip, settings, encoder, { f0Method: 'dsp' });
  assert.is(trained.frames, Math.floor(clip.length / settings.hopLength));
  assert.ok(trained.voicedFrames > 20 && trained.voicedFrames < trained.frames, `voiced frames ${trained.voicedFrames} of ${trained.frames}`);
  assert.is(trained.units.rows, Math.floor((clip.length - 400) / 320) + 1, 'one content row per 20 ms');
  for (const [maxChunk, seed] of [[700, 1], [4000, 2], [97, 3]] as const) {
    const live = await SovitsTimeline.create(trainingTimelineOptions(settings, encoder, 'dsp'));
    try {
      await pushInChunks(live, clip, maxChunk, seed);
      await live.finish();
      assertSameFeatures(live.trainingFeatures(), trained, `chunks ≤ ${maxChunk}`, 1e-6);
    } finally {
      live.dispose();
    }
  }
});

test('the generator is fed the training features bit for bit: f0, uv and volume of every frame, and the content rows', async () => {
  const trained = await extractClipFeatures(clip, settings, encoder, { f0Method: 'dsp' });
  const timeline = await SovitsTimeline.create(trainingTimelineOptions(settings, encoder, 'dsp'));
  try {
    await timeline.drainFile(clip);
    const fed = timeline.window(0, trained.frames, 1);
    assert.equal(Array.from(fed.f0Hz), Array.from(trained.f0Hz));
    assert.equal(Array.from(fed.uv), Array.from(trained.uv));
    assert.equal(Array.from(fed.vol), Array.from(trained.volume));
    // Frame k reads the row holding its centre (20 ms rows, 20 ms hop here: row k).
    for (let k = 0; k < trained.frames; k++) assert.is(fed.mel2ph[k], BigInt(Math.min(k, trained.units.rows - 1) + 1));
    assert.equal(Array.from(fed.content), Array.from(trained.units.data.subarray(0, fed.rows * trained.units.dim)));
  } finally {
    timeline.dispose();
  }
});

test("the live stage's settings (low-latency f0, 2-frame gap look-ahead) give the same windows however the input is chunked", async () => {
  const options: TimelineOptions = { ...trainingTimelineOptions(settings, encoder, 'dsp'), f0LowLatency: true, gapLookaheadFrames: 2, encoderContext: { leftRows: 2, rightRows: 2 } };
  const whole = await SovitsTimeline.create(options);
  const chunked = await SovitsTimeline.create(options);
  try {
    await whole.push(clip);
    await pushInChunks(chunked, clip, 1600, 9);
    const frames = Math.min(whole.framesKnown, chunked.framesKnown);
    assert.ok(frames > 150, `frames known ${frames}`);
    const a = whole.window(0, frames, 1.5);
    const b = chunked.window(0, frames, 1.5);
    assert.equal(Array.from(a.f0Hz), Array.from(b.f0Hz));
    assert.equal(Array.from(a.uv), Array.from(b.uv));
    assert.equal(Array.from(a.mel2ph), Array.from(b.mel2ph));
    assert.is(a.content.length, b.content.length);
    for (let i = 0; i < a.content.length; i++) if (!(Math.abs(a.content[i]! - b.content[i]!) <= 1e-6)) assert.unreachable(`content value ${i}: ${a.content[i]} vs ${b.content[i]}`);
    assert.is(whole.sourcePhase(frames, 1.5), chunked.sourcePhase(frames, 1.5));
  } finally {
    whole.dispose();
    chunked.dispose();
  }
});

/** An encoder stand-in for f0-only checks: one zero row per 20 ms. */
const zeroEncoder = { encode: async (a: Float32Array) => ({ content: new Float32Array(Math.floor((a.length - 400) / 320) + 1), rows: Math.floor((a.length - 400) / 320) + 1 }) };

test("the f0 stream takes a caller's 16 kHz feed (feed16k): fed its own resampler's output it gives its own frames", async () => {
  const x = await resample(clip, 16000, 44100);
  const own = await createF0Stream(44100, { method: 'dsp', hopSamples: 512 });
  const fed = await createF0Stream(44100, { method: 'dsp', hopSamples: 512, feed16k: { lookaheadInputSamples: new StreamingResamplerTo16k(44100).lookaheadInputSamples } });
  const kaiser = new StreamingResamplerTo16k(44100);
  try {
    assert.is(fed.latencySamples, own.latencySamples);
    const a: F0Frame[] = [];
    const b: F0Frame[] = [];
    for (let i = 0; i < x.length; i += 3000) {
      const chunk = x.subarray(i, i + 3000);
      a.push(...(await own.process(chunk)));
      b.push(...(await fed.processResampled(kaiser.process(chunk), chunk.length)));
    }
    a.push(...(await own.flush()));
    b.push(...(await fed.flush(kaiser.flush())));
    assert.is(a.length, Math.floor(x.length / 512));
    assert.equal(b, a);
  } finally {
    await own.dispose();
    await fed.dispose();
  }
});

test('at 44.1 kHz the timeline resamples once: its f0 is the f0 of its own 16 kHz encoder feed', async () => {
  const x = await resample(clip, 16000, 44100);
  const options: TimelineOptions = { sampleRate: 44100, hopSamples: 512, f0Method: 'dsp', f0LowLatency: false, volume: false, encoder: zeroEncoder, contentDim: 1, encoderContext: { leftRows: 0, rightRows: 0 }, gapLookaheadFrames: Infinity };
  const timeline = await SovitsTimeline.create(options);
  const f0 = await createF0Stream(44100, { method: 'dsp', hopSamples: 512, feed16k: { lookaheadInputSamples: 0 } });
  try {
    await timeline.drainFile(x);
    const feed = timeline.audio16kView;
    assert.is(feed.length, Math.round((x.length * 16000) / 44100));
    const frames = await f0.processResampled(feed, x.length);
    frames.push(...(await f0.flush(new Float32Array(0))));
    assert.is(frames.length, Math.floor(x.length / 512));
    let voiced = 0;
    for (const frame of frames) {
      const t = timeline.rawF0(frame.index);
      // The timeline holds f0 as float32.
      if (t.f0Hz !== Math.fround(frame.f0Hz) || t.voiced !== frame.voiced) assert.unreachable(`frame ${frame.index}: timeline ${t.f0Hz} Hz (${t.voiced}) vs its feed's ${frame.f0Hz} Hz (${frame.voiced})`);
      voiced += frame.voiced ? 1 : 0;
    }
    assert.ok(voiced > 50, `voiced frames ${voiced}`);
  } finally {
    timeline.dispose();
    await f0.dispose();
  }
});

test('low-latency dsp tracker lag: 1 frame where the f0 bounds the look-ahead (a causal encoder, the small model), else the mode\'s own; each frame is 10 ms of f0 latency', async () => {
  const shape = { sampleRate: 16000, hopSamples: 320, f0Method: 'dsp' as const, gapLookaheadFrames: 0 };
  // svc's phone encoder (0 right rows): content final 25 ms after a frame's centre, the f0 50 ms even at lag 1.
  assert.is(await SovitsTimeline.lowLatencyF0TrackLagFrames({ ...shape, encoderContext: { leftRows: 34, rightRows: 0 } }), 1);
  // The tiny conv encoder's 2 right rows (65 ms) bound the look-ahead already at lag 2 (60 ms): no cut.
  assert.is(await SovitsTimeline.lowLatencyF0TrackLagFrames({ ...shape, encoderContext: { leftRows: 2, rightRows: 2 } }), undefined);
  // ... unless the gap fill's look-ahead makes the f0 the bound again.
  assert.is(await SovitsTimeline.lowLatencyF0TrackLagFrames({ ...shape, gapLookaheadFrames: 1, encoderContext: { leftRows: 2, rightRows: 2 } }), 1);
  assert.is(await SovitsTimeline.lowLatencyF0TrackLagFrames({ ...shape, f0Method: 'hybrid', encoderContext: { leftRows: 34, rightRows: 0 } }), undefined);
  const latency = (f0TrackLagFrames?: number) => SovitsTimeline.f0LatencySamples({ sampleRate: 16000, hopSamples: 320, f0Method: 'dsp', f0LowLatency: true, f0TrackLagFrames });
  assert.is(await latency(), 960);
  assert.is(await latency(1), 800);
  assert.is(await latency(0), 640);
});

test.run();
