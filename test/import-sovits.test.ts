// `svc import-sovits` with the files so-vits-svc users have beyond a plain G_*.pth: release/half
// checkpoints (compress_model.py; layout recorded from upstream's own script in
// test/fixtures/sovits_release_tiny.json), so-vits-svc-fork configs (its templates in
// test/fixtures/fork_configs), upstream onnx_export.py graphs (signatures recorded from upstream's
// exporter in test/fixtures/sovits_onnx_upstream.json) including the speaker-mix graph, speaker mixes at
// run time, and clear refusals (RVC, diffusion, Snake vocoder, an encoder passed as the generator).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBundle, resolveSpeakerChoice, speakerFeed } from '../src/voices/sovits/bundle.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { pythonExecutable } from '../src/paths.js';
import { createSession } from '../src/onnx/session.js';
import { importSovits } from '../src/voices/sovits/import.js';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';
import { voiceLike } from './helpers/f0-synth.js';

const temp = makeTempDir('svc-import-sovits-');
const refDir = join(temp.dir, 'tiny');
const fixtures = join(repoRoot, 'test', 'fixtures');
let ready: Promise<unknown> | undefined;

function python(args: string[]): string {
  return execFileSync(pythonExecutable, args, { encoding: 'utf8', env: { ...process.env, PYTHONPATH: join(repoRoot, 'python') }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function reference(): Promise<unknown> {
  ready ??= makeReference('tiny', refDir, { checkpoint: true });
  return ready;
}

function tinyConfig(edit: (config: { model: Record<string, unknown>; [k: string]: unknown }) => void, name: string): string {
  const config = JSON.parse(readFileSync(join(refDir, 'config.json'), 'utf8')) as { model: Record<string, unknown> };
  edit(config);
  const path = join(temp.dir, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

test('a release/half checkpoint with a so-vits-svc-fork config imports, says what was absent, and converts', async () => {
  await reference();
  const release = join(temp.dir, 'G_0_release_half.pth');
  const layout = JSON.parse(python([join(repoRoot, 'test', 'helpers', 'release_checkpoint.py'), join(refDir, 'G_0.pth'), release, '--half'])) as Record<string, unknown>;
  const upstream = JSON.parse(readFileSync(join(fixtures, 'sovits_release_tiny.json'), 'utf8')) as Record<string, unknown>;
  for (const key of Object.keys(layout)) assert.equal(layout[key], upstream[key], `release layout ${key} as upstream's compress_model.py writes it`);

  const config = tinyConfig((c) => {
    c.model.type_ = 'hifi-gan';
    c.model.pretrained = { 'G_0.pth': 'https://example.invalid/G_0.pth' };
  }, 'fork-config.json');
  const out = join(temp.dir, 'release');
  const result = await importSovits({ checkpoint: release, config, out, encoder: join(refDir, 'encoder.onnx') });
  const notes = result.notes.join('\n');
  assert.match(notes, /absent from the checkpoint: enc_q\.\* \(151 tensors: the posterior encoder, used only in training\)/);
  assert.match(notes, /float16 weights/);
  assert.match(notes, /so-vits-svc-fork config/);
  assert.match(notes, /model\.pretrained .* ignored/);
  assert.equal(result.manifest.source.absent, ['enc_q']);

  const model = await SovitsModel.load(out);
  try {
    const input = voiceLike(1.0, model.sampleRate);
    const converted = await convertAtModelRate(model, input, { seed: 1 });
    assert.is(converted.samples.length, input.length);
    const rms = Math.sqrt(converted.samples.reduce((a, v) => a + v * v, 0) / converted.samples.length);
    assert.ok(Number.isFinite(rms) && rms > 1e-4, `audio came out (rms ${rms})`);
  } finally {
    await model.dispose();
  }
});

test('without enc_q, strict loading names the real cause (not depthwise convs)', async () => {
  await reference();
  const script = `
import json
from svc_py.sovits.config import read_config
from svc_py.sovits.models import build_generator
from svc_py.sovits.checkpoint import check_state_dict, load_checkpoint_file
from svc_py.events import SvcPyError
config = read_config(${JSON.stringify(join(refDir, 'config.json'))})
state, _ = load_checkpoint_file(${JSON.stringify(join(temp.dir, 'G_0_release_half.pth'))})
try:
    check_state_dict(state, build_generator(config).state_dict(), config)
except SvcPyError as error:
    print(json.dumps({"message": error.message, "hint": error.hint}))
`;
  const { message, hint } = JSON.parse(python(['-c', script])) as { message: string; hint: string };
  assert.match(message, /no posterior encoder enc_q/);
  assert.not.match(message, /depthwise/);
  assert.match(hint, /import-sovits` accepts release checkpoints/);
});

test('so-vits-svc-fork templates validate (type_ hifi-gan, pretrained ignored); QuickVC is refused by name', () => {
  const script = `
import json, sys
from svc_py.sovits.config import validate_config
from svc_py.events import SvcPyError
out = {}
for name in ("so-vits-svc-4.0v1", "so-vits-svc-4.0v1-legacy", "quickvc"):
    config = json.load(open(f"${join(fixtures, 'fork_configs')}/{name}.json"))
    try:
        c = validate_config(config, name)
        out[name] = {"version": c["version"], "encoder": c["speech_encoder"], "notes": c["notes"]}
    except SvcPyError as error:
        out[name] = {"code": error.code, "message": error.message}
print(json.dumps(out))
`;
  const result = JSON.parse(python(['-c', script])) as Record<string, { version?: string; encoder?: string; notes?: string[]; code?: string; message?: string }>;
  assert.equal([result['so-vits-svc-4.0v1']!.version, result['so-vits-svc-4.0v1']!.encoder], ['4.0', 'vec768l12']);
  assert.equal(result['so-vits-svc-4.0v1-legacy']!.encoder, 'vec256l9');
  assert.is(result['so-vits-svc-4.0v1']!.notes!.length, 2);
  assert.is(result.quickvc!.code, 'MODEL_UNSUPPORTED');
  assert.match(result.quickvc!.message!, /QuickVC/);
});

test('two or more speakers export upstream\'s mix graph by default; --onnx wraps upstream-signature graphs; mixes convert, single-sid graphs refuse them', async () => {
  await reference();
  const upstream = JSON.parse(readFileSync(join(fixtures, 'sovits_onnx_upstream.json'), 'utf8')) as {
    graphs: Record<'single' | 'mix', { inputs: Array<{ name: string; dtype: string; shape: Array<string | number> }> }>;
  };
  const signature = (inputs: Array<{ name: string; dtype: string; shape: Array<string | number> }>) => inputs.map((i) => `${i.name}:${i.dtype}:${i.shape.length}`);

  const mixDir = join(temp.dir, 'mix');
  const mixed = await importSovits({ checkpoint: join(refDir, 'G_0.pth'), config: join(refDir, 'config.json'), out: mixDir, encoder: join(refDir, 'encoder.onnx') });
  assert.equal(mixed.manifest.speaker_mix, { graph: 'per-frame', columns: ['tiny_a', 'tiny_b'] });
  const single = await importSovits({ checkpoint: join(refDir, 'G_0.pth'), config: join(refDir, 'config.json'), out: join(temp.dir, 'single'), singleSpeakerGraph: true });
  assert.is(single.manifest.speaker_mix, null, '--single-speaker-graph opts out');
  assert.equal(signature(mixed.manifest.generator.inputs), signature(upstream.graphs.mix.inputs), 'names, dtypes and ranks of upstream\'s mix graph');

  // --onnx: the mix graph and the reference bundle's single-speaker graph, wrapped as upstream exports.
  const wrappedMix = await importSovits({ onnx: join(mixDir, 'generator.onnx'), config: join(refDir, 'config.json'), out: join(temp.dir, 'onnx-mix'), encoder: join(refDir, 'encoder.onnx') });
  assert.equal(wrappedMix.manifest.speaker_mix?.columns, ['tiny_a', 'tiny_b']);
  const wrappedSingle = await importSovits({ onnx: join(refDir, 'generator.onnx'), config: join(refDir, 'config.json'), out: join(temp.dir, 'onnx-single') });
  assert.equal(signature(wrappedSingle.manifest.generator.inputs), signature(upstream.graphs.single.inputs));
  assert.is(wrappedSingle.manifest.speaker_mix, null);

  const model = await SovitsModel.load(join(temp.dir, 'onnx-mix'));
  try {
    const input = voiceLike(0.6, model.sampleRate);
    const a = await convertAtModelRate(model, input, { seed: 3, speaker: 'tiny_a' });
    const b = await convertAtModelRate(model, input, { seed: 3, speaker: 'tiny_b' });
    const half = await convertAtModelRate(model, input, { seed: 3, speaker: 'tiny_a:0.5,tiny_b:0.5' });
    assert.is(half.speakerName, 'tiny_a 0.50 + tiny_b 0.50');
    const distance = (x: Float32Array, y: Float32Array) => Math.sqrt(x.reduce((acc, v, i) => acc + (v - y[i]!) ** 2, 0) / x.length);
    assert.ok(distance(a.samples, b.samples) > 1e-4, 'the two speakers differ');
    assert.ok(distance(half.samples, a.samples) > 1e-4 && distance(half.samples, b.samples) > 1e-4, 'the blend is neither speaker');
  } finally {
    await model.dispose();
  }

  // The sid feed: per-frame rows of weights in column order; one speaker is one-hot.
  const manifest = readBundle(join(temp.dir, 'onnx-mix')).manifest;
  const feed = speakerFeed(manifest, resolveSpeakerChoice(manifest, 'tiny_b:3,tiny_a:1'), 2);
  assert.equal([...feed.data as Float32Array], [0.25, 0.75, 0.25, 0.75]);
  assert.equal(feed.dims, [2, 2]);

  const refused = await runSvc(['convert', '--model', refDir, '--speaker', 'tiny_a:0.5,tiny_b:0.5', shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'), join(temp.dir, 'out.wav')]);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /cannot mix speakers: its generator takes one speaker id/);
});

test('refusals name the file type and the supported path, before any export', async () => {
  await reference();
  const write = (name: string, body: string) => {
    const path = join(temp.dir, name);
    python(['-c', `import torch\n${body.replace('OUT', JSON.stringify(path))}`]);
    return path;
  };
  const rvc = write('rvc.pth', 'torch.save({"weight": {"enc_p.emb_phone.weight": torch.zeros(2, 2)}, "config": [1025, 32], "info": "300epoch", "sr": "40k", "f0": 1, "version": "v2"}, OUT)');
  const diffusion = write('diffusion.pt', 'torch.save({"global_step": 10, "model": {"unit_embed.weight": torch.zeros(2, 2), "decoder.denoise_fn.input_projection.weight": torch.zeros(2, 2)}}, OUT)');
  const config = join(refDir, 'config.json');
  const cases: Array<[string[], RegExp]> = [
    [['--checkpoint', rvc, '--config', config], /is an RVC \(Retrieval-based Voice Conversion\) model \(version v2, sr 40k, f0 1\)/],
    [['--checkpoint', diffusion, '--config', config], /shallow-diffusion model/],
    [['--checkpoint', join(refDir, 'G_0.pth'), '--config', tinyConfig((c) => (c.model.vocoder_name = 'nsf-snake-hifigan'), 'snake.json')], /nsf-snake-hifigan.*not supported; only nsf-hifigan/],
    [['--checkpoint', join(refDir, 'G_0.pth'), '--config', tinyConfig((c) => (c.model.use_transformer_flow = true), 'trflow.json')], /VITS2 transformer flow/],
    [['--checkpoint', join(refDir, 'G_0.pth'), '--config', config, '--encoder', join(refDir, 'config.json')], /not an ONNX model/],
  ];
  for (const [args, message] of cases) {
    const result = await runSvc(['import-sovits', ...args, '--out', join(temp.dir, 'refused')]);
    assert.is(result.code, 1, args.join(' '));
    assert.match(result.stderr, message);
    assert.not.match(result.stderr, /generator\.onnx written/, 'failed before the generator export');
  }
});

test('a kmeans cluster model (upstream train_cluster.py) imports as cluster.onnx, matches upstream\'s mix, and applies at --cluster-ratio', async () => {
  await reference();
  const out = join(temp.dir, 'clustered');
  const result = await importSovits({ onnx: join(refDir, 'generator.onnx'), config: join(refDir, 'config.json'), out, encoder: join(refDir, 'encoder.onnx'), cluster: join(fixtures, 'cluster', 'kmeans_8.pt') });
  assert.equal(result.manifest.cluster, { file: 'cluster.onnx', kind: 'kmeans', speakers: ['tiny_a', 'tiny_b'], clusters: 8, source: 'kmeans_8.pt' });

  // cluster.onnx against so-vits-svc's own get_cluster_center_result (ratio 0.5), per speaker.
  const upstream = JSON.parse(readFileSync(join(fixtures, 'cluster', 'kmeans_8.json'), 'utf8')) as { input: number[][]; ratio: number; mixed: Record<string, number[][]> };
  const session = await createSession(join(out, 'cluster.onnx'));
  try {
    for (const [index, speaker] of ['tiny_a', 'tiny_b'].entries()) {
      const mixed = (await session.run({
        c: { data: Float32Array.from(upstream.input.flat()), dims: [upstream.input.length, 256] },
        speaker: { data: BigInt64Array.from([BigInt(index)]), dims: [1] },
        ratio: { data: Float32Array.from([upstream.ratio]), dims: [1] },
      })).mixed!.data as Float32Array;
      const expected = upstream.mixed[speaker]!.flat();
      const worst = expected.reduce((m, v, i) => Math.max(m, Math.abs(v - mixed[i]!)), 0);
      assert.ok(worst < 1e-5, `${speaker}: max |svc - upstream| ${worst}`);
    }
  } finally {
    await session.dispose();
  }

  const model = await SovitsModel.load(out);
  try {
    // The engine's path (speaker name -> cluster row) gives upstream's mix for tiny_b.
    const mixed = await model.clusterMix(Float32Array.from(upstream.input.flat()), upstream.input.length, model.speakerId('tiny_b'), upstream.ratio);
    const worst = upstream.mixed.tiny_b!.flat().reduce((m, v, i) => Math.max(m, Math.abs(v - mixed[i]!)), 0);
    assert.ok(worst < 1e-5, `engine cluster mix vs upstream: ${worst}`);
    // A conversion with the cluster applied (the generator's NSF noise makes two runs differ, so only sanity here).
    const input = voiceLike(0.6, model.sampleRate);
    const pulled = await convertAtModelRate(model, input, { seed: 5, speaker: 'tiny_b', clusterRatio: 0.7 });
    assert.is(pulled.samples.length, input.length);
    assert.ok(pulled.samples.every(Number.isFinite));
  } finally {
    await model.dispose();
  }
  const refused = await runSvc(['convert', '--model', refDir, '--cluster-ratio', '0.5', shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'), join(temp.dir, 'out2.wav')]);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /has no cluster model/);
});

test.after(() => temp.cleanup());
test.run();
