// So-VITS-SVC model family (tiny size, fast): our PyTorch model's state-dict names/shapes equal
// upstream's (fixtures dumped from so-vits-svc 4.0 and 4.1), the exported ONNX graph has upstream's
// signature, onnxruntime-node reproduces PyTorch, `svc import-sovits` round-trips a checkpoint, and
// bad inputs fail with errors that name the cause.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession } from '../src/onnx/session.js';
import { readBundle, expectedGeneratorInputs } from '../src/voices/sovits/bundle.js';
import { runPythonModule } from '../src/python.js';
import { generatorParity } from './helpers/parity.js';
import { makeTempDir, repoRoot, runSvc } from './helpers/index.js';

interface Fixture {
  source: string;
  config: Record<string, unknown>;
  generator: Array<[string, number[]]>;
  discriminator: Array<[string, number[]]>;
}
interface OnnxInfo {
  inputs: Array<{ name: string; dtype: string; shape: Array<number | string | null> }>;
  outputs: Array<{ name: string; dtype: string; shape: Array<number | string | null> }>;
  opset: number;
}

const temp = makeTempDir('svc-sovits-');
const refDir = join(temp.dir, 'tiny');
const fixtureNames = ['40', '41', '41_vol', '41_tiny'];

function fixture(name: string): Fixture {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', `sovits_keys_${name}.json`), 'utf8')) as Fixture;
}

function asMap(entries: Array<[string, number[]]>): Map<string, string> {
  return new Map(entries.map(([k, shape]) => [k, shape.join('x')]));
}

