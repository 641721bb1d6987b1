// RVC: random-weight RVC v1 and v2 models built with RVC's own classes (test/fixtures/rvc, data only)
// import through `svc import-rvc`, and the exported graph reproduces RVC's own computation on the same
// inputs; RVC's own ONNX export imports directly; faiss indexes written by faiss itself parse, and the
// TypeScript k-NN + RVC blend matches faiss's search; bad files fail with clear errors. Then the runtime:
// offline conversion of real speech (index rate, protect, rms mix do what RVC's do) and the same voice
// streamed through the engine's pipeline.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readNpy, writeNpy } from '../src/io/npy.js';
import { createSession, type FeedValue } from '../src/onnx/session.js';
import { runPythonModule } from '../src/python.js';
import { readRvcBundle } from '../src/voices/rvc/bundle.js';
import { blendWithIndex, parseFaissIndex, readFaissIndex, searchKnn } from '../src/voices/retrieval/faissIndex.js';
import { importRvc } from '../src/voices/rvc/import.js';
import { from, lastValueFrom, toArray } from 'rxjs';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { concatFloat32 } from '../src/dsp/arrays.js';
import { convertChunks } from '../src/engine/pipeline.js';
import { convertRvcMono, rvcFeatures } from '../src/voices/rvc/convert.js';
import { RvcModel } from '../src/voices/rvc/model.js';
import { createRvcStageFactory } from '../src/voices/rvc/stage.js';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';

const temp = makeTempDir('svc-rvc-');
const fixtures = join(repoRoot, 'test', 'fixtures', 'rvc');
const indexPath = join(temp.dir, 'feats.index');
const encoderPath = join(temp.dir, 'tiny256.onnx');
const queriesPath = join(temp.dir, 'queries.npy');
const expectedDir = join(temp.dir, 'faiss-expected');
const QUERY_ROWS = 40;
const INDEX_DIM = 256;
let queries: Float32Array;

test.before(async () => {
  // Queries spread around the origin, like the index's clustered features.
  queries = new Float32Array(QUERY_ROWS * INDEX_DIM);
  let seed = 9;
  for (let i = 0; i < queries.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    queries[i] = (seed / 2147483648 - 0.5) * 3;
  }
  await writeNpy(queriesPath, queries, [QUERY_ROWS, INDEX_DIM]);
  await runPythonModule('rvc.make_index', ['--random', `3000,${INDEX_DIM}`, '--out', indexPath, '--queries', queriesPath, '--expected-out', expectedDir]);
  await runPythonModule('export_encoder', ['--kind', 'tiny_conv', '--dim', '256', '--out', encoderPath]);
});

async function runOnFixture(onnxPath: string, fixtureDir: string): Promise<{ got: Float32Array; want: Float32Array }> {
  const model = await createSession(onnxPath);
  try {
    const feeds: Record<string, FeedValue> = {};
    for (const name of model.inputNames) {
      const array = await readNpy(join(fixtureDir, `${name}.npy`));
      feeds[name] = { data: array.data as Float32Array, dims: array.shape, type: array.dtype.endsWith('i8') ? 'int64' : 'float32' };
    }
    const got = (await model.run(feeds)).audio!.data as Float32Array;
    const want = (await readNpy(join(fixtureDir, 'expected_audio.npy'))).data as Float32Array;
    return { got, want };
  } finally {
    await model.dispose();
  }
}

function snrDb(want: Float32Array, got: Float32Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < want.length; i++) {
    signal += want[i]! ** 2;
    noise += (want[i]! - got[i]!) ** 2;
  }
  return 10 * Math.log10(signal / Math.max(noise, 1e-30));
}

// Every rate RVC trains at, for both versions: the upsampling layouts differ per rate (v2 40k has
// no config of its own in RVC and uses v1's), so each is imported and checked against RVC's class.
const cases = [
  { name: 'v1-40k-f1', version: 'v1', rate: 40000, hop: 400, dim: 256, f0: true },
  { name: 'v2-32k-f0', version: 'v2', rate: 32000, hop: 320, dim: 768, f0: false },
  { name: 'v1-32k-f1', version: 'v1', rate: 32000, hop: 320, dim: 256, f0: true },
  { name: 'v1-48k-f1', version: 'v1', rate: 48000, hop: 480, dim: 256, f0: true },
  { name: 'v2-40k-f1', version: 'v2', rate: 40000, hop: 400, dim: 768, f0: true },
  { name: 'v2-48k-f1', version: 'v2', rate: 48000, hop: 480, dim: 768, f0: true },
] as const;

