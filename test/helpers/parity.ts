// ONNX vs PyTorch parity of a So-VITS generator (test/sovits*.test.ts): `python -m svc_py.parity`
// writes a deterministic-source (or, with hashedSource, the shipped hashed-source) generator graph, its inputs as .npy and PyTorch's audio for them; this
// runs the graph in onnxruntime-node on the same inputs and measures the largest difference.
import { join } from 'node:path';
import { readNpy } from '../../src/io/npy.js';
import { createSession, type FeedValue } from '../../src/onnx/session.js';
import { runPythonModule } from '../../src/python.js';

export interface ParityResult {
  /** Shape of the ONNX output and of PyTorch's [1, 1, frames × hop]. */
  onnxDims: number[];
  torchDims: number[];
  /** max |onnx − torch| over the samples, and max |torch|. */
  maxDiff: number;
  peak: number;
}

/** `hashedSource`: the graph bundles ship (NSF noise hashed by frame) instead of the deterministic one. */
export async function generatorParity(bundleDir: string, outDir: string, frames: number, options: { hashedSource?: boolean } = {}): Promise<ParityResult> {
  const args = ['--config', join(bundleDir, 'config.json'), '--checkpoint', join(bundleDir, 'G_0.pth'), '--out', outDir, '--frames', String(frames)];
  const { onnx } = await runPythonModule<{ onnx: string }>('parity', options.hashedSource ? [...args, '--hashed-source'] : args);
  const model = await createSession(onnx);
  try {
    const feeds: Record<string, FeedValue> = {};
    for (const name of model.inputNames) {
      const array = await readNpy(join(outDir, `${name}.npy`));
      feeds[name] = { data: array.data as Float32Array, dims: array.shape, type: array.dtype.endsWith('i8') ? 'int64' : 'float32' };
    }
    const audio = (await model.run(feeds)).audio!;
    const expected = await readNpy(join(outDir, 'expected_audio.npy'));
    const got = audio.data as Float32Array;
    const want = expected.data as Float32Array;
    let maxDiff = 0;
    let peak = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      peak = Math.max(peak, Math.abs(want[i]!));
    }
    return { onnxDims: [...audio.dims], torchDims: expected.shape, maxDiff, peak };
  } finally {
    model.dispose();
  }
}