/** Writes a variant of the tiny bundle's config and returns its path. */
function tinyConfigVariant(name: string, edit: (config: { model: Record<string, unknown>; data: Record<string, unknown>; [k: string]: unknown }) => void): string {
  const config = JSON.parse(readFileSync(join(refDir, 'config.json'), 'utf8'));
  edit(config);
  const path = join(temp.dir, `${name}.json`);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

test.after(() => temp.cleanup());

test('state dict: key names and shapes equal upstream so-vits-svc 4.0, 4.1, 4.1+vol and 4.1 tiny (generator and discriminator)', async () => {
  const paths = fixtureNames.map((name) => {
    const path = join(temp.dir, `fixture_${name}.json`);
    writeFileSync(path, JSON.stringify(fixture(name).config));
    return path;
  });
  const { models } = await runPythonModule<{ models: Array<{ version: string; speech_encoder: string; generator: Array<[string, number[]]>; discriminator: Array<[string, number[]]> }> }>('state_dict_keys', paths);
  assert.is(models.length, fixtureNames.length);
  fixtureNames.forEach((name, i) => {
    const upstream = fixture(name);
    const ours = models[i]!;
    const want = asMap(upstream.generator);
    const got = asMap(ours.generator);
    const missing = [...want.keys()].filter((k) => !got.has(k));
    const extra = [...got.keys()].filter((k) => !want.has(k));
    const differ = [...want.keys()].filter((k) => got.has(k) && got.get(k) !== want.get(k)).map((k) => `${k}: ${got.get(k)} vs ${want.get(k)}`);
    assert.equal({ missing, extra, differ }, { missing: [], extra: [], differ: [] }, `generator ${name}`);
    assert.equal(ours.generator, upstream.generator, `generator ${name}: same keys in upstream's order`);
    assert.equal(asMap(ours.discriminator), asMap(upstream.discriminator), `discriminator ${name}`);
    assert.is(ours.version, name === '40' ? '4.0' : '4.1');
  });
  // The 4.0 model takes 256-d content (vec256l9), the 4.1 template 768-d (vec768l12).
  assert.is(models[0]!.speech_encoder, 'vec256l9');
  assert.is(models[1]!.speech_encoder, 'vec768l12');
});

test('make-reference tiny: a valid bundle with parameter counts and export times', async () => {
  const run = await runSvc(['make-reference', '--size', 'tiny', '--out', refDir, '--checkpoint']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /parameters: generator [\d.]+ M/);
  assert.match(run.stdout, /export time: generator [\d.]+ s/);
  const bundle = readBundle(refDir);
  const m = bundle.manifest;
  assert.is(m.sovits_version, '4.1');
  assert.is(m.sampling_rate, 16000);
  assert.is(m.hop_length, 320);
  assert.is(m.ssl_dim, 256);
  assert.is(m.vol_embedding, true);
  assert.equal(m.speakers, JSON.parse(readFileSync(join(refDir, 'speakers.json'), 'utf8')));
  assert.equal(m.generator.inputs.map((i) => i.name), expectedGeneratorInputs(true));
  assert.ok(m.parameters.generator! > m.parameters.generator_inference!, 'the inference graph drops the posterior encoder');
  assert.ok(existsSync(join(refDir, 'G_0.pth')));
});

test('generator.onnx read back: upstream input names, dtypes, dynamic axes and output', async () => {
  const info = await runPythonModule<OnnxInfo>('onnx_info', [join(refDir, 'generator.onnx')]);
  assert.is(info.opset, 16);
  assert.equal(info.inputs, [
    { name: 'c', dtype: 'float32', shape: ['c_dynamic_axes_1', 'c_dynamic_axes_2', 256] },
    { name: 'f0', dtype: 'float32', shape: [1, 'f0_dynamic_axes_1'] },
    { name: 'mel2ph', dtype: 'int64', shape: [1, 'mel2ph_dynamic_axes_1'] },
    { name: 'uv', dtype: 'float32', shape: [1, 'uv_dynamic_axes_1'] },
    { name: 'noise', dtype: 'float32', shape: [1, 16, 'noise_dynamic_axes_1'] },
    { name: 'sid', dtype: 'int64', shape: [1] },
    { name: 'vol', dtype: 'float32', shape: [1, 'vol_dynamic_axes_1'] },
  ]);
  assert.equal(info.outputs.map((o) => [o.name, o.dtype, o.shape.length]), [['audio', 'float32', 3]]);
});

test('parity: onnxruntime-node matches PyTorch within 1e-4 relative (same inputs, same noise)', async () => {
  const r = await generatorParity(refDir, join(temp.dir, 'parity'), 60);
  assert.equal(r.onnxDims, r.torchDims);
  assert.is(r.torchDims[2], 60 * 320);
  assert.ok(r.peak > 1e-3, `expected audio is not silent (peak ${r.peak})`);
  assert.ok(r.maxDiff / r.peak <= 1e-4, `max |onnx - torch| / peak = ${r.maxDiff / r.peak}`);
});

test('parity with the NSF source bundles ship (noise hashed from each frame\'s latent noise in int64): onnxruntime-node computes the same noise as PyTorch', async () => {
  const r = await generatorParity(refDir, join(temp.dir, 'parity-hashed'), 60, { hashedSource: true });
  assert.equal(r.onnxDims, r.torchDims);
  assert.ok(r.peak > 1e-3, `expected audio is not silent (peak ${r.peak})`);
  assert.ok(r.maxDiff / r.peak <= 1e-4, `max |onnx - torch| / peak = ${r.maxDiff / r.peak}`);
});

test('bundle graphs run in onnxruntime-node at other lengths: audio = frames x hop, encoder 20 ms rows', async () => {
  const bundle = readBundle(refDir);
  const generator = await createSession(bundle.generatorPath);
  const encoder = await createSession(bundle.encoderPath!);
  try {
    const samples = 16000;
    const source = new Float32Array(samples).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 200 * i) / 16000));
    const embed = (await encoder.run({ source: { data: source, dims: [1, 1, samples] } })).embed!;
    const rows = Math.floor((samples - 400) / 320) + 1;
    assert.equal([...embed.dims], [1, rows, 256]);
    for (const frames of [7, 33]) {
      const c = embed.data as Float32Array;
      const mel2ph = BigInt64Array.from({ length: frames }, (_, t) => BigInt(Math.min(rows, t + 1)));
      const f0 = new Float32Array(frames).fill(220);
      const result = await generator.run({
        c: { data: c, dims: [1, rows, 256] },
        f0: { data: f0, dims: [1, frames] },
        mel2ph: { data: mel2ph, dims: [1, frames] },
        uv: { data: new Float32Array(frames).fill(1), dims: [1, frames] },
        noise: { data: new Float32Array(16 * frames).map(() => Math.random() * 0.4 - 0.2), dims: [1, 16, frames] },
        sid: { data: BigInt64Array.from([1n]), dims: [1] },
        vol: { data: new Float32Array(frames).fill(0.1), dims: [1, frames] },
      });
      const audio = result.audio!;
      assert.equal([...audio.dims], [1, 1, frames * 320]);
      assert.ok((audio.data as Float32Array).every((v) => Number.isFinite(v) && Math.abs(v) <= 1));
    }
  } finally {
    generator.dispose();
    encoder.dispose();
  }
});