for (const c of cases) {
  test(`import-rvc ${c.name}: manifest facts and parity with RVC's own computation`, async () => {
    const out = join(temp.dir, c.name);
    const deterministic = join(temp.dir, `${c.name}-det.onnx`);
    const withExtras = c.name === 'v1-40k-f1' ? { index: indexPath, encoder: encoderPath } : {};
    const result = await importRvc({ model: join(fixtures, c.name, 'model.pth'), out, ...(c.f0 ? { exportDeterministic: deterministic } : {}), ...withExtras });
    const m = readRvcBundle(out).manifest;
    assert.is(result.manifest.name, c.name);
    assert.equal([m.rvc_version, m.sampling_rate, m.hop_length, m.content_dim, m.f0, m.n_speakers, m.inter_channels], [c.version, c.rate, c.hop, c.dim, c.f0, 3, 16]);
    assert.equal(m.generator.inputs.map((i) => i.name), c.f0 ? ['phone', 'phone_lengths', 'pitch', 'pitchf', 'ds', 'rnd'] : ['phone', 'phone_lengths', 'ds', 'rnd']);
    // The no-f0 decoder has no random source: the bundle's own graph is deterministic.
    const { got, want } = await runOnFixture(c.f0 ? deterministic : join(out, 'generator.onnx'), join(fixtures, c.name));
    assert.is(got.length, want.length);
    const snr = snrDb(want, got);
    // Measured: 78 dB (v1 40k, 200 frames), 80+ dB without f0; float32 sums in the sine source set the floor.
    assert.ok(snr > 60, `SNR ${snr.toFixed(1)} dB`);
  });
}

test('import-rvc reads RVC\'s own ONNX export (fixed 200-frame graph) and it computes the same model', async () => {
  const out = join(temp.dir, 'from-onnx');
  const { manifest } = await importRvc({ model: join(fixtures, 'v1-40k-f1', 'rvc-export.onnx'), out });
  assert.equal([manifest.rvc_version, manifest.sampling_rate, manifest.hop_length, manifest.content_dim, manifest.f0, manifest.fixed_frames], ['v1', 40000, 400, 256, true, 200]);
  readRvcBundle(out);
  // Its NSF noise is random, so only a loose match is possible; another model would give ~0 dB.
  const { got, want } = await runOnFixture(join(out, 'generator.onnx'), join(fixtures, 'v1-40k-f1'));
  const snr = snrDb(want, got);
  assert.ok(snr > 8, `SNR ${snr.toFixed(1)} dB`);
});

test('faiss IVF-Flat written by faiss parses; k-NN and RVC\'s blend match faiss', async () => {
  const rows = QUERY_ROWS;
  const dim = INDEX_DIM;
  const index = readFaissIndex(indexPath);
  assert.equal([index.dim, index.ntotal, index.nprobe], [dim, 3000, 1]);
  assert.is(index.nlist, Math.min(Math.floor(16 * Math.sqrt(3000)), Math.floor(3000 / 39)));
  const ids = (await readNpy(join(expectedDir, 'expected_ids.npy'))).data as BigInt64Array;
  const distances = (await readNpy(join(expectedDir, 'expected_distances.npy'))).data as Float32Array;
  let compared = 0;
  for (let r = 0; r < rows; r++) {
    const found = searchKnn(index, queries, r * dim, 8);
    for (let j = 0; j < 8; j++) {
      const want = Number(ids[r * 8 + j]);
      if (want < 0) {
        assert.is(found.rows[j], -1);
        continue;
      }
      assert.is(index.ids[found.rows[j]!], want, `query ${r} neighbour ${j}`);
      assert.ok(Math.abs(found.distances[j]! - distances[r * 8 + j]!) <= 1e-4 * distances[r * 8 + j]!);
      compared++;
    }
  }
  assert.ok(compared > rows * 4);
  const blended = Float32Array.from(queries);
  blendWithIndex(index, blended, 1);
  const want = (await readNpy(join(expectedDir, 'expected_blend.npy'))).data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) if (Number.isFinite(want[i]!)) maxDiff = Math.max(maxDiff, Math.abs(blended[i]! - want[i]!));
  assert.ok(maxDiff < 1e-4, `blend differs by ${maxDiff}`);
  // index_rate mixes linearly: 0.25 of the retrieved features, 0.75 of the original.
  const quarter = Float32Array.from(queries);
  blendWithIndex(index, quarter, 0.25);
  assert.ok(Math.abs(quarter[5]! - (0.25 * blended[5]! + 0.75 * queries[5]!)) < 1e-5);
});

