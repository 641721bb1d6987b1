// so-vits-svc 4.1 feature retrieval: `feature_and_index.pkl` written by upstream's own train_index.py (fixture
// test/fixtures/cluster/feature_and_index.pkl, two speakers, random 256-d features, with the reference output of
// upstream's infer_tool feature_retrieval at ratio 0.5) imports as data and gives upstream's blend through the
// engine; a pickle that would run code is refused; `svc train-index` builds the index and the kmeans model from
// a run's dataset and installs them in a bundle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNpy } from '../src/io/npy.js';
import { pythonExecutable } from '../src/paths.js';
import { importSovits } from '../src/voices/sovits/import.js';
import { trainIndex } from '../src/offline/train-index.js';
import { makeReference, readBundle } from '../src/voices/sovits/bundle.js';
import { runPythonModule } from '../src/python.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { createNeuralStageFactory } from '../src/voices/sovits/stage.js';
import { installedModelEntries } from '../src/server/models.js';
import { makeTempDir, repoRoot, runSvc } from './helpers/index.js';

const temp = makeTempDir('svc-feature-index-');
const fixtures = join(repoRoot, 'test', 'fixtures', 'cluster');
const refDir = join(temp.dir, 'tiny');
const plainDir = join(temp.dir, 'plain');

test.before(async () => {
  await makeReference('tiny', refDir, { seed: 1234, checkpoint: true });
  // The same generator with a deterministic NSF source, so two streamed runs can be compared.
  await runPythonModule('reference_convert', ['--bundle', refDir, '--export-deterministic', join(temp.dir, 'deterministic.onnx')]);
  // The reference's generator wrapped as an upstream ONNX export: a bundle with no cluster model yet.
  await importSovits({ onnx: join(refDir, 'generator.onnx'), config: join(refDir, 'config.json'), out: plainDir, encoder: join(refDir, 'encoder.onnx') });
});

test.after(() => temp.cleanup());

function voiceLike(seconds: number, rate: number): Float32Array {
  const out = new Float32Array(Math.round(seconds * rate));
  let phase = 0;
  for (let i = 0; i < out.length; i++) {
    phase += (2 * Math.PI * (140 + 40 * Math.sin((2 * Math.PI * i) / rate))) / rate;
    out[i] = 0.3 * Math.sin(phase) + 0.1 * Math.sin(2 * phase);
  }
  return out;
}

test('feature_and_index.pkl (upstream train_index.py) imports as data and blends as upstream\'s feature_retrieval', async () => {
  const out = join(temp.dir, 'indexed');
  const result = await importSovits({ onnx: join(refDir, 'generator.onnx'), config: join(refDir, 'config.json'), out, encoder: join(refDir, 'encoder.onnx'), cluster: join(fixtures, 'feature_and_index.pkl') });
  assert.equal(result.manifest.cluster, { kind: 'index', files: ['feature_index_0.index', 'feature_index_1.index'], speakers: ['tiny_a', 'tiny_b'], vectors: [120, 120], source: 'feature_and_index.pkl' });
  const upstream = JSON.parse(readFileSync(join(fixtures, 'feature_index.json'), 'utf8')) as { input: number[][]; ratio: number; mixed: Record<string, number[][]> };
  const model = await SovitsModel.load(out);
  try {
    for (const speaker of ['tiny_a', 'tiny_b']) {
      const mixed = await model.clusterMix(Float32Array.from(upstream.input.flat()), upstream.input.length, model.speakerId(speaker), upstream.ratio);
      const expected = upstream.mixed[speaker]!.flat();
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - mixed[i]!)), 0);
      const pulled = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - upstream.input.flat()[i]!)), 0);
      assert.ok(worst < 1e-5, `${speaker}: max |svc - upstream| ${worst}`);
      assert.ok(pulled > 0.1, `the retrieval moves the rows (${pulled})`);
    }
    const input = voiceLike(0.6, model.sampleRate);
    const converted = await convertAtModelRate(model, input, { seed: 5, speaker: 'tiny_b', clusterRatio: 0.5 });
    assert.is(converted.samples.length, input.length);
    assert.ok(converted.samples.every(Number.isFinite));
    // Streaming applies it too (the same generator call; deterministic source): ratio 0.5 changes a streamed
    // window, and the same ratio twice gives the same window.
    const det = join(temp.dir, 'indexed-det');
    cpSync(out, det, { recursive: true });
    cpSync(join(temp.dir, 'deterministic.onnx'), join(det, 'generator.onnx'));
    const detModel = await SovitsModel.load(det);
    try {
      const streamed: Float32Array[] = [];
      for (const clusterRatio of [0, 0.5, 0.5]) {
        const stage = (await createNeuralStageFactory(detModel, { seed: 5, speaker: 'tiny_b', clusterRatio, f0Method: 'dsp' }))({ clientSampleRate: detModel.sampleRate, voice: { pitch: 0, formant: 1 } });
        const window = input.slice(0, Math.min(input.length, stage.contextSamples + 1600));
        streamed.push(Float32Array.from(await stage.process(window, { startSample: 0, discontinuity: true })));
        stage.dispose();
      }
      const differs = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
      assert.ok(differs(streamed[0]!, streamed[1]!) > 1e-5, `the index changes the streamed output (${differs(streamed[0]!, streamed[1]!)})`);
      assert.ok(differs(streamed[1]!, streamed[2]!) === 0, 'and only the index does');
    } finally {
      await detModel.dispose();
    }
  } finally {
    await model.dispose();
  }
  // `svc models` says what the bundle can do.
  const models = join(temp.dir, 'models-root');
  mkdirSync(models);
  cpSync(out, join(models, 'indexed'), { recursive: true });
  const listed = await runSvc(['models'], { env: { ...process.env, SVC_MODELS_DIR: models } });
  assert.match(listed.stdout, /indexed .*\n.*cluster: no; index: yes, tiny_a 120 vectors, tiny_b 120 vectors/);
  // ... and so does the server's GET /api/models.
  const previous = process.env.SVC_MODELS_DIR;
  process.env.SVC_MODELS_DIR = models;
  try {
    const entry = installedModelEntries().find((e) => e.name === 'indexed');
    assert.equal([entry?.type, entry?.index, entry?.cluster, entry?.speakerMix], ['sovits', true, false, false]);
  } finally {
    if (previous === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previous;
  }
});