test('import-sovits round trip: our checkpoint in upstream layout imports to the same graph', async () => {
  const out = join(temp.dir, 'imported');
  // make-reference wrote the single-sid graph; import-sovits writes upstream's speaker-mix graph for two or
  // more speakers unless told otherwise (the mix graph's own round trip is in speaker-mix.test.ts).
  const run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', join(refDir, 'config.json'), '--out', out, '--name', 'roundtrip', '--single-speaker-graph']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, /speakers \(2\): tiny_a, tiny_b/);
  const bundle = readBundle(out);
  assert.is(bundle.manifest.name, 'roundtrip');
  assert.is(bundle.manifest.source.iteration, 0);
  assert.equal(bundle.manifest.speakers, { tiny_a: 0, tiny_b: 1 });
  assert.ok(readFileSync(bundle.generatorPath).equals(readFileSync(join(refDir, 'generator.onnx'))), 'generator.onnx differs from the one exported from the same weights');
  assert.is(bundle.encoderPath, null);
});

test('import-sovits --encoder: user encoders in both conventions are recognized, a wrong width is refused', async () => {
  const out = join(temp.dir, 'with-encoder');
  const run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', join(refDir, 'config.json'), '--out', out, '--encoder', join(refDir, 'encoder.onnx')]);
  assert.is(run.code, 0, run.stderr);
  const enc = readBundle(out).manifest.encoder!;
  assert.equal([enc.convention, enc.input, enc.output, enc.dim], ['source-embed', 'source', 'embed', 256]);
  // soft-VC style: audio [1, N] -> units [1, T, D]; one 256-d and one 768-d variant.
  const { spawnSync } = await import('node:child_process');
  for (const dim of [256, 768]) {
    const script = `import torch\nclass E(torch.nn.Module):\n    def __init__(self):\n        super().__init__(); self.c = torch.nn.Conv1d(1, ${dim}, 400, stride=320)\n    def forward(self, audio): return self.c(audio.unsqueeze(1)).transpose(1, 2)\ntorch.onnx.export(E(), (torch.zeros(1, 16000),), '${join(temp.dir, `units${dim}.onnx`)}', input_names=['audio'], output_names=['units'], dynamic_axes={'audio': {1: 'n'}, 'units': {1: 't'}}, opset_version=16)`;
    const made = spawnSync('/usr/bin/python3', ['-c', script]);
    assert.is(made.status, 0, String(made.stderr));
  }
  const out2 = join(temp.dir, 'with-units');
  const ok = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', join(refDir, 'config.json'), '--out', out2, '--encoder', join(temp.dir, 'units256.onnx')]);
  assert.is(ok.code, 0, ok.stderr);
  const units = readBundle(out2).manifest.encoder!;
  assert.equal([units.convention, units.input, units.output, units.dim], ['audio-units', 'audio', 'units', 256]);
  const wrong = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', join(refDir, 'config.json'), '--out', join(temp.dir, 'bad-units'), '--encoder', join(temp.dir, 'units768.onnx')]);
  assert.is(wrong.code, 1);
  assert.match(wrong.stderr, /gives 768-d features but the model \(vec256l9\) takes 256-d/);
});