test('a truncated or foreign index fails with a clear error', async () => {
  const index = await import('node:fs').then((fs) => fs.readFileSync(join(temp.dir, 'feats.index')));
  assert.throws(() => parseFaissIndex(index.subarray(0, 5000), 'cut.index'), (e: Error & { code?: string }) => e.code === 'FILE_TRUNCATED' && /ends inside/.test(e.message));
  const flat = Buffer.from(index);
  flat.write('IxF2', 0, 'latin1');
  assert.throws(() => parseFaissIndex(flat, 'flat.index'), (e: Error) => /flat index.*not supported; expected IVF-Flat/.test(e.message));
});

test('svc import-rvc: wrong index width, a non-PyTorch file and a non-RVC ONNX are refused', async () => {
  const v2 = join(fixtures, 'v2-32k-f0', 'model.pth');
  const wrongIndex = await runSvc(['import-rvc', v2, '--index', join(temp.dir, 'feats.index'), '--out', join(temp.dir, 'bad1')]);
  assert.is(wrongIndex.code, 1);
  assert.match(wrongIndex.stderr, /index holds 256-d features but the model takes 768-d/);
  writeFileSync(join(temp.dir, 'not-a-model.pth'), 'hello');
  const garbage = await runSvc(['import-rvc', join(temp.dir, 'not-a-model.pth'), '--out', join(temp.dir, 'bad2')]);
  assert.is(garbage.code, 1);
  assert.match(garbage.stderr, /not a PyTorch file that can be read as data/);
  const onnx = await runSvc(['import-rvc', join(repoRoot, 'models', 'swift_f0', 'model.onnx'), '--out', join(temp.dir, 'bad3')]);
  assert.is(onnx.code, 1);
  assert.match(onnx.stderr, /expected RVC's export signature/);
});

// ---------------------------------------------------------------------------------------------
// Runtime (the v1 40 kHz bundle imported above, with its index and a 256-d tiny encoder)

const SPEECH_16K = shared('speech', 'vctk_autovc_16k', 'p225', 'p225_003.wav');
let model: RvcModel | undefined;
let speech: Float32Array;

async function v1Model(): Promise<RvcModel> {
  if (!model) {
    model = await RvcModel.load(join(temp.dir, 'v1-40k-f1'));
    speech = (await readMono(SPEECH_16K)).samples.subarray(0, 40000); // 2.5 s
  }
  return model;
}

/** RMS per 40 ms frame. */
function frameRms(x: Float32Array, frame: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + frame <= x.length; i += frame) {
    let sum = 0;
    for (let j = i; j < i + frame; j++) sum += x[j]! ** 2;
    out.push(Math.sqrt(sum / frame));
  }
  return out;
}

