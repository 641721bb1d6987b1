// Content-encoder import: a fairseq HuBERT/ContentVec or soft-VC HuBERT-Soft checkpoint becomes an
// encoder ONNX in svc's `source` [1,1,N] -> `embed` [1,T,D] convention (python/svc_py/import_encoder.py
// reads the checkpoint as data and exports it), then the exported graph is run here through
// onnxruntime-node on the probe the Python side wrote and compared with PyTorch's output on the same
// weights: the import fails unless max |onnx - torch| <= 1e-4 of torch's peak.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { createSession } from '../../onnx/session.js';
import { runPythonModule } from '../../python.js';

/** Names `svc import-encoder --name` takes (so-vits-svc's speech_encoder values it can build). */
export const IMPORTABLE_ENCODERS = ['vec768l12', 'vec256l9', 'vec768l9', 'vec256l12', 'hubertsoft'] as const;
/** Largest accepted max |ONNX − PyTorch| relative to PyTorch's peak. */
export const ENCODER_PARITY_LIMIT = 1e-4;

export interface EncoderProbe {
  dir: string;
  samples: number;
  frames: number;
  dim: number;
}

export interface ImportedEncoder {
  out: string;
  convention: 'source-embed';
  input: string;
  output: string;
  sample_rate: number;
  hop_samples: number;
  dim: number;
  kind: string;
  layer: number;
  projection: string | null;
  speech_encoder: string;
  description: string;
  parameters: number;
  export_seconds: number;
  probe?: EncoderProbe;
  /** max |ONNX − PyTorch| / peak on the probe (set by checkEncoderProbe). */
  parity?: { maxAbsDiff: number; peak: number; relative: number; frames: number };
}

function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/**
 * Runs `onnxPath` on the probe input and compares with the PyTorch output the Python job wrote.
 * Throws MODEL_INVALID when the shapes differ or the difference exceeds ENCODER_PARITY_LIMIT.
 */
export async function checkEncoderProbe(onnxPath: string, probe: EncoderProbe): Promise<NonNullable<ImportedEncoder['parity']>> {
  const input = readFloats(join(probe.dir, 'probe_input.f32'));
  const expected = readFloats(join(probe.dir, 'probe_expected.f32'));
  const session = await createSession(onnxPath, { intraOpThreads: 1 });
  try {
    const name = session.inputNames[0]!;
    const out = await session.run({ [name]: { data: input, dims: [1, 1, input.length], type: 'float32' } });
    const got = out[session.outputNames[0]!]!;
    const dims = got.dims;
    if (dims.length !== 3 || dims[1] !== probe.frames || dims[2] !== probe.dim) {
      throw new SvcError('MODEL_INVALID', `the exported encoder gives [${dims.join(', ')}] on ${input.length} samples; PyTorch gives [1, ${probe.frames}, ${probe.dim}]`);
    }
    const data = got.data as Float32Array;
    let maxAbsDiff = 0;
    let peak = 0;
    for (let i = 0; i < expected.length; i++) {
      maxAbsDiff = Math.max(maxAbsDiff, Math.abs(data[i]! - expected[i]!));
      peak = Math.max(peak, Math.abs(expected[i]!));
    }
    const relative = peak > 0 ? maxAbsDiff / peak : maxAbsDiff;
    if (!(relative <= ENCODER_PARITY_LIMIT)) {
      throw new SvcError('MODEL_INVALID', `the exported encoder differs from PyTorch on the same weights: max |difference| ${maxAbsDiff.toExponential(2)} = ${relative.toExponential(2)} of the peak ${peak.toFixed(3)} (limit ${ENCODER_PARITY_LIMIT})`, {
        hint: 'report it with the checkpoint; the ONNX file was not kept',
      });
    }
    return { maxAbsDiff, peak, relative, frames: probe.frames };
  } finally {
    await session.dispose();
  }
}

export interface ImportEncoderOptions {
  checkpoint: string;
  /** so-vits-svc speech_encoder name: which layer and projection to export. */
  name: string;
  out: string;
  force?: boolean;
  onProgress?: (message: string) => void;
}

/** Converts and checks; removes the ONNX file again when the check fails. */
export async function importEncoder(options: ImportEncoderOptions): Promise<ImportedEncoder> {
  const probeDir = mkdtempSync(join(tmpdir(), 'svc-encoder-probe-'));
  try {
    const args = ['--checkpoint', resolve(options.checkpoint), '--name', options.name, '--out', resolve(options.out), '--probe-dir', probeDir];
    if (options.force) args.push('--force');
    const result = await runPythonModule<ImportedEncoder>('import_encoder', args, { onProgress: options.onProgress });
    try {
      result.parity = await checkEncoderProbe(result.out, result.probe!);
    } catch (error) {
      rmSync(result.out, { force: true });
      throw error;
    }
    delete result.probe;
    return result;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}
