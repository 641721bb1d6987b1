// Shared checks of an imported pitch tracker (`svc import-f0`): `--f0 <kind>` reaches the imported graph from
// `svc f0` and `svc convert`, and without an imported model both fail naming `svc import-f0`, with no server
// path in the message. Used by test/f0-imported.test.ts (RMVPE) and test/f0-fcpe.test.ts (FCPE).
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { readMono, writeWav } from '../../src/audio/io.js';
import { estimateF0 } from '../../src/dsp/f0/index.js';
import type { ImportedF0Source } from '../../src/dsp/f0/imported.js';
import type { F0Frame, F0StreamLike, ImportedF0Method } from '../../src/dsp/f0/types.js';
import { makeReference } from '../../src/voices/sovits/bundle.js';
import { runSvc } from './index.js';

/** Runs the checks in `dir`; `env` has the imported model, `emptyEnv` none. Returns the tiny So-VITS bundle it made. */
export async function checkImportedF0Plumbing(kind: ImportedF0Method, dir: string, env: NodeJS.ProcessEnv, emptyEnv: NodeJS.ProcessEnv): Promise<{ bundle: string }> {
  const tone = join(dir, 'tone.wav');
  const rate = 24000;
  const samples = new Float32Array(rate);
  for (let i = 0; i < samples.length; i++) samples[i] = 0.3 * Math.sin((2 * Math.PI * 220 * i) / rate);
  await writeWav(tone, { samples, sampleRate: rate }, { format: 'float32' });
  const f0 = await runSvc(['f0', tone, '--method', kind, '--format', 'json'], { env });
  assert.is(f0.code, 0, f0.stderr);
  const json = JSON.parse(f0.stdout) as { method: string; raw_f0_hz: number[] };
  // in-process estimateF0 looks in the model folders of process.env (the caller points it at the same root)
  const direct = await estimateF0(samples, rate, { method: kind, hopSamples: 240 });
  assert.is(json.method, kind);
  assert.equal(json.raw_f0_hz, Array.from(direct.rawF0Hz, (x) => Number(x.toFixed(3))));
  const bundle = join(dir, 'tiny');
  await makeReference('tiny', bundle, { seed: 3 });
  const out = join(dir, 'converted.wav');
  const converted = await runSvc(['convert', tone, out, '--model', bundle, '--f0', kind], { env });
  assert.is(converted.code, 0, converted.stderr);
  const written = await readMono(out);
  assert.is(Math.abs(written.samples.length / written.sampleRate - 1) < 0.01, true);
  for (const args of [['f0', tone, '--method', kind], ['convert', tone, join(dir, 'x.wav'), '--model', bundle, '--f0', kind]]) {
    const missing = await runSvc(args, { env: emptyEnv });
    assert.is(missing.code === 0, false);
    assert.match(missing.stderr, new RegExp(`f0 method '${kind}' needs an imported ${kind.toUpperCase()} model.*svc import-f0 ${kind}\\.pt --kind ${kind}`, 's'));
    assert.not.match(missing.stderr, new RegExp(dir));
  }
  return { bundle };
}

/** Feeds `audio` to a 16 kHz f0 stream in chunks of 1..900 samples (a fixed pseudo-random sequence), then flushes and disposes it. */
export async function streamInRandomChunks(stream: F0StreamLike, audio: Float32Array, seed: number): Promise<F0Frame[]> {
  const frames: F0Frame[] = [];
  for (let at = 0; at < audio.length; ) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const n = 1 + (seed % 900);
    frames.push(...(await stream.process(audio.subarray(at, at + n))));
    at += n;
  }
  frames.push(...(await stream.flush()));
  await stream.dispose();
  return frames;
}

/** One run of an imported graph over `audio`: its activations (N // 160 + 1 frames, checked) and the largest |ours − expected|. */
export async function activationsAgainst(source: ImportedF0Source, audio: Float32Array, expected: Float32Array): Promise<{ act: { data: Float32Array; frames: number }; worst: number }> {
  const act = await source.activations(audio);
  assert.is(act.frames, Math.floor(audio.length / 160) + 1);
  assert.is(act.data.length, expected.length);
  let worst = 0;
  for (let i = 0; i < act.data.length; i++) worst = Math.max(worst, Math.abs(act.data[i]! - expected[i]!));
  return { act, worst };
}
