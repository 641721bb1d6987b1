// The ONNX session module: metadata, input checking, error codes, provider selection.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as ort from 'onnxruntime-node';
import { availableProviders, createSession } from '../src/onnx/session.js';
import { isSvcError } from '../src/errors.js';
import { makeTempDir, repoRoot } from './helpers/index.js';

const SWIFT = join(repoRoot, 'models', 'swift_f0', 'model.onnx');
const CREPE = join(repoRoot, 'models', 'crepe_tiny', 'crepe-tiny.onnx');

async function expectCode(promise: Promise<unknown>, code: string): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isSvcError(error), `expected SvcError, got ${String(error)}`);
    assert.is((error as { code: string }).code, code, (error as Error).message);
    return error as Error;
  }
  throw new Error(`expected ${code}, but it resolved`);
}

test('exposes input/output names and declared shapes', async () => {
  const model = await createSession(SWIFT);
  try {
    assert.equal(model.inputNames, ['input_audio']);
    assert.equal(model.outputNames, ['pitch_hz', 'confidence']);
    assert.is(model.inputs[0]!.type, 'float32');
    assert.is(model.inputs[0]!.dims.length, 2);
    assert.is(model.inputs[0]!.dims[0], 1);
    assert.match(model.describeInputs(), /input_audio:float32\[1,/);
  } finally {
    await model.dispose();
  }
});

test('runs with a plain {data, dims} feed and with an ort.Tensor', async () => {
  const model = await createSession(SWIFT);
  try {
    const audio = new Float32Array(16000);
    for (let i = 0; i < audio.length; i++) audio[i] = 0.4 * Math.sin((2 * Math.PI * 220 * i) / 16000);
    const a = await model.run({ input_audio: { data: audio, dims: [1, audio.length] } });
    const b = await model.run({ input_audio: new ort.Tensor('float32', audio, [1, audio.length]) });
    assert.equal(a.pitch_hz!.dims, [1, Math.floor(16000 / 256)]);
    assert.equal(Array.from(a.pitch_hz!.data as Float32Array), Array.from(b.pitch_hz!.data as Float32Array));
    const mid = (a.pitch_hz!.data as Float32Array)[30]!;
    assert.ok(Math.abs(1200 * Math.log2(mid / 220)) < 20, `pitch ${mid}`);
  } finally {
    await model.dispose();
  }
});

test('wrong input name, rank, dtype or fixed dim → ONNX_INPUT_MISMATCH naming expected vs got', async () => {
  const model = await createSession(CREPE);
  try {
    const frames = new Float32Array(2 * 1024);
    let e = await expectCode(model.run({ audio: { data: frames, dims: [2, 1024] } }), 'ONNX_INPUT_MISMATCH');
    assert.match(e.message, /expected inputs frames:float32\[n_frames,1024\]/);
    assert.match(e.message, /got audio:float32\[2,1024\]/);
    assert.match(e.message, /missing input 'frames'/);
    e = await expectCode(model.run({ frames: { data: frames, dims: [2048] } }), 'ONNX_INPUT_MISMATCH');
    assert.match(e.message, /rank 1, expected 2/);
    e = await expectCode(model.run({ frames: { data: new Float32Array(2 * 512), dims: [2, 512] } }), 'ONNX_INPUT_MISMATCH');
    assert.match(e.message, /dim 1 is 512, expected 1024/);
    e = await expectCode(model.run({ frames: { data: new Float64Array(2048), dims: [2, 1024] } }), 'ONNX_INPUT_MISMATCH');
    assert.match(e.message, /dtype float64, expected float32/);
    e = await expectCode(model.run({ frames: { data: frames, dims: [3, 1024] } }), 'ONNX_INPUT_MISMATCH');
    assert.match(e.message, /2048 values but dims \[3,1024\] need 3072/);
  } finally {
    await model.dispose();
  }
});

test('an ORT failure becomes ONNX_RUN_FAILED with the feed shapes', async () => {
  const model = await createSession(SWIFT);
  try {
    // SwiftF0's STFT needs at least 256 samples after its padding
    const e = await expectCode(model.run({ input_audio: { data: new Float32Array(100), dims: [1, 100] } }), 'ONNX_RUN_FAILED');
    assert.match(e.message, /input_audio:float32\[1,100\]/);
  } finally {
    await model.dispose();
  }
});

test('missing model → MODEL_NOT_FOUND; garbage file → MODEL_INVALID', async () => {
  const tmp = makeTempDir();
  try {
    const e = await expectCode(createSession(join(tmp.dir, 'nope.onnx')), 'MODEL_NOT_FOUND');
    assert.match(e.message, /nope\.onnx/);
    const garbage = join(tmp.dir, 'garbage.onnx');
    writeFileSync(garbage, 'this is not a protobuf');
    await expectCode(createSession(garbage), 'MODEL_INVALID');
  } finally {
    tmp.cleanup();
  }
});

test('providers: cpu always; an unavailable provider → PROVIDER_UNAVAILABLE; auto falls back to cpu', async () => {
  assert.ok(availableProviders().includes('cpu'));
  const other = process.platform === 'darwin' ? 'cuda' : 'coreml';
  const e = await expectCode(createSession(SWIFT, { provider: other }), 'PROVIDER_UNAVAILABLE');
  assert.match(e.message, /cpu/);
  const notes: string[] = [];
  const model = await createSession(SWIFT, { provider: 'auto', log: (m) => notes.push(m) });
  try {
    if (model.provider === 'cpu' && process.platform !== 'darwin') assert.ok(notes.length > 0, 'auto fallback is logged with its reason');
  } finally {
    await model.dispose();
  }
  await expectCode(createSession(SWIFT, { intraOpThreads: 0 }), 'INVALID_ARGUMENT');
});

test('dispose is idempotent and run after dispose fails clearly', async () => {
  const model = await createSession(SWIFT);
  await model.dispose();
  await model.dispose();
  assert.is(model.isOpen, false);
  await expectCode(model.run({ input_audio: { data: new Float32Array(1024), dims: [1, 1024] } }), 'INTERNAL');
});

test.run();
