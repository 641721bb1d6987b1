// RMVPE users bring (rmvpe.pt as RVC publishes it): `svc import-f0` rebuilds the network from the
// checkpoint's weights and the exported graph reproduces RVC's own RMVPE (infer/lib/rmvpe.py: mel,
// U-Net, BiGRU, decoding) on the same weights — test/fixtures/f0models/rmvpe, built with RVC's classes
// and random weights in a scratch folder (data only). Random weights track no pitch, so pitch is
// checked by parity only; the rest checks the plumbing: `--f0 rmvpe` in f0, convert and preprocess
// finds the imported model, and says how to import one when there is none.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createF0Stream, estimateF0 } from '../src/dsp/f0/index.js';
import { decodeActivation, ImportedF0Source, IMPORTED_LOW_LATENCY, readImportedF0Meta } from '../src/dsp/f0/imported.js';
import { readNpy } from '../src/io/npy.js';
import { runPythonModule } from '../src/python.js';
import { activationsAgainst, checkImportedF0Plumbing, streamInRandomChunks } from './helpers/imported-f0.js';
import { makeTempDir, repoRoot, runSvc } from './helpers/index.js';

const fixture = join(repoRoot, 'test', 'fixtures', 'f0models', 'rmvpe');
const temp = makeTempDir('svc-f0-imported-');
const modelsRoot = join(temp.dir, 'models');
const onnxPath = join(modelsRoot, 'f0', 'rmvpe.onnx');
const env = { SVC_MODELS_DIR: modelsRoot };
const emptyEnv = { SVC_MODELS_DIR: join(temp.dir, 'no-models') };
let audio: Float32Array;
let expectedActivation: Float32Array;
let expectedF0: Float32Array;

test.before(async () => {
  // in-process estimateF0 looks in the same model folders as the CLI
  process.env.SVC_MODELS_DIR = modelsRoot;
  audio = (await readNpy(join(fixture, 'audio.npy'))).data as Float32Array;
  expectedActivation = (await readNpy(join(fixture, 'expected_activation.npy'))).data as Float32Array;
  expectedF0 = (await readNpy(join(fixture, 'expected_f0.npy'))).data as Float32Array;
});
test.after(() => temp.cleanup());

test('svc rebuilds the published RMVPE layout exactly (RVC E2E(4, 1, (2, 2)): 741 names and shapes)', async () => {
  const ours = await runPythonModule<{ keys: Array<[string, number[]]> }>('import_f0', ['--layout', 'rmvpe']);
  const upstream = JSON.parse(readFileSync(join(fixture, 'rmvpe_keys.json'), 'utf8')) as { keys: Array<[string, number[]]> };
  assert.is(ours.keys.length, 741);
  assert.equal(ours.keys, upstream.keys);
});

test('svc import-f0 writes the graph where --f0 rmvpe looks; it matches RVC\'s RMVPE on the same weights', async () => {
  const r = await runSvc(['import-f0', join(fixture, 'rmvpe.pt')], { env });
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /imported rmvpe ->/);
  const meta = readImportedF0Meta(onnxPath);
  assert.equal([meta.kind, meta.hop_samples, meta.bins, meta.threshold], ['rmvpe', 160, 360, 0.03]);
  const source = await ImportedF0Source.create('rmvpe', { modelPath: onnxPath });
  try {
    const { act, worst } = await activationsAgainst(source, audio, expectedActivation);
    // measured 4.5e-5 (float32 STFT as a convolution vs torch.stft)
    assert.ok(worst < 1e-3, `max activation error ${worst}`);
    // RVC's decoding (weighted average of the 9 bins around the argmax, 0 Hz at peak <= 0.03)
    let worstCents = 0;
    for (let t = 0; t < act.frames; t++) {
      const d = decodeActivation(act.data, t * 360, meta);
      const ours = d.confidence > meta.threshold ? d.f0Hz : 0;
      assert.is(ours > 0, expectedF0[t]! > 0, `frame ${t} voicing`);
      if (ours > 0) worstCents = Math.max(worstCents, Math.abs(1200 * Math.log2(ours / expectedF0[t]!)));
    }
    assert.ok(worstCents < 1, `worst ${worstCents.toFixed(3)} cents from RVC's decoding`);
  } finally {
    await source.dispose();
  }
});

test('--f0 rmvpe streams: chunks of any size give the same frames as the file path, within the look-ahead window', async () => {
  const hop = 160;
  const file = await estimateF0(audio, 16000, { method: 'rmvpe', hopSamples: hop });
  assert.is(file.f0Hz.length, Math.floor(audio.length / hop));
  // the one-shot graph frames, decoded: the file path's windows (160 ms look-ahead) keep to them
  let close = 0;
  for (let t = 0; t < file.f0Hz.length; t++) if (file.rawF0Hz[t]! > 0 && Math.abs(1200 * Math.log2(file.rawF0Hz[t]! / expectedF0[t]!)) < 50) close++;
  console.log(`  file path vs one-shot RVC RMVPE: ${close}/${file.f0Hz.length} frames within 50 cents`);
  assert.ok(close >= 0.95 * file.f0Hz.length, `${close}/${file.f0Hz.length}`);
  // live: random chunks through the low-latency window (40 ms look-ahead, 240 ms context)
  for (const lowLatency of [false, true]) {
    const stream = await createF0Stream(16000, { method: 'rmvpe', hopSamples: hop, lowLatency });
    const frames = await streamInRandomChunks(stream, audio, 7);
    assert.equal(frames.map((f) => f.index), Array.from(file.f0Hz, (_, i) => i));
    // the fixed delay after a frame's centre: 16 (4) frames of look-ahead, half the 1024-sample
    // window, a batch of 4 frames less one (output frames fall on RMVPE's own 10 ms frames: no interpolation frame)
    assert.is(stream.latencySamples, ((lowLatency ? IMPORTED_LOW_LATENCY.lookaheadFrames : 16) + 3) * hop + 512);
    let agree = 0;
    frames.forEach((f, i) => (agree += f.rawF0Hz > 0 && Math.abs(1200 * Math.log2(f.rawF0Hz / file.rawF0Hz[i]!)) < 50 ? 1 : 0));
    console.log(`  streamed (lowLatency ${lowLatency}) vs file path: ${agree}/${frames.length} frames within 50 cents`);
    assert.ok(agree >= 0.9 * frames.length, `${agree}/${frames.length}`);
  }
});

test('--f0 rmvpe in svc f0 and svc convert uses the imported model; without one the error names svc import-f0', async () => {
  await checkImportedF0Plumbing('rmvpe', temp.dir, env, emptyEnv);
});

test('import-f0 refuses a file that is not RMVPE, and a wrong --kind, without writing a graph', async () => {
  const bad = await runSvc(['import-f0', join(repoRoot, 'test', 'fixtures', 'rvc', 'v2-32k-f0', 'model.pth'), '--out', join(temp.dir, 'bad', 'x.onnx')]);
  assert.is(bad.code === 0, false);
  assert.match(bad.stderr, /neither RMVPE .* nor FCPE/);
  const kind = await runPythonModule('import_f0', ['--model', join(fixture, 'rmvpe.pt'), '--kind', 'fcpe', '--out', join(temp.dir, 'bad', 'y.onnx')]).then(
    () => 'imported',
    (error: Error) => error.message,
  );
  assert.match(kind, /--kind fcpe was given but rmvpe\.pt is an RMVPE checkpoint/);
  assert.is(existsSync(join(temp.dir, 'bad', 'x.onnx')) || existsSync(join(temp.dir, 'bad', 'y.onnx')), false);
});

test.run();
