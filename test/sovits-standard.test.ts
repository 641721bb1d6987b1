// The standard reference bundle (so-vits-svc 4.1 44.1 kHz template + HuBERT-base-size encoder),
// built once: manifest, upstream graph signature, encoder framing and width, and parity of the
// full-size generator between PyTorch and onnxruntime-node. Slow (about a minute): exports ~95 M
// encoder and ~45 M generator parameters.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { createSession } from '../src/onnx/session.js';
import { readBundle } from '../src/voices/sovits/bundle.js';
import { runPythonModule } from '../src/python.js';
import { generatorParity } from './helpers/parity.js';
import { makeTempDir, runSvc } from './helpers/index.js';

const temp = makeTempDir('svc-sovits-standard-');
const dir = join(temp.dir, 'standard');
test.after(() => temp.cleanup());

test('make-reference standard: the 4.1 44.1 kHz template with a HuBERT-base-size encoder', async () => {
  // Up to ~7 min on a busy 2-core machine (export + int8 graphs); ~1.5 min idle.
  const run = await runSvc(['make-reference', '--size', 'standard', '--out', dir, '--checkpoint'], { timeoutMs: 900_000 });
  assert.is(run.code, 0, run.stderr);
  console.log(run.stdout.trim());
  const { manifest: m } = readBundle(dir);
  assert.equal(
    [m.sovits_version, m.sampling_rate, m.hop_length, m.ssl_dim, m.speech_encoder, m.vol_embedding, m.inter_channels],
    ['4.1', 44100, 512, 768, 'vec768l12', false, 192],
  );
  assert.equal([m.encoder!.kind, m.encoder!.layer, m.encoder!.dim, m.encoder!.convention], ['hubert_base', 12, 768, 'source-embed']);
  // int8 graphs next to the float ones (python/svc_py/quantize.py): decoder convs as QDQ, HuBERT's 73 weight MatMuls dynamic.
  assert.equal([m.int8?.generator, m.int8?.encoder], ['generator.int8.onnx', 'encoder.int8.onnx']);
  assert.ok((m.int8?.nodes?.generator_conv ?? 0) >= 70 && m.int8?.nodes?.encoder_matmul === 73, JSON.stringify(m.int8?.nodes));
  // HuBERT base is ~94 M parameters; the 4.1 generator ~45-55 M.
  assert.ok(m.parameters.encoder! > 90e6 && m.parameters.encoder! < 100e6, `encoder ${m.parameters.encoder}`);
  assert.ok(m.parameters.generator! > 40e6 && m.parameters.generator! < 60e6, `generator ${m.parameters.generator}`);
});

test('standard generator.onnx: upstream 4.1 signature without vol', async () => {
  const info = await runPythonModule<{ inputs: Array<{ name: string; dtype: string; shape: unknown[] }>; opset: number }>('onnx_info', [join(dir, 'generator.onnx')]);
  assert.is(info.opset, 16);
  assert.equal(info.inputs.map((i) => [i.name, i.dtype, i.shape]), [
    ['c', 'float32', ['c_dynamic_axes_1', 'c_dynamic_axes_2', 768]],
    ['f0', 'float32', [1, 'f0_dynamic_axes_1']],
    ['mel2ph', 'int64', [1, 'mel2ph_dynamic_axes_1']],
    ['uv', 'float32', [1, 'uv_dynamic_axes_1']],
    ['noise', 'float32', [1, 192, 'noise_dynamic_axes_1']],
    ['sid', 'int64', [1]],
  ]);
});

test('standard encoder.onnx: 16 kHz in, one 768-d row per 20 ms out', async () => {
  const encoder = await createSession(join(dir, 'encoder.onnx'));
  try {
    const samples = 32000;
    const source = new Float32Array(samples).map((_, i) => 0.2 * Math.sin((2 * Math.PI * 150 * i) / 16000));
    const embed = (await encoder.run({ source: { data: source, dims: [1, 1, samples] } })).embed!;
    assert.equal([...embed.dims], [1, Math.floor((samples - 400) / 320) + 1, 768]);
    assert.ok((embed.data as Float32Array).every(Number.isFinite));
  } finally {
    encoder.dispose();
  }
});

test('standard parity: onnxruntime-node matches PyTorch within 1e-4 relative', async () => {
  const r = await generatorParity(dir, join(temp.dir, 'parity'), 24);
  assert.equal(r.onnxDims, [1, 1, 24 * 512]);
  assert.ok(r.peak > 1e-4, `expected audio is not silent (peak ${r.peak})`);
  assert.ok(r.maxDiff / r.peak <= 1e-4, `max |onnx - torch| / peak = ${r.maxDiff / r.peak}`);
});

test.run();
