// Shared fixtures of the neural tests (test/neural*.test.ts): a tiny random-weight reference bundle built
// with `svc make-reference --size tiny --checkpoint`, and a copy of it whose generator has the NSF
// source made deterministic (the graph the PyTorch reference runs), so that outputs can be compared.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { writeNpy } from '../src/io/npy.js';
import type { OfflineFeatures } from '../src/voices/sovits/convert.js';
import { noiseTensor } from '../src/voices/noise.js';
import { runPythonModule } from '../src/python.js';

export interface TinyBundles {
  /** The bundle as make-reference writes it (random NSF phases and noise inside the graph). */
  random: string;
  /** The same weights with a deterministic NSF source. */
  deterministic: string;
}

/** Builds both bundles under `dir` (about 25 s). */
export async function buildTinyBundles(dir: string, seed = 1234): Promise<TinyBundles> {
  const random = join(dir, 'tiny');
  await makeReference('tiny', random, { seed, checkpoint: true });
  const deterministic = join(dir, 'tiny-det');
  mkdirSync(deterministic, { recursive: true });
  for (const file of readdirSync(random)) copyFileSync(join(random, file), join(deterministic, file));
  await runPythonModule('reference_convert', ['--bundle', random, '--export-deterministic', join(deterministic, 'generator.onnx')]);
  return { random, deterministic };
}

/** Writes what the engine fed the generator, for python -m svc_py.reference_convert. */
export async function writeFeatures(dir: string, f: OfflineFeatures, interChannels: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  await writeNpy(join(dir, 'audio16k.npy'), f.audio16k, [f.audio16k.length]);
  await writeNpy(join(dir, 'f0.npy'), f.f0Hz, [f.frames]);
  await writeNpy(join(dir, 'uv.npy'), f.uv, [f.frames]);
  await writeNpy(join(dir, 'vol.npy'), f.vol, [f.frames]);
  await writeNpy(join(dir, 'noise.npy'), noiseTensor(f.seed, 0, f.frames, interChannels, f.noiseScale), [1, interChannels, f.frames]);
  await writeNpy(join(dir, 'sid.npy'), BigInt64Array.from([BigInt(f.speakerId)]), [1]);
}

/** ‖a − b‖ / ‖b‖ over the common length. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** SNR of `test` against `reference` in dB over [from, to). */
export function snrDb(reference: Float32Array, test: Float32Array, from = 0, to = Math.min(reference.length, test.length)): number {
  let signal = 0;
  let noise = 0;
  for (let i = from; i < to; i++) {
    signal += reference[i]! ** 2;
    noise += (reference[i]! - test[i]!) ** 2;
  }
  return 10 * Math.log10(signal / Math.max(noise, 1e-30));
}