test('a feature-index pickle that would run code is refused, and nothing is written', async () => {
  const hostile = join(temp.dir, 'hostile.pkl');
  execFileSync(pythonExecutable, ['-c', `import pickle, os\nclass P:\n    def __reduce__(self):\n        return (os.system, ("touch ${join(temp.dir, 'pwned')}",))\npickle.dump({0: P(), 1: P()}, open(${JSON.stringify(hostile)}, "wb"))`]);
  const result = await runSvc(['import-sovits', '--onnx', join(refDir, 'generator.onnx'), '--config', join(refDir, 'config.json'), '--cluster', hostile, '--out', join(temp.dir, 'hostile-out')]);
  assert.is(result.code, 1);
  assert.match(result.stderr, /cannot be read as a so-vits-svc feature index \(refusing to load (posix|os)\.system/);
  assert.not.ok(existsSync(join(temp.dir, 'pwned')), 'no code ran');
  assert.not.ok(existsSync(join(temp.dir, 'hostile-out', 'manifest.json')));
});

test('svc train-index builds the feature index and the kmeans model from a run\'s dataset and installs them in a bundle', async () => {
  // A training run as `svc train` leaves it: run.json naming its dataset, whose manifest lists clips with content rows.
  const dataset = join(temp.dir, 'dataset');
  mkdirSync(join(dataset, 'clips'), { recursive: true });
  const clips: Array<{ id: string; speaker: string; split: string }> = [];
  let state = 7;
  const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  for (const [speaker, offset] of [['tiny_a', 0], ['tiny_b', 2]] as const) {
    for (let c = 0; c < 3; c++) {
      const id = `${speaker}-${c}`;
      const rows = Float32Array.from({ length: 50 * 256 }, () => random() + offset);
      writeFileSync(join(dataset, 'clips', `${id}.units.npy`), encodeNpy(rows, [50, 256]));
      clips.push({ id, speaker, split: c === 2 ? 'val' : 'train' });
    }
  }
  writeFileSync(join(dataset, 'manifest.json'), JSON.stringify({ clips }));
  const run = join(temp.dir, 'run');
  mkdirSync(run);
  cpSync(join(refDir, 'config.json'), join(run, 'config.json'));
  writeFileSync(join(run, 'run.json'), JSON.stringify({ dataset }));
  const bundle = join(temp.dir, 'trained');
  cpSync(plainDir, bundle, { recursive: true });

  const index = await trainIndex(run, { kind: 'index', bundle });
  assert.equal(index.speakers, { tiny_a: 100, tiny_b: 100 }, 'training clips only');
  assert.ok(existsSync(join(run, 'feature_and_index.pkl')), "upstream's file in the run folder");
  let manifest = readBundle(bundle).manifest;
  assert.equal(manifest.cluster?.kind, 'index');
  let model = await SovitsModel.load(bundle);
  try {
    // A training row of tiny_b is its own nearest neighbour (distance 0 takes all the weight): ratio 1 returns it.
    const row = Float32Array.from({ length: 256 }, (_, i) => i);
    const units = readFileSync(join(dataset, 'clips', 'tiny_b-1.units.npy'));
    const stored = new Float32Array(units.buffer.slice(units.byteOffset + units.length - 256 * 4, units.byteOffset + units.length));
    row.set(stored);
    const back = await model.clusterMix(row, 1, model.speakerId('tiny_b'), 1);
    assert.ok(back.every((v, i) => Math.abs(v - stored[i]!) < 1e-5), 'retrieved itself');
  } finally {
    await model.dispose();
  }

  const kmeans = await trainIndex(run, { kind: 'kmeans', bundle });
  assert.ok(existsSync(kmeans.file) && kmeans.file.endsWith('kmeans_10000.pt'));
  manifest = readBundle(bundle).manifest;
  assert.equal(manifest.cluster?.kind, 'kmeans');
  assert.not.ok(existsSync(join(bundle, 'feature_index_0.index')), 'the replaced index files are gone');
  model = await SovitsModel.load(bundle);
  try {
    const converted = await convertAtModelRate(model, voiceLike(0.4, model.sampleRate), { seed: 1, speaker: 'tiny_a', clusterRatio: 0.5 });
    assert.ok(converted.samples.every(Number.isFinite));
  } finally {
    await model.dispose();
  }
});

test.run();
