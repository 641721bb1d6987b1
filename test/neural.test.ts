// Neural conversion offline: parity of the engine (ONNX through src/voices/sovits/model.ts) with the PyTorch
// reference forward, slicing of long inputs, pitch shift and auto-pitch, `svc convert --model`, `svc models`,
// and every way a model can be wrong. Uses a tiny random-weight reference bundle built once here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readAudio, readMono } from '../src/audio/io.js';
import { readNpy } from '../src/io/npy.js';
import { loadModel } from '../src/voices/registry.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { autoPitchSemitones, convertAtModelRate, medianVoicedF0, type OfflineFeatures } from '../src/voices/sovits/convert.js';
import { runPythonModule } from '../src/python.js';
import { makeTempDir, runSvc, shared } from './helpers/index.js';
import { buildTinyBundles, relativeError, snrDb, writeFeatures, type TinyBundles } from './neural-fixtures.js';

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
const SPEECH_48K = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav');

const temp = makeTempDir('svc-neural-');
let bundles: TinyBundles;
let model: SovitsModel;
let speech: Float32Array;

test.before(async () => {
  bundles = await buildTinyBundles(temp.dir);
  model = await SovitsModel.load(bundles.deterministic);
  speech = (await readMono(SPEECH_16K)).samples;
});

test.after(async () => {
  await model?.dispose();
  temp.cleanup();
});

/** A copy of the random bundle to break in one way. */
function bundleCopy(name: string): string {
  const dir = join(temp.dir, name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(bundles.random)) copyFileSync(join(bundles.random, file), join(dir, file));
  return dir;
}

