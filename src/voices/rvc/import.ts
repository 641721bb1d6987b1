// Importing RVC models into bundles (./bundle.ts):
//   - an RVC .pth (what RVC's WebUI writes to assets/weights/) goes through
//     python/svc_py/import_rvc.py: read as data, loaded strictly into svc's RVC synthesizer, exported
//     to ONNX in RVC's signature;
//   - an RVC ONNX export (RVC's infer/modules/onnx/export.py, or any graph with that signature) is
//     checked against the signature, probed once for its hop (output samples per frame = rate / 100)
//     and copied as-is.
// Either way the .index is parsed before it is copied, so a bad index fails the import, not a stream.
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import type { BundleEncoder, BundleTensorSpec } from '../bundle-file.js';
import { createSession } from '../../onnx/session.js';
import { runPythonModule } from '../../python.js';
import { RVC_BUNDLE_FORMAT, readRvcBundle, rvcGeneratorInputs, type RvcManifest } from './bundle.js';
import { readFaissIndex } from '../retrieval/faissIndex.js';

/** The length RVC's exporter traces with (infer/modules/onnx/export.py: 200 frames). */
export const RVC_EXPORT_FRAMES = 200;

export interface ImportRvcOptions {
  /** RVC model: .pth (RVC WebUI weights) or .onnx (RVC's ONNX export). */
  model: string;
  out: string;
  index?: string;
  encoder?: string;
  name?: string;
  force?: boolean;
  /** Also write the generator with a noise-free NSF source to this path (parity tests; .pth only). */
  exportDeterministic?: string;
  onProgress?: (message: string) => void;
}

export interface ImportRvcResult {
  out: string;
  manifest: RvcManifest;
}

function checkInputs(options: ImportRvcOptions): void {
  for (const [flag, path] of [['MODEL', options.model], ['--index', options.index], ['--encoder', options.encoder]] as const) {
    if (path !== undefined && !existsSync(path)) {
      throw new SvcError('FILE_NOT_FOUND', `${flag} ${path} does not exist`, {
        hint: flag === 'MODEL' ? 'pass the RVC model .pth (assets/weights/NAME.pth) or its ONNX export' : flag === '--index' ? 'pass the added_IVF*.index file from logs/NAME/' : 'pass the content encoder .onnx',
      });
    }
  }
  const ext = extname(options.model).toLowerCase();
  if (ext !== '.pth' && ext !== '.onnx') {
    throw new SvcError('INVALID_ARGUMENT', `RVC model ${basename(options.model)} is neither .pth nor .onnx`, { hint: 'pass the .pth RVC writes to assets/weights/, or an RVC ONNX export' });
  }
}

export async function importRvc(options: ImportRvcOptions): Promise<ImportRvcResult> {
  checkInputs(options);
  if (options.index) {
    const index = readFaissIndex(options.index);
    options.onProgress?.(`index: ${index.ntotal} vectors of ${index.dim}-d in ${index.nlist} lists (nprobe ${index.nprobe})`);
  }
  const out = resolve(options.out);
  let result: ImportRvcResult;
  if (extname(options.model).toLowerCase() === '.onnx') {
    result = await importRvcOnnx(options, out);
  } else {
    const args = ['--model', resolve(options.model), '--out', out, '--name', options.name ?? basename(out)];
    if (options.index) args.push('--index', resolve(options.index));
    if (options.encoder) args.push('--encoder', resolve(options.encoder));
    if (options.force) args.push('--force');
    if (options.exportDeterministic) args.push('--export-deterministic', resolve(options.exportDeterministic));
    result = await runPythonModule<ImportRvcResult>('import_rvc', args, { onProgress: options.onProgress });
  }
  const bundle = readRvcBundle(result.out);
  if (bundle.indexPath) {
    const index = readFaissIndex(bundle.indexPath);
    if (index.dim !== bundle.manifest.content_dim) {
      throw new SvcError('MODEL_INVALID', `the index holds ${index.dim}-d features but the model takes ${bundle.manifest.content_dim}-d (RVC ${bundle.manifest.rvc_version})`, {
        hint: 'pass the .index trained with this model (v1 indexes are 256-d, v2 768-d)',
      });
    }
  }
  return { out: result.out, manifest: bundle.manifest };
}

function prepareOut(out: string, force: boolean | undefined): void {
  if (existsSync(out) && readdirSync(out).length > 0 && !force) {
    throw new SvcError('INVALID_ARGUMENT', `--out ${out} exists and is not empty`, { hint: 'choose a new folder or pass --force to overwrite' });
  }
  mkdirSync(out, { recursive: true });
}

async function describeEncoder(path: string): Promise<Omit<BundleEncoder, 'file' | 'sample_rate' | 'hop_samples' | 'kind'>> {
  const session = await createSession(path);
  try {
    const input = session.inputs[0];
    const output = session.outputs[0];
    if (session.inputs.length !== 1 || !input || !output) {
      throw new SvcError('MODEL_INVALID', `encoder ${path} has inputs [${session.inputNames.join(', ')}]; expected one audio input`, { hint: 'export the encoder with a single waveform input' });
    }
    const rank = input.dims.length;
    if (rank !== 2 && rank !== 3) throw new SvcError('MODEL_INVALID', `encoder input ${input.name} has rank ${rank}; expected [1,1,N] (source) or [1,N] (audio)`);
    const last = output.dims[output.dims.length - 1];
    return { convention: rank === 3 ? 'source-embed' : 'audio-units', input: input.name, output: output.name, dim: typeof last === 'number' && last > 0 ? last : null };
  } finally {
    await session.dispose();
  }
}

