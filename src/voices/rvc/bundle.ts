// RVC model bundles: a folder written by `svc import-rvc` (from an RVC .pth through
// python/svc_py/import_rvc.py, or from RVC's own ONNX export copied as-is):
//   manifest.json   this file's RvcManifest (format "svc-rvc-bundle", model_type "rvc")
//   generator.onnx  RVC's export signature: phone, phone_lengths, pitch, pitchf, ds, rnd -> audio
//                   (no-f0 models: phone, phone_lengths, ds, rnd -> audio)
//   model.index     optional: the faiss IVF-Flat retrieval index RVC trained (../retrieval/faissIndex.ts)
//   encoder.onnx    optional content encoder (hubert_base: layer 9 + final_proj = 256-d for v1, layer 12 = 768-d for v2)
// readRvcBundle validates once at load; the runtime trusts it afterwards.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SvcError, errorMessage } from '../../errors.js';
import { bundleFilePath } from '../bundle-file.js';
import type { BundleEncoder, BundleTensorSpec } from '../bundle-file.js';

export const RVC_BUNDLE_FORMAT = 'svc-rvc-bundle';

export interface RvcManifest {
  format: typeof RVC_BUNDLE_FORMAT;
  format_version: 1;
  name: string;
  model_type: 'rvc';
  rvc_version: 'v1' | 'v2';
  /** True: pitch-guided model (pitch + pitchf inputs, NSF decoder). */
  f0: boolean;
  sampling_rate: number;
  /** Output samples per 100 Hz frame: sampling_rate / 100. */
  hop_length: number;
  /** Content feature width: 256 (v1) or 768 (v2). */
  content_dim: number;
  /** Channels of the prior noise `rnd` (192 in RVC's configs). */
  inter_channels: number;
  n_speakers: number;
  /** Seconds per content-encoder row (0.02); RVC repeats each row twice for its 100 Hz frames. */
  content_frame_seconds: number;
  generator: { file: string; opset: number | null; inputs: BundleTensorSpec[]; outputs: BundleTensorSpec[]; dynamic_axes: Record<string, number[]> };
  /** Set when the graph only runs at one length (RVC's exports traced under torch 1.x run only at T = 200). */
  fixed_frames?: number | null;
  index: { file: string; original?: string } | null;
  encoder: BundleEncoder | null;
  parameters?: Record<string, number>;
  source: Record<string, unknown>;
  created: string;
}

export interface RvcBundle {
  dir: string;
  manifest: RvcManifest;
  generatorPath: string;
  indexPath: string | null;
  encoderPath: string | null;
}

/** Generator input names in RVC's export order. */
export function rvcGeneratorInputs(f0: boolean): string[] {
  return f0 ? ['phone', 'phone_lengths', 'pitch', 'pitchf', 'ds', 'rnd'] : ['phone', 'phone_lengths', 'ds', 'rnd'];
}

/** True when a folder's manifest says it is an RVC bundle (cheap check for registries). */
export function isRvcBundleDir(dir: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { format?: unknown };
    return manifest.format === RVC_BUNDLE_FORMAT;
  } catch {
    return false;
  }
}

/** A file the manifest names, inside the bundle (voices/bundle-file.ts), or MODEL_INVALID. */
function bundleFile(dir: string, file: unknown, what: string): string {
  const found = bundleFilePath(dir, file, what);
  if ('problem' in found) invalid(dir, found.problem);
  return found.path;
}

function invalid(dir: string, what: string): never {
  throw new SvcError('MODEL_INVALID', `RVC bundle ${dir}: ${what}`, { hint: 'rebuild it with `svc import-rvc MODEL.pth --out DIR`' });
}

export function readRvcBundle(dir: string): RvcBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SvcError('MODEL_NOT_FOUND', `model bundle not found: ${dir}`, { hint: 'pass a folder made by `svc import-rvc MODEL.pth --out DIR`' });
  }
  let manifest: RvcManifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as RvcManifest;
  } catch (error) {
    invalid(dir, `manifest.json is missing or not JSON (${errorMessage(error)})`);
  }
  if (manifest.format !== RVC_BUNDLE_FORMAT) invalid(dir, `manifest format is '${String(manifest.format)}', expected '${RVC_BUNDLE_FORMAT}'`);
  if (manifest.format_version !== 1) invalid(dir, `format_version ${String(manifest.format_version)} is not supported (this svc reads 1)`);
  if (manifest.rvc_version !== 'v1' && manifest.rvc_version !== 'v2') invalid(dir, `rvc_version '${String(manifest.rvc_version)}' is not v1 or v2`);
  if (typeof manifest.f0 !== 'boolean') invalid(dir, 'f0 must be true or false');
  for (const key of ['sampling_rate', 'hop_length', 'content_dim', 'inter_channels', 'n_speakers'] as const) {
    const value = manifest[key];
    if (!Number.isInteger(value) || value <= 0) invalid(dir, `${key} must be a positive integer, found ${String(value)}`);
  }
  if (manifest.hop_length * 100 !== manifest.sampling_rate) invalid(dir, `hop ${manifest.hop_length} at ${manifest.sampling_rate} Hz is not RVC's 100 frames per second`);
  const names = manifest.generator?.inputs?.map((i) => i.name) ?? [];
  const expected = rvcGeneratorInputs(manifest.f0);
  if (names.join(',') !== expected.join(',')) invalid(dir, `generator inputs are [${names.join(', ')}], expected [${expected.join(', ')}]`);
  if (manifest.fixed_frames != null && (!Number.isInteger(manifest.fixed_frames) || manifest.fixed_frames <= 0)) invalid(dir, `fixed_frames must be a positive integer or null, found ${String(manifest.fixed_frames)}`);
  const generatorPath = bundleFile(dir, manifest.generator.file, 'generator');
  if (!existsSync(generatorPath)) invalid(dir, `generator file ${manifest.generator.file} is missing`);
  let indexPath: string | null = null;
  if (manifest.index) {
    indexPath = bundleFile(dir, manifest.index.file, 'index');
    if (!existsSync(indexPath)) invalid(dir, `index file ${manifest.index.file} is missing`);
  }
  let encoderPath: string | null = null;
  if (manifest.encoder) {
    if (manifest.encoder.dim !== null && manifest.encoder.dim !== manifest.content_dim) invalid(dir, `encoder gives ${manifest.encoder.dim}-d features, the model takes ${manifest.content_dim}-d`);
    encoderPath = bundleFile(dir, manifest.encoder.file, 'encoder');
    if (!existsSync(encoderPath)) invalid(dir, `encoder file ${manifest.encoder.file} is missing`);
  }
  return { dir, manifest, generatorPath, indexPath, encoderPath };
}

/** One line for `svc models` and /api/models: type, rate, f0, index. */
export function describeRvc(manifest: RvcManifest): string {
  return `RVC ${manifest.rvc_version}, ${manifest.sampling_rate} Hz, ${manifest.content_dim}-d content, f0 ${manifest.f0 ? 'yes' : 'no'}, index ${manifest.index ? 'yes' : 'no'}`;
}