function correlation(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  const ma = a.slice(0, n).reduce((x, y) => x + y, 0) / n;
  const mb = b.slice(0, n).reduce((x, y) => x + y, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const base = { f0Method: 'dsp' as const, seed: 3 };

test('offline RVC conversion: input length and rate; index rate and protect act on the features as RVC\'s', async () => {
  const m = await v1Model();
  assert.ok(m.index, 'the bundle carries its index');
  const a = await convertRvcMono(m, speech, 16000, { ...base, indexRate: 0, rmsMixRate: 1 });
  assert.is(a.samples.length, speech.length);
  assert.is(a.sampleRate, 16000);
  assert.ok(a.samples.every(Number.isFinite));
  const atModel = await convertRvcMono(m, speech, 16000, { ...base, indexRate: 0, rmsMixRate: 1, outputRate: 'model' });
  assert.is(atModel.sampleRate, 40000);
  assert.is(atModel.samples.length, speech.length * 2.5);
  // The index moves the content features, so the voice changes; protect keeps unvoiced frames closer to the original.
  const indexed = await convertRvcMono(m, speech, 16000, { ...base, indexRate: 1, protect: 0.5, rmsMixRate: 1 });
  assert.ok(maxAbsDiff(a.samples, indexed.samples) > 1e-3, 'index rate 1 changes the output');
  const features0 = await rvcFeatures(m, speech, { ...base, indexRate: 0 });
  const featuresP = await rvcFeatures(m, speech, { ...base, indexRate: 1, protect: 0 });
  const features1 = await rvcFeatures(m, speech, { ...base, indexRate: 1, protect: 0.5 });
  const dim = m.contentDim;
  let unvoicedKept = 0;
  let voicedMoved = 0;
  for (let f = 0; f < features0.frames; f++) {
    const d0 = maxAbsDiff(featuresP.phone.subarray(f * dim, (f + 1) * dim), features0.phone.subarray(f * dim, (f + 1) * dim));
    const d1 = maxAbsDiff(featuresP.phone.subarray(f * dim, (f + 1) * dim), features1.phone.subarray(f * dim, (f + 1) * dim));
    if (features0.f0Hz[f] === 0) unvoicedKept += d0 < 1e-6 ? 1 : 0; // protect 0: unvoiced frames are the encoder's own
    else voicedMoved += d1 < 1e-6 ? 1 : 0; // voiced frames are never protected
  }
  const unvoiced = Array.from(features0.f0Hz).filter((f) => f === 0).length;
  assert.ok(unvoiced > 20 && unvoicedKept === unvoiced, `${unvoicedKept} of ${unvoiced} unvoiced frames keep the original features`);
  assert.is(voicedMoved, features0.frames - unvoiced);
});

test('rms mix rate 0 gives the output the input\'s loudness envelope', async () => {
  const m = await v1Model();
  // 40 ms frames, 10 ms hop (the streaming stage's; offline RVC uses 1 s frames, too coarse for 2.5 s).
  const rms = { rmsFrameSeconds: 0.04, rmsHopSeconds: 0.01 };
  const own = await convertRvcMono(m, speech, 16000, { ...base, ...rms, rmsMixRate: 1 });
  const mixed = await convertRvcMono(m, speech, 16000, { ...base, ...rms, rmsMixRate: 0 });
  const input = frameRms(speech, 640);
  const cOwn = correlation(input, frameRms(own.samples, 640));
  const cMixed = correlation(input, frameRms(mixed.samples, 640));
  assert.ok(cMixed > 0.9, `envelope correlation with the input ${cMixed.toFixed(3)}`);
  assert.ok(cMixed > cOwn, `mixed ${cMixed.toFixed(3)} vs model's own ${cOwn.toFixed(3)}`);
});

test('the RVC stage streams through the engine pipeline: input length, and the offline voice\'s loudness shape', async () => {
  const m = await v1Model();
  const atModel = await resample(speech, 16000, m.sampleRate);
  const factory = createRvcStageFactory(m, { ...base, rmsMixRate: 0.5 });
  const blockSamples = Math.round(0.2 * m.sampleRate);
  const chunks: Float32Array[] = [];
  for (let i = 0; i < atModel.length; i += 3000) chunks.push(atModel.subarray(i, i + 3000));
  const parts = await lastValueFrom(from(chunks).pipe(convertChunks(() => factory({ clientSampleRate: m.sampleRate, voice: { pitch: 0, formant: 1 } }), { blockSamples }), toArray()));
  const streamed = concatFloat32(parts);
  assert.is(streamed.length, atModel.length);
  assert.ok(streamed.every(Number.isFinite));
  const offline = await convertRvcMono(m, atModel, m.sampleRate, { ...base, rmsMixRate: 0.5, rmsFrameSeconds: 0.04, rmsHopSeconds: 0.01 });
  // Both draw their own NSF noise (inside RVC's graph), so only the shape can agree.
  const c = correlation(frameRms(offline.samples, 1600), frameRms(streamed, 1600));
  assert.ok(c > 0.7, `streamed vs offline loudness envelope correlation ${c.toFixed(3)}`);
});

test('svc convert --model and svc models take RVC bundles', async () => {
  const out = join(temp.dir, 'converted.wav');
  const converted = await runSvc(['convert', SPEECH_16K, out, '--model', join(temp.dir, 'v1-40k-f1'), '--f0', 'dsp', '--index-rate', '0.5', '--protect', '0.2', '--pitch', '2']);
  assert.is(converted.code, 0, converted.stderr);
  const written = await readMono(out);
  const input = await readMono(SPEECH_16K);
  assert.equal([written.sampleRate, written.samples.length], [input.sampleRate, input.samples.length]);
  assert.match(converted.stdout, /model v1-40k-f1/);
  const badRate = await runSvc(['convert', SPEECH_16K, out, '--index-rate', '2']);
  assert.is(badRate.code, 1);
  assert.match(badRate.stderr, /--index-rate needs --model/);
  const listed = await runSvc(['models'], { env: { SVC_MODELS_DIR: temp.dir } });
  assert.is(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /v1-40k-f1 {2}RVC v1, 40000 Hz, 256-d content, f0 yes, index yes; own encoder/);
  assert.match(listed.stdout, /v2-32k-f0 {2}RVC v2, 32000 Hz, 768-d content, f0 no, index no; NO vec768l12 encoder/);
});

test.after(async () => {
  await model?.dispose();
  temp.cleanup();
});
test.run();