test('import-sovits: a 4.0 config and checkpoint import with the 4.0 signature (256-d c, no vol)', async () => {
  const config = tinyConfigVariant('v40', (c) => {
    for (const key of ['speech_encoder', 'vol_embedding', 'vocoder_name', 'use_depthwise_conv', 'flow_share_parameter', 'use_automatic_f0_prediction', 'use_transformer_flow', 'n_flow_layer', 'n_layers_trans_flow', 'speaker_embedding']) delete c.model[key];
  });
  const checkpoint = join(temp.dir, 'G_40.pth');
  const { spawnSync } = await import('node:child_process');
  const made = spawnSync('/usr/bin/python3', ['-c', [
    'from svc_py.sovits.config import read_config',
    'from svc_py.sovits.models import build_generator',
    'from svc_py.sovits.checkpoint import save_upstream_checkpoint',
    `save_upstream_checkpoint(build_generator(read_config('${config}')), '${checkpoint}', iteration=1200)`,
  ].join('\n')], { env: { ...process.env, PYTHONPATH: join(repoRoot, 'python') } });
  assert.is(made.status, 0, String(made.stderr));
  const out = join(temp.dir, 'v40');
  const run = await runSvc(['import-sovits', '--checkpoint', checkpoint, '--config', config, '--out', out]);
  assert.is(run.code, 0, run.stderr);
  const m = readBundle(out).manifest;
  assert.equal([m.sovits_version, m.speech_encoder, m.ssl_dim, m.vol_embedding, m.source.iteration], ['4.0', 'vec256l9', 256, false, 1200]);
  const info = await runPythonModule<OnnxInfo>('onnx_info', [join(out, 'generator.onnx')]);
  assert.equal(info.inputs.map((i) => i.name), ['c', 'f0', 'mel2ph', 'uv', 'noise', 'sid']);
  assert.equal(info.inputs[0]!.shape, ['c_dynamic_axes_1', 'c_dynamic_axes_2', 256]);
});

test('import-sovits: 4.1 vec256 checkpoint with a 4.1 vec768l12 config names the content width', async () => {
  const config = tinyConfigVariant('as768', (c) => {
    c.model.ssl_dim = 768;
    c.model.speech_encoder = 'vec768l12';
  });
  const run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', config, '--out', join(temp.dir, 'bad1')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /256-d content features/);
  assert.match(run.stderr, /ssl_dim 768/);
  assert.match(run.stderr, /pre\.weight checkpoint \[32, 256, 5\] vs config \[32, 768, 5\]/);
});

test('import-sovits: a 4.1 checkpoint with a 4.0 config names version-specific keys', async () => {
  const config = tinyConfigVariant('as40', (c) => {
    for (const key of ['speech_encoder', 'vol_embedding', 'vocoder_name', 'use_depthwise_conv', 'flow_share_parameter', 'use_automatic_f0_prediction', 'use_transformer_flow', 'n_flow_layer', 'n_layers_trans_flow', 'speaker_embedding']) delete c.model[key];
  });
  const run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', config, '--out', join(temp.dir, 'bad2')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /volume embedding \(4\.1 vol_embedding=true\) but the config does not/);
  assert.match(run.stderr, /unexpected keys \(\d+\): emb_vol\.weight/);
  assert.match(run.stderr, /use_depthwise_conv differs/);
});

test('import-sovits: unknown and missing config keys are named', async () => {
  const unknown = tinyConfigVariant('unknown', (c) => {
    c.model.hidden_chanels = 32;
  });
  let run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', unknown, '--out', join(temp.dir, 'bad3')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /unknown key\(s\): model\.hidden_chanels/);
  const missing = tinyConfigVariant('missing', (c) => {
    delete c.model.n_speakers;
    delete c.data.hop_length;
  });
  run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', missing, '--out', join(temp.dir, 'bad4')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /missing key\(s\): model\.n_speakers, data\.hop_length/);
});

