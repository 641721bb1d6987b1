// The neural stage in the real streaming pipeline (StreamPipeline + SOLA through convertChunks): streamed
// output equals offline output with the same settings, for block sizes 50–500 ms and any input chunking;
// skipped input (a discontinuity) restarts the features instead of breaking them; pitch changes apply to
// the next block. Tiny random-weight bundle with a deterministic NSF source. At a pitch shift the stream
// follows offline's one rule (f0 filled, then shifted, as float32 at each step; the NSF phase sums the
// float32 f0 the generator is fed): each window's generator output equals offline's for the same frames.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { from, lastValueFrom, toArray } from 'rxjs';
import { readMono } from '../src/audio/io.js';
import { defaultEncoderContext, SovitsModel, type GenerateOptions } from '../src/voices/sovits/model.js';
import { SovitsTimeline, type GeneratorWindow } from '../src/voices/sovits/timeline.js';
import { semitonesToRatio } from '../src/voices/stage.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { createNeuralStageFactory, DEFAULT_GAP_LOOKAHEAD_FRAMES, GENERATED_RIGHT_FRAMES, NeuralStage } from '../src/voices/sovits/stage.js';
import { convertChunks } from '../src/engine/pipeline.js';
import { makeTempDir, shared } from './helpers/index.js';
import { buildTinyBundles, snrDb } from './neural-fixtures.js';
import { concatFloat32 } from '../src/dsp/arrays.js';

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
const temp = makeTempDir('svc-neural-stream-');
let model: SovitsModel;
/** The bundle as exported (no deterministic twin): its NSF source draws noise, hashed by frame. */
let exported: SovitsModel;
let speech: Float32Array;

test.before(async () => {
  const bundles = await buildTinyBundles(temp.dir);
  model = await SovitsModel.load(bundles.deterministic);
  exported = await SovitsModel.load(bundles.random);
  speech = (await readMono(SPEECH_16K)).samples.subarray(0, 56000); // 3.5 s at the model rate (16 kHz)
});

test.after(async () => {
  await model?.dispose();
  await exported?.dispose();
  temp.cleanup();
});