async function importRvcOnnx(options: ImportRvcOptions, out: string): Promise<ImportRvcResult> {
  const session = await createSession(options.model);
  let manifest: RvcManifest;
  try {
    const names = session.inputNames.join(',');
    const f0 = names === rvcGeneratorInputs(true).join(',');
    if (!f0 && names !== rvcGeneratorInputs(false).join(',')) {
      throw new SvcError('MODEL_INVALID', `${basename(options.model)} has inputs [${session.inputNames.join(', ')}]; expected RVC's export signature [${rvcGeneratorInputs(true).join(', ')}] (or without pitch, pitchf)`, {
        hint: 'export the model with RVC (ckpt → ONNX) or pass the .pth itself',
      });
    }
    const phone = session.inputs.find((i) => i.name === 'phone')!;
    const rnd = session.inputs.find((i) => i.name === 'rnd')!;
    const contentDim = phone.dims[2];
    const inter = rnd.dims[1];
    if (typeof contentDim !== 'number' || (contentDim !== 256 && contentDim !== 768)) {
      throw new SvcError('MODEL_INVALID', `phone is [${phone.dims.join(',')}]; expected [1,T,256] (v1) or [1,T,768] (v2)`);
    }
    if (typeof inter !== 'number' || inter <= 0) throw new SvcError('MODEL_INVALID', `rnd is [${rnd.dims.join(',')}]; expected [1,C,T] with a fixed C`);
    // Short runs: the output length gives the hop, which fixes the rate (RVC runs at 100 frames/s).
    // Graphs traced by RVC's exporter under torch 1.x run only at the traced length (200 frames).
    const probe = async (frames: number): Promise<number | undefined> => {
      const feeds: Record<string, { data: Float32Array | BigInt64Array; dims: number[] }> = {
        phone: { data: new Float32Array(frames * contentDim), dims: [1, frames, contentDim] },
        phone_lengths: { data: BigInt64Array.of(BigInt(frames)), dims: [1] },
        ds: { data: BigInt64Array.of(0n), dims: [1] },
        rnd: { data: new Float32Array(inter * frames), dims: [1, inter, frames] },
      };
      if (f0) {
        feeds.pitch = { data: new BigInt64Array(frames).fill(100n), dims: [1, frames] };
        feeds.pitchf = { data: new Float32Array(frames).fill(200), dims: [1, frames] };
      }
      try {
        return Object.values(await session.run(feeds))[0]!.size / frames;
      } catch {
        return undefined;
      }
    };
    let fixedFrames: number | null = null;
    let hop = (await probe(37)) ?? (await probe(51));
    if (hop === undefined) {
      hop = await probe(RVC_EXPORT_FRAMES);
      fixedFrames = RVC_EXPORT_FRAMES;
    }
    if (hop === undefined) {
      throw new SvcError('MODEL_INVALID', `${basename(options.model)} has RVC's inputs but fails to run at 37, 51 or ${RVC_EXPORT_FRAMES} frames`, { hint: 're-export the model from its .pth, or import the .pth itself' });
    }
    if (!Number.isInteger(hop) || ![320, 400, 480].includes(hop)) {
      throw new SvcError('MODEL_INVALID', `the graph gives ${hop} samples per frame; expected RVC's 320/400/480 (32/40/48 kHz)`);
    }
    prepareOut(out, options.force);
    const inputs: BundleTensorSpec[] = rvcGeneratorInputs(f0).map((name) => {
      const info = session.inputs.find((i) => i.name === name)!;
      return { name, dtype: info.type === 'int64' ? 'int64' : 'float32', shape: info.dims.map((d) => (typeof d === 'number' && d >= 0 ? d : 'T')) };
    });
    copyFileSync(options.model, join(out, 'generator.onnx'));
    let encoder: BundleEncoder | null = null;
    if (options.encoder) {
      const described = await describeEncoder(options.encoder);
      if (described.dim !== null && described.dim !== contentDim) {
        throw new SvcError('MODEL_INVALID', `encoder ${basename(options.encoder)} gives ${described.dim}-d features but the model takes ${contentDim}-d`, {
          hint: 'v1 models take hubert_base layer 9 + final_proj (256-d), v2 take layer 12 (768-d)',
        });
      }
      copyFileSync(options.encoder, join(out, 'encoder.onnx'));
      encoder = { file: 'encoder.onnx', ...described, sample_rate: 16000, hop_samples: 320, kind: 'user', description: `user-supplied encoder (${basename(options.encoder)})` };
    }
    if (options.index) copyFileSync(options.index, join(out, 'model.index'));
    manifest = {
      format: RVC_BUNDLE_FORMAT,
      format_version: 1,
      name: options.name ?? basename(out),
      model_type: 'rvc',
      rvc_version: contentDim === 256 ? 'v1' : 'v2',
      f0,
      sampling_rate: hop * 100,
      hop_length: hop,
      content_dim: contentDim,
      inter_channels: inter,
      // An exported graph hides its speaker table; RVC's exports are almost always one speaker.
      n_speakers: 1,
      fixed_frames: fixedFrames,
      content_frame_seconds: 0.02,
      generator: { file: 'generator.onnx', opset: null, inputs, outputs: [{ name: session.outputNames[0]!, dtype: 'float32', shape: [1, 1, 'T*hop'] }], dynamic_axes: {} },
      index: options.index ? { file: 'model.index', original: basename(options.index) } : null,
      encoder,
      source: { type: 'import-rvc-onnx', model: basename(options.model) },
      created: new Date().toISOString().replace(/\.\d+Z$/, '+00:00'),
    };
    writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
  } catch (error) {
    if (error instanceof SvcError && existsSync(join(out, 'generator.onnx')) && !existsSync(join(out, 'manifest.json'))) {
      rmSync(join(out, 'generator.onnx'), { force: true });
    }
    throw error;
  } finally {
    await session.dispose();
  }
  return { out, manifest };
}
