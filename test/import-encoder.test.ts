// `svc import-encoder`: content-encoder checkpoints as so-vits-svc users have them, rebuilt from
// committed data (test/fixtures/encoders: key layouts of fairseq's HubertModel and soft-VC's HubertSoft,
// the pickle fairseq itself wrote, reference outputs computed by upstream's own code on seeded
// weights; test/helpers/encoder_fixture.py). The exported ONNX, run by onnxruntime-node, must give
// upstream's features within 1e-4 of their peak; wrong names and hostile files are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession } from '../src/onnx/session.js';
import { pythonExecutable } from '../src/paths.js';
import { makeTempDir, repoRoot, runSvc } from './helpers/index.js';

interface EncoderFixture {
  upstream: string;
  keys: Array<[string, number[]]>;
  outputs: Record<string, number[][]>;
}

const temp = makeTempDir('svc-import-encoder-');

function fixture(name: string): EncoderFixture {
  return JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'encoders', `${name}.json`), 'utf8')) as EncoderFixture;
}

function helper(...args: string[]): string {
  return execFileSync(pythonExecutable, [join(repoRoot, 'test', 'helpers', 'encoder_fixture.py'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: join(repoRoot, 'python') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function rebuild(kind: 'fairseq' | 'fairseq-args' | 'softvc'): { checkpoint: string; input: Float32Array } {
  const dir = join(temp.dir, kind);
  const paths = JSON.parse(helper(kind, dir).trim().split('\n').pop()!) as { checkpoint: string; input: string };
  const bytes = readFileSync(paths.input);
  return { checkpoint: paths.checkpoint, input: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) };
}

/** Runs the ONNX encoder on `input` and returns max |onnx - reference| / peak(reference). */
async function relativeError(onnxPath: string, input: Float32Array, reference: number[][]): Promise<number> {
  const session = await createSession(onnxPath);
  try {
    const out = await session.run({ source: { data: input, dims: [1, 1, input.length], type: 'float32' } });
    const embed = out.embed!;
    assert.equal(embed.dims, [1, reference.length, reference[0]!.length], 'rows x width as upstream');
    const data = embed.data as Float32Array;
    let diff = 0;
    let peak = 0;
    reference.forEach((row, r) => row.forEach((value, c) => {
      diff = Math.max(diff, Math.abs(data[r * row.length + c]! - value));
      peak = Math.max(peak, Math.abs(value));
    }));
    return diff / peak;
  } finally {
    await session.dispose();
  }
}

test('upstream key layouts (HuBERT base from fairseq, soft-VC HubertSoft) map onto the exported network exactly', () => {
  const result = JSON.parse(helper('check-keys')) as Record<string, { missing: string[]; unexpected: string[]; shapes_differ: string[]; projection: Record<string, number[]> }>;
  for (const family of ['fairseq', 'softvc']) {
    const r = result[family]!;
    assert.equal([r.missing, r.unexpected, r.shapes_differ], [[], [], []], family);
    assert.equal(r.projection.weight, [256, 768], `${family} projection 768 -> 256`);
  }
  assert.is(fixture('fairseq_base').keys.length, 214);
  assert.ok(fixture('fairseq_base').keys.some(([k]) => k === 'label_embs_concat'), 'the fixture is fairseq HubertModel\'s own layout');
});

// (vec768l9/vec256l12 are the same code path with other layer/projection choices.)
for (const [kind, name] of [['fairseq', 'vec256l9'], ['fairseq-args', 'vec768l12'], ['softvc', 'hubertsoft']] as const) {
  test(`${kind} checkpoint -> ${name}: ONNX equals upstream's own features (<= 1e-4 of peak)`, async () => {
    const { checkpoint, input } = rebuild(kind);
    const out = join(temp.dir, `${kind}-${name}.onnx`);
    const result = await runSvc(['import-encoder', checkpoint, '--name', name, '--out', out]);
    assert.is(result.code, 0, result.stderr);
    assert.match(result.stdout, /ONNX vs PyTorch on \d+ rows: max \|difference\|/);
    const reference = fixture(kind === 'softvc' ? 'softvc_tiny' : 'fairseq_tiny').outputs[name]!;
    const error = await relativeError(out, input, reference);
    assert.ok(error <= 1e-4, `max |onnx - upstream| / peak = ${error}`);
  });
}

test('wrong names, other encoder kinds and files that would run code are refused with the reason', async () => {
  const { checkpoint } = rebuild('softvc');
  const wrongFamily = await runSvc(['import-encoder', checkpoint, '--name', 'vec768l12', '--out', join(temp.dir, 'x.onnx')]);
  assert.is(wrongFamily.code, 1);
  assert.match(wrongFamily.stderr, /needs a fairseq HuBERT\/ContentVec checkpoint, but .* is a soft-VC HuBERT-Soft checkpoint/);
  const whisper = await runSvc(['import-encoder', checkpoint, '--name', 'whisper-ppg', '--out', join(temp.dir, 'x.onnx')]);
  assert.match(whisper.stderr, /MODEL_UNSUPPORTED|Whisper encoder/);
  const unknown = await runSvc(['import-encoder', checkpoint, '--name', 'vec999', '--out', join(temp.dir, 'x.onnx')]);
  assert.match(unknown.stderr, /unknown speech encoder name 'vec999'/);

  // A checkpoint whose pickle calls os.system: refused by name, and the command never runs.
  const marker = join(temp.dir, 'pwned');
  const hostile = join(temp.dir, 'hostile.pt');
  execFileSync(pythonExecutable, ['-c', `import torch, os\nclass P:\n    def __reduce__(self): return (os.system, ('touch ${marker}',))\ntorch.save({'cfg': P(), 'model': {}}, '${hostile}')`]);
  const refused = await runSvc(['import-encoder', hostile, '--name', 'vec768l12', '--out', join(temp.dir, 'x.onnx')]);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /refusing to load (posix|os)\.system/);
  let ran = true;
  try {
    readFileSync(marker);
  } catch {
    ran = false;
  }
  assert.not.ok(ran, 'the pickled command did not run');

  const notEncoder = join(temp.dir, 'notes.pt');
  writeFileSync(notEncoder, 'not a checkpoint');
  const garbage = await runSvc(['import-encoder', notEncoder, '--name', 'vec768l12', '--out', join(temp.dir, 'x.onnx')]);
  assert.match(garbage.stderr, /cannot be read as a PyTorch checkpoint/);
});

test.after(() => temp.cleanup());
test.run();