async function rejects(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

for (const mapping of ['time', 'upstream'] as const) {
  test(`offline conversion equals the PyTorch reference forward (mel2ph mapping '${mapping}', speaker, pitch, vol)`, async () => {
    let features: OfflineFeatures | undefined;
    const input = speech.subarray(0, 40000); // 2.5 s: one generator slice
    const result = await convertAtModelRate(model, input, { speaker: 'tiny_b', pitch: 3, seed: 11, mapping, onFeatures: (f) => (features = f) });
    assert.is(result.samples.length, input.length);
    const inputs = join(temp.dir, `parity-in-${mapping}`);
    const out = join(temp.dir, `parity-out-${mapping}`);
    await writeFeatures(inputs, features!, model.interChannels);
    await runPythonModule('reference_convert', ['--bundle', bundles.random, '--inputs', inputs, '--out', out, '--mapping', mapping]);
    const expected = (await readNpy(join(out, 'expected_audio.npy'))).data as Float32Array;
    const content = (await readNpy(join(out, 'content.npy'))).data as Float32Array;
    const mel2ph = (await readNpy(join(out, 'mel2ph.npy'))).data as BigInt64Array;
    assert.equal(Array.from(features!.mel2ph, Number), Array.from(mel2ph, Number), 'mel2ph (content row per frame) as the reference maps it');
    assert.ok(relativeError(features!.content, content) < 1e-4, `content features differ from PyTorch's encoder: ${relativeError(features!.content, content)}`);
    // The generator makes ceil(n/hop) frames; the engine returns exactly the input's length.
    const error = relativeError(result.samples, expected.subarray(0, input.length));
    assert.ok(error <= 1e-3, `relative error ${error.toExponential(2)} vs PyTorch`);
    let energy = 0;
    for (const x of result.samples) energy += x * x;
    assert.ok(energy / result.samples.length > 1e-6, 'the model produced sound');
  });
}

test('long inputs run in overlapping slices: the NSF phase and noise continue, so slices match one long run', async () => {
  const input = speech.subarray(0, 64000); // 200 frames
  const whole = await convertAtModelRate(model, input, { seed: 2, sliceFrames: 1000 });
  const sliced = await convertAtModelRate(model, input, { seed: 2, sliceFrames: 60, sliceContextFrames: 25, crossfadeFrames: 4 });
  const snr = snrDb(whole.samples, sliced.samples);
  assert.ok(snr >= 30, `sliced vs single run: SNR ${snr.toFixed(1)} dB`);
});

test('pitch shifts the f0 the generator gets by 2^(n/12); unvoiced gaps are filled, uv marks them', async () => {
  const input = speech.subarray(0, 48000);
  let a: OfflineFeatures | undefined;
  let b: OfflineFeatures | undefined;
  await convertAtModelRate(model, input, { f0Method: 'dsp', onFeatures: (f) => (a = f) });
  await convertAtModelRate(model, input, { f0Method: 'dsp', pitch: 7, onFeatures: (f) => (b = f) });
  let voiced = 0;
  for (let k = 0; k < a!.frames; k++) {
    assert.ok(a!.f0Hz[k]! > 0, `frame ${k} has an f0 (gaps interpolated)`);
    if (!a!.uv[k]) continue;
    voiced++;
    assert.ok(Math.abs(b!.f0Hz[k]! / a!.f0Hz[k]! - 2 ** (7 / 12)) < 1e-4, `frame ${k}: ${b!.f0Hz[k]} vs ${a!.f0Hz[k]}`);
  }
  assert.ok(voiced > 20 && voiced < a!.frames, `voiced frames ${voiced} of ${a!.frames}`);
});

test("auto-pitch moves the input's median f0 to the target voice's typical f0", async () => {
  const input = speech.subarray(0, 48000);
  let plain: OfflineFeatures | undefined;
  let auto: OfflineFeatures | undefined;
  await convertAtModelRate(model, input, { f0Method: 'dsp', onFeatures: (f) => (plain = f) });
  const result = await convertAtModelRate(model, input, { f0Method: 'dsp', autoPitch: true, targetF0Hz: 110, onFeatures: (f) => (auto = f) });
  const before = medianVoicedF0(plain!.f0Hz, plain!.uv);
  const after = medianVoicedF0(auto!.f0Hz, auto!.uv);
  assert.ok(before > 150, `p225 is a female voice (median ${before.toFixed(0)} Hz)`);
  assert.is(result.pitchSemitones, autoPitchSemitones(before, 110));
  assert.ok(Math.abs(12 * Math.log2(after / 110)) <= 0.5, `median after auto-pitch ${after.toFixed(1)} Hz, target 110 Hz`);
  const error = await rejects(convertAtModelRate(model, input, { autoPitch: true }));
  assert.is(error.code, 'INVALID_ARGUMENT');
  assert.match(error.message, /typical f0/);
});

test('svc convert --model writes the converted file at the input rate (or the model rate) with the same duration', async () => {
  const out = join(temp.dir, 'converted.wav');
  const run = await runSvc(['convert', SPEECH_48K, out, '--model', bundles.random, '--speaker', 'tiny_b', '--pitch', '2', '--seed', '1']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /model tiny, speaker tiny_b, pitch \+2/);
  const input = await readAudio(SPEECH_48K);
  const written = await readAudio(out);
  assert.is(written.sampleRate, 48000);
  assert.is(written.channels[0]!.length, input.channels[0]!.length);
  const atModel = join(temp.dir, 'converted-16k.wav');
  const run2 = await runSvc(['convert', SPEECH_48K, atModel, '--model', bundles.random, '--output-rate', 'model']);
  assert.is(run2.code, 0, run2.stderr);
  const written2 = await readAudio(atModel);
  assert.is(written2.sampleRate, 16000);
  assert.ok(Math.abs(written2.channels[0]!.length - Math.round((input.channels[0]!.length * 16000) / 48000)) <= 1);
});

test('svc convert --model: unknown model, unknown speaker, unavailable provider, DSP-only options → one-line errors, no output', async () => {
  const out = join(temp.dir, 'never.wav');
  const env = { SVC_MODELS_DIR: temp.dir };
  const cases: Array<[string[], RegExp]> = [
    [['--model', 'no-such-model'], /no model named 'no-such-model'; installed: .*tiny/],
    [['--model', bundles.random, '--speaker', 'nobody'], /unknown speaker 'nobody'.*tiny_a, tiny_b/],
    [['--model', bundles.random, '--provider', 'coreml'], /execution provider 'coreml' is not available/],
    [['--model', bundles.random, '--formant', '1.2'], /--formant applies to the built-in DSP voice only/],
    [['--speaker', 'tiny_a'], /--speaker needs --model/],
  ];
  for (const [args, pattern] of cases) {
    const run = await runSvc(['convert', SPEECH_16K, out, ...args], { env });
    assert.is(run.code, 1, `${args.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, pattern);
    assert.not.ok(readdirSync(temp.dir).includes('never.wav'), 'nothing written');
  }
});

test('a broken bundle says exactly what is wrong: missing file, truncated ONNX, config vs manifest, graph vs manifest', async () => {
  const missing = bundleCopy('broken-missing');
  writeFileSync(join(missing, 'encoder.onnx'), '');
  const truncated = bundleCopy('broken-truncated');
  const bytes = readFileSync(join(truncated, 'generator.onnx'));
  writeFileSync(join(truncated, 'generator.onnx'), bytes.subarray(0, bytes.length >> 1));
  const config = bundleCopy('broken-config');
  const cfg = JSON.parse(readFileSync(join(config, 'config.json'), 'utf8'));
  cfg.model.ssl_dim = 768;
  writeFileSync(join(config, 'config.json'), JSON.stringify(cfg));
  const graph = bundleCopy('broken-graph');
  const manifest = JSON.parse(readFileSync(join(graph, 'manifest.json'), 'utf8'));
  const cfg2 = JSON.parse(readFileSync(join(graph, 'config.json'), 'utf8'));
  manifest.inter_channels = 24;
  cfg2.model.inter_channels = 24;
  writeFileSync(join(graph, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(graph, 'config.json'), JSON.stringify(cfg2));

  const notFound = await rejects(loadModel(join(temp.dir, 'nowhere')));
  assert.is(notFound.code, 'MODEL_NOT_FOUND');
  const e1 = await rejects(SovitsModel.load(missing));
  assert.is(e1.code, 'MODEL_INVALID');
  assert.match(e1.message, /encoder\.onnx/);
  const e2 = await rejects(SovitsModel.load(truncated));
  assert.is(e2.code, 'MODEL_INVALID');
  assert.match(e2.message, /generator\.onnx/);
  const e3 = await rejects(SovitsModel.load(config));
  assert.is(e3.code, 'MODEL_INVALID');
  assert.match(e3.message, /ssl_dim is 768 but the manifest says 256/);
  const e4 = await rejects(SovitsModel.load(graph));
  assert.is(e4.code, 'MODEL_INVALID');
  assert.match(e4.message, /'noise' dim 1 is 16 in the graph, but the manifest\/config says 24/);
  const e5 = await rejects(SovitsModel.load(bundles.random, { provider: 'cuda' }));
  assert.is(e5.code, 'PROVIDER_UNAVAILABLE');
});

test('a bundle without its own encoder uses the shared <models>/encoders/<speech_encoder>.onnx, or says where to put one', async () => {
  const root = join(temp.dir, 'shared-root');
  const dir = join(root, 'no-encoder');
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(bundles.random)) if (file !== 'encoder.onnx') copyFileSync(join(bundles.random, file), join(dir, file));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  manifest.encoder = null;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const previous = process.env.SVC_MODELS_DIR;
  process.env.SVC_MODELS_DIR = root;
  try {
    const missing = await rejects(loadModel('no-encoder'));
    assert.is(missing.code, 'MODEL_NOT_FOUND');
    assert.match(missing.message, /no content encoder and no shared 'vec256l9' encoder/);
    mkdirSync(join(root, 'encoders'));
    copyFileSync(join(bundles.random, 'encoder.onnx'), join(root, 'encoders', 'vec256l9.onnx'));
    const loaded = await loadModel('no-encoder');
    try {
      assert.is(loaded.encoder.modelPath, join(root, 'encoders', 'vec256l9.onnx'));
      const result = await convertAtModelRate(loaded, speech.subarray(0, 16000), { seed: 1 });
      assert.is(result.samples.length, 16000);
    } finally {
      await loaded.dispose();
    }
  } finally {
    if (previous === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previous;
  }
});

test('svc models lists installed bundles with speakers and flags invalid ones', async () => {
  const root = join(temp.dir, 'models-root');
  mkdirSync(join(root, 'voice-a'), { recursive: true });
  for (const file of readdirSync(bundles.random)) copyFileSync(join(bundles.random, file), join(root, 'voice-a', file));
  mkdirSync(join(root, 'half-copied'), { recursive: true });
  writeFileSync(join(root, 'half-copied', 'manifest.json'), '{"format":"svc-sovits-bundle"');
  mkdirSync(join(root, 'not-a-model'), { recursive: true });
  const run = await runSvc(['models', '--check'], { env: { SVC_MODELS_DIR: root } });
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /voice-a {2}so-vits-svc 4\.1, 16000 Hz, hop 320, 256-d vec256l9/);
  assert.match(run.stdout, /speakers: tiny_a, tiny_b/);
  assert.match(run.stdout, /check: ok/);
  assert.match(run.stdout, /half-copied {2}INVALID: .*manifest\.json is not JSON/);
  assert.not.match(run.stdout, /not-a-model/);
  const json = await runSvc(['models', '--json'], { env: { SVC_MODELS_DIR: root } });
  const list = JSON.parse(json.stdout) as Array<{ name: string; error?: string }>;
  assert.equal(list.map((m) => m.name).sort(), ['half-copied', 'voice-a']);
});

test.run();