/** Random chunk sizes 1..maxChunk (a fixed LCG so failures reproduce). */
function randomChunks(x: Float32Array, maxChunk: number, seed: number): Float32Array[] {
  const chunks: Float32Array[] = [];
  let state = seed;
  for (let i = 0; i < x.length; ) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const n = 1 + (state % maxChunk);
    chunks.push(x.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

async function stream(chunks: Float32Array[], blockMs: number, options: Parameters<typeof createNeuralStageFactory>[1], voice = model): Promise<Float32Array> {
  const factory = await createNeuralStageFactory(voice, options);
  const blockSamples = Math.round((blockMs * model.sampleRate) / 1000);
  const parts = await lastValueFrom(
    from(chunks).pipe(convertChunks(() => factory({ clientSampleRate: model.sampleRate, voice: { pitch: 0, formant: 1 } }), { blockSamples }), toArray()),
  );
  return concatFloat32(parts);
}

test('the exported graph (not a deterministic twin): its NSF source noise is a function of the frame (hashed, no random op), so a window gives the same audio every call and streamed equals offline', async () => {
  const timeline = await SovitsTimeline.create({
    sampleRate: exported.sampleRate, hopSamples: exported.hopSamples, f0Method: 'dsp', f0LowLatency: true, volume: exported.volEmbedding,
    encoder: exported, contentDim: exported.contentDim, encoderContext: defaultEncoderContext(exported), gapLookaheadFrames: 0,
  });
  try {
    await timeline.drainFile(speech.subarray(0, 16000));
    const window = timeline.window(10, 30, 1);
    const options = { speakerId: 0, noiseScale: 0.4, seed: 3, sourcePhaseCycles: timeline.sourcePhase(10, 1) };
    const first = await exported.generate(window, options);
    const again = await exported.generate(window, options);
    assert.equal(Array.from(again), Array.from(first), 'the same frames, twice: the same audio (upstream draws new noise per call)');
    // It does draw noise: the deterministic twin (same weights, the source's noise and phases zeroed) differs.
    const twin = await model.generate(window, options);
    let largest = 0;
    for (let i = 0; i < first.length; i++) largest = Math.max(largest, Math.abs(first[i]! - twin[i]!));
    assert.ok(largest > 1e-4, `the exported source adds noise (largest difference from the twin ${largest.toExponential(2)})`);
  } finally {
    timeline.dispose();
  }
  const offline = await convertAtModelRate(exported, speech, { ...settings, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES });
  const streamed = await stream(randomChunks(speech, 3000, 11), 100, settings, exported);
  const edge = Math.round(0.3 * exported.sampleRate);
  const snr = snrDb(offline.samples, streamed, edge, speech.length - edge);
  assert.ok(snr >= 30, `SNR ${snr.toFixed(1)} dB`);
});

const settings = { seed: 9, f0Method: 'dsp' as const, f0LowLatency: true };

for (const [blockMs, maxChunk] of [[50, 700], [200, 5000], [500, 160]] as const) {
  test(`streamed output equals offline output: ${blockMs} ms blocks, input chunks of 1..${maxChunk} samples`, async () => {
    const offline = await convertAtModelRate(model, speech, { ...settings, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES });
    const streamed = await stream(randomChunks(speech, maxChunk, blockMs), blockMs, settings);
    assert.is(streamed.length, speech.length, 'same length, time-aligned (the pipeline delay is removed)');
    // The first and last 0.3 s differ by design (stream start, end padding); everything between counts,
    // SOLA crossfades included.
    const edge = Math.round(0.3 * model.sampleRate);
    const snr = snrDb(offline.samples, streamed, edge, speech.length - edge);
    assert.ok(snr >= 30, `SNR ${snr.toFixed(1)} dB`);
  });
}

test('a shorter f0 tracker lag (1 frame, the small model\'s stream default) flows through both paths: 40 ms blocks, streamed = offline, 10 ms less look-ahead', async () => {
  const lag1 = { ...settings, f0TrackLagFrames: 1 };
  const factory = await createNeuralStageFactory(model, lag1);
  const lag2 = await createNeuralStageFactory(model, settings);
  assert.is(factory.shape.f0TrackLagFrames, 1);
  // the tiny bundle's stream keeps lag 2 by default (its encoder bounds the look-ahead)
  assert.is(lag2.shape.f0TrackLagFrames, undefined);
  assert.is(lag2.shape.f0LatencySamples - factory.shape.f0LatencySamples, 160);
  const offline = await convertAtModelRate(model, speech, { ...lag1, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES });
  const streamed = await stream(randomChunks(speech, 900, 13), 40, lag1);
  assert.is(streamed.length, speech.length);
  const edge = Math.round(0.3 * model.sampleRate);
  const snr = snrDb(offline.samples, streamed, edge, speech.length - edge);
  assert.ok(snr >= 30, `SNR ${snr.toFixed(1)} dB`);
});

test('with upstream gap filling offline (interpolation over any gap), streaming still agrees on voiced speech', async () => {
  const offline = await convertAtModelRate(model, speech, settings);
  const streamed = await stream(randomChunks(speech, 2000, 7), 100, settings);
  const edge = Math.round(0.3 * model.sampleRate);
  const snr = snrDb(offline.samples, streamed, edge, speech.length - edge);
  // Only unvoiced gaps longer than the look-ahead differ; this is a looser, informative bound.
  assert.ok(snr >= 15, `SNR ${snr.toFixed(1)} dB`);
});

// 1600 samples = 5 whole frames: the stage then takes its shorter whole-frame look-ahead (setBlockSamples),
// which this checks exactly (a look-ahead a frame too short feeds rows and f0 not yet final); 1500 is not.
// Right context 0 (`--right-context-frames 0`): the frames up to the last emitted one must be final 2 frames
// (40 ms) sooner; the generator's 2 frames past them are provisional. The check holds the final ones to offline's.
for (const [f0TrackLagFrames, block, rightContextFrames] of [[undefined, 1600, undefined], [1, 1600, undefined], [1, 1500, undefined], [1, 1600, 0], [undefined, 1500, 0]] as const) test(`pitch +5, f0 tracker lag ${f0TrackLagFrames ?? 'default'}, ${block}-sample blocks, right context ${rightContextFrames ?? 'default'}: every streamed window feeds the generator what offline conversion feeds it for those frames (output within 1e-6)`, async () => {
  const options = { ...settings, f0TrackLagFrames, rightContextFrames };
  const factory = await createNeuralStageFactory(model, options);
  if (rightContextFrames === 0) {
    const withDefault = await createNeuralStageFactory(model, { ...options, rightContextFrames: undefined });
    assert.is(withDefault.shape.lookaheadSamples - factory.shape.lookaheadSamples, 2 * model.hopSamples, 'two frames less look-ahead');
  }
  const stage = new NeuralStage(model, { pitch: 5, formant: 1 }, options, factory.shape);
  stage.setBlockSamples(block);
  assert.is(stage.lookaheadSamples, block % model.hopSamples === 0 ? factory.shape.wholeFrameLookaheadSamples : factory.shape.lookaheadSamples);
  const calls: Array<{ window: GeneratorWindow; options: GenerateOptions; audio: Float32Array }> = [];
  const generate = model.generate.bind(model);
  model.generate = async (window, options) => {
    const audio = await generate(window, options);
    calls.push({ window, options, audio });
    return audio;
  };
  const blocks = 20;
  const windowSamples = stage.contextSamples + block;
  try {
    for (let end = block; end <= blocks * block; end += block) {
      const w = new Float32Array(windowSamples);
      for (let i = 0; i < windowSamples; i++) w[i] = end - windowSamples + i >= 0 ? speech[end - windowSamples + i]! : 0;
      await stage.process(w, { startSample: end - windowSamples, discontinuity: false });
    }
  } finally {
    model.generate = generate;
    stage.dispose();
  }
  // Offline: the whole input at once, the stage's feature settings.
  const offline = await SovitsTimeline.create({
    sampleRate: model.sampleRate, hopSamples: model.hopSamples, f0Method: settings.f0Method, f0LowLatency: true, f0TrackLagFrames, volume: model.volEmbedding,
    encoder: model, contentDim: model.contentDim, encoderContext: defaultEncoderContext(model), gapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES,
  });
  const ratio = semitonesToRatio(5);
  let worst = 0;
  try {
    await offline.drainFile(speech.subarray(0, blocks * block));
    assert.is(calls.length, blocks);
    for (const [c, { window, options, audio }] of calls.entries()) {
      const k0 = window.frameOffset;
      if (rightContextFrames === 0) {
        // The generator still runs GENERATED_RIGHT_FRAMES past the last emitted frame; those are provisional, every
        // frame before them must be final: fed exactly what offline feeds.
        const received = (c + 1) * block;
        const lastEmitted = Math.floor((received - stage.lookaheadSamples - 1) / model.hopSamples);
        assert.is(k0 + window.f0Hz.length - 1, lastEmitted + GENERATED_RIGHT_FRAMES, `window ${c}: ${GENERATED_RIGHT_FRAMES} frames past the last emitted one`);
        const finalFrames = lastEmitted + 1 - k0;
        const same = offline.window(k0, lastEmitted + 1, ratio);
        assert.equal(Array.from(window.f0Hz.subarray(0, finalFrames)), Array.from(same.f0Hz), `f0 fed at frames ${k0}..${lastEmitted}`);
        assert.equal(Array.from(window.uv.subarray(0, finalFrames)), Array.from(same.uv), `voicing fed at frames ${k0}..${lastEmitted}`);
        // Content rows: the encoder run on a shorter window rounds differently (~1e-8), as in the audio check below.
        const row = (m: GeneratorWindow, i: number) => (m.mel2ph[i] === 0n ? null : m.content.subarray((Number(m.mel2ph[i]) - 1) * model.contentDim, Number(m.mel2ph[i]) * model.contentDim));
        for (let i = 0; i < finalFrames; i++) {
          const [a, b] = [row(window, i), row(same, i)];
          assert.is(a === null, b === null, `frame ${k0 + i}: a content row in both or neither`);
          for (let d = 0; a && b && d < a.length; d++) worst = Math.max(worst, Math.abs(a[d]! - b[d]!));
        }
        continue;
      }
      const same = offline.window(k0, k0 + window.f0Hz.length, ratio);
      assert.equal(Array.from(window.f0Hz), Array.from(same.f0Hz), `f0 fed at frames ${k0}..: the same float32 values`);
      const phase = k0 < 0 ? offline.sourcePhase(k0, ratio, same.f0Hz) : offline.sourcePhase(k0, ratio);
      assert.ok(Math.abs(phase - options.sourcePhaseCycles!) < 1e-9, `source phase at frame ${k0}: ${options.sourcePhaseCycles} streamed, ${phase} offline`);
      const expected = await model.generate(same, { ...options, sourcePhaseCycles: phase });
      for (let i = 0; i < audio.length; i++) worst = Math.max(worst, Math.abs(audio[i]! - expected[i]!));
    }
  } finally {
    offline.dispose();
  }
  assert.ok(worst <= 1e-6, `largest difference ${worst.toExponential(2)}`);
});

test('a window that does not continue the previous one (skipped input) restarts the features; a pitch change applies to the next window', async () => {
  const factory = await createNeuralStageFactory(model, settings);
  const logs: string[] = [];
  const stage = new NeuralStage(model, { pitch: 0, formant: 1 }, { ...settings, log: (m) => logs.push(m) }, factory.shape);
  try {
    const block = 1600;
    // Whole frames: a restart also re-aligns the timeline to end blocks on a frame (its window's context is not whole frames).
    stage.setBlockSamples(block);
    assert.ok(stage.contextSamples % model.hopSamples !== 0);
    const windowSamples = stage.contextSamples + block;
    const windowAt = (end: number) => {
      const w = new Float32Array(windowSamples);
      const start = end - windowSamples;
      for (let i = 0; i < windowSamples; i++) w[i] = start + i >= 0 ? speech[start + i]! : 0;
      return w;
    };
    const at = (end: number) => ({ startSample: end - windowSamples, discontinuity: false });
    const outputs: Float32Array[] = [];
    for (let end = block; end <= 12 * block; end += block) outputs.push(await stage.process(windowAt(end), at(end)));
    assert.is(logs.length, 0);
    // Jump 20 blocks ahead: not continuous with the last window.
    const jumped = await stage.process(windowAt(32 * block), at(32 * block));
    assert.is(jumped.length, windowSamples);
    assert.is(logs.length, 1);
    assert.match(logs[0]!, /restarting/);
    for (const x of jumped) assert.ok(Number.isFinite(x));
    // Twin stage fed the same windows: identical output until the pitch change, different right after it.
    const twin = new NeuralStage(model, { pitch: 0, formant: 1 }, settings, factory.shape);
    twin.setBlockSamples(block);
    try {
      await twin.process(windowAt(5 * block), at(5 * block));
      await twin.process(windowAt(32 * block), at(32 * block)); // the same restart as the stage's
      const a = await stage.process(windowAt(33 * block), at(33 * block));
      const b = await twin.process(windowAt(33 * block), at(33 * block));
      assert.equal(Array.from(a), Array.from(b), 'same input, same voice: same output');
      twin.setVoice({ pitch: 12 });
      const c = await stage.process(windowAt(34 * block), at(34 * block));
      const d = await twin.process(windowAt(34 * block), at(34 * block));
      const snr = snrDb(c, d);
      assert.ok(snr < 30, `an octave up changes the next window (SNR between voices ${snr.toFixed(1)} dB)`);
    } finally {
      twin.dispose();
    }
  } finally {
    stage.dispose();
  }
});

test.run();