test('import-sovits: files that are not so-vits checkpoints or configs are refused by name', async () => {
  // A JSON file as the checkpoint.
  let run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'config.json'), '--config', join(refDir, 'config.json'), '--out', join(temp.dir, 'bad5')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /is not a PyTorch checkpoint/);
  // An ONNX file as the config.
  run = await runSvc(['import-sovits', '--checkpoint', join(refDir, 'G_0.pth'), '--config', join(refDir, 'encoder.onnx'), '--out', join(temp.dir, 'bad6')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /is not a JSON file/);
  // A missing file.
  run = await runSvc(['import-sovits', '--checkpoint', join(temp.dir, 'nope.pth'), '--config', join(refDir, 'config.json'), '--out', join(temp.dir, 'bad7')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /--checkpoint .*nope\.pth does not exist/);
  // Nothing was left behind for failed imports.
  assert.not.ok(readdirSync(temp.dir).some((f) => f.startsWith('bad') && readdirSync(join(temp.dir, f)).length > 0));
});

test('a pickled checkpoint that would run code is refused, and the code does not run', async () => {
  const marker = join(temp.dir, 'pwned');
  const evil = join(temp.dir, 'evil.pth');
  const { spawnSync } = await import('node:child_process');
  const made = spawnSync('/usr/bin/python3', ['-c', `import torch, os\nclass E:\n    def __reduce__(self): return (os.system, ('touch ${marker}',))\ntorch.save({'model': {'enc_p.x': E()}}, '${evil}')`]);
  assert.is(made.status, 0, String(made.stderr));
  const run = await runSvc(['import-sovits', '--checkpoint', evil, '--config', join(refDir, 'config.json'), '--out', join(temp.dir, 'bad8')]);
  assert.is(run.code, 1);
  assert.match(run.stderr, /refusing to load posix\.system/);
  assert.not.ok(existsSync(marker));
});

test('python jobs: a timeout or an abort stops the job with a clear error', async () => {
  const timedOut = await runPythonModule('check', [], { timeoutMs: 50 }).then(() => null, (e: unknown) => e as { code: string; message: string });
  assert.ok(timedOut, 'the job should not finish within 50 ms');
  assert.is(timedOut!.code, 'INTERNAL');
  assert.match(timedOut!.message, /took longer than/);
  const controller = new AbortController();
  const pending = runPythonModule('check', [], { signal: controller.signal });
  controller.abort();
  const aborted = await pending.then(() => null, (e: unknown) => e as { message: string });
  assert.match(aborted!.message, /cancelled/);
  const ok = await runPythonModule<{ torch: string }>('check', []);
  assert.match(ok.torch, /^\d+\.\d+/);
});

test('no Python with torch: PYTHON_UNAVAILABLE with the apt command', async () => {
  const run = await runSvc(['make-reference', '--size', 'tiny', '--out', join(temp.dir, 'never')], { env: { SVC_PYTHON: join(temp.dir, 'no-python') } });
  assert.is(run.code, 1);
  assert.match(run.stderr, /cannot run Python/);
  assert.match(run.stderr, /apt-get install python3-torch/);
  // A Python without torch: a stub package first on PYTHONPATH makes `import torch` fail.
  const stub = join(temp.dir, 'no-torch', 'torch');
  mkdirSync(stub, { recursive: true });
  writeFileSync(join(stub, '__init__.py'), 'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n');
  const noTorch = await runSvc(['make-reference', '--size', 'tiny', '--out', join(temp.dir, 'never2')], { env: { PYTHONPATH: join(temp.dir, 'no-torch') } });
  assert.is(noTorch.code, 1);
  assert.match(noTorch.stderr, /needs torch/);
  assert.match(noTorch.stderr, /apt-get install python3-torch/);
});

test.run();
