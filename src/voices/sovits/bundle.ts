// svc model bundles (a folder written by `svc import-sovits` or `svc make-reference`):
//   manifest.json   what the model is and how to call it (this file's SovitsManifest)
//   config.json     the so-vits-svc config it was built from
//   generator.onnx  the So-VITS-SVC generator, upstream's ONNX signature (c, f0, mel2ph, uv, noise, sid[, vol]) -> audio
//   speakers.json   speaker name -> id
//   encoder.onnx    optional content encoder: `source` [1,1,N] -> `embed` [1,T,D] or `audio` [1,N] -> `units` [1,T,D]
// readBundle validates the manifest once at load, so later stages can trust it. See docs/models.md.
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { SvcError } from '../../errors.js';
import { runPythonModule } from '../../python.js';

export const BUNDLE_FORMAT = 'svc-sovits-bundle';
export const BUNDLE_FORMAT_VERSION = 1;

export type TensorDtype = 'float32' | 'int64';

export interface BundleTensorSpec {
  name: string;
  dtype: TensorDtype;
  /** Numbers are fixed sizes; strings name a dynamic size ('Tc' content rows, 'T' frames). */
  shape: Array<number | string>;
}

export interface BundleEncoder {
  file: string;
  /** 'source-embed': source f32 [1,1,N] -> embed [1,T,D]; 'audio-units': audio f32 [1,N] -> units [1,T,D]. */
  convention: 'source-embed' | 'audio-units';
  input: string;
  output: string;
  /** Input audio rate (16000) and output frame hop in input samples (320 = 20 ms). */
  sample_rate: number;
  hop_samples: number;
  dim: number | null;
  kind: string;
  layer?: number | null;
  description?: string;
}

export interface SovitsManifest {
  format: typeof BUNDLE_FORMAT;
  format_version: number;
  name: string;
  model_type: 'so-vits-svc';
  sovits_version: '4.0' | '4.1';
  sampling_rate: number;
  hop_length: number;
  ssl_dim: number;
  /** The content features the generator was trained on: vec768l12, vec256l9, hubertsoft, ... */
  speech_encoder: string;
  vol_embedding: boolean;
  inter_channels: number;
  n_speakers: number;
  speakers: Record<string, number>;
  /** Seconds per content-encoder row (0.02). */
  content_frame_seconds: number;
  generator: {
    file: string;
    opset: number;
    inputs: BundleTensorSpec[];
    outputs: BundleTensorSpec[];
    dynamic_axes: Record<string, number[]>;
  };
  encoder: BundleEncoder | null;
  parameters: Record<string, number>;
  /** Optional typical f0 per speaker name ('*' = any), for automatic pitch shift; not written by import. */
  speaker_f0_hz?: Record<string, number>;
  source: Record<string, unknown>;
  created: string;
}

export interface SovitsBundle {
  dir: string;
  manifest: SovitsManifest;
  generatorPath: string;
  encoderPath: string | null;
  configPath: string;
}

/** Generator inputs in upstream's order for a manifest's settings. */
export function expectedGeneratorInputs(volEmbedding: boolean): string[] {
  return ['c', 'f0', 'mel2ph', 'uv', 'noise', 'sid', ...(volEmbedding ? ['vol'] : [])];
}

function invalid(dir: string, what: string): never {
  throw new SvcError('MODEL_INVALID', `model bundle ${dir}: ${what}`, {
    hint: 'rebuild it with `svc import-sovits` (or `svc make-reference`)',
  });
}

/**
 * A file a manifest names, which must lie inside its bundle: a plain relative path, no `..` out of the
 * folder, no absolute path, and (when it exists) no symbolic link leading out — a manifest from elsewhere
 * must not make the server open /etc/passwd.
 */
function bundleFile(dir: string, file: unknown, what: string): string {
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) invalid(dir, `${what}.file must be a file name inside the bundle, found ${JSON.stringify(file)}`);
  const root = resolve(dir);
  const path = resolve(root, file);
  const inside = (p: string, r: string) => p.startsWith(r + sep);
  if (isAbsolute(file) || !inside(path, root)) invalid(dir, `${what}.file ${JSON.stringify(file)} points outside the bundle; files must lie inside its folder`);
  if (existsSync(path) && !inside(realpathSync(path), realpathSync(root))) invalid(dir, `${what}.file ${JSON.stringify(file)} links outside the bundle`);
  return path;
}

/** Reads and validates a bundle folder. */
export function readBundle(dir: string): SovitsBundle {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SvcError('MODEL_NOT_FOUND', `model bundle not found: ${dir}`, { hint: 'pass a folder made by `svc import-sovits --out DIR`' });
  }
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) invalid(dir, 'no manifest.json');
  let manifest: SovitsManifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as SovitsManifest;
  } catch (error) {
    invalid(dir, `manifest.json is not JSON (${(error as Error).message})`);
  }
  if (manifest.format !== BUNDLE_FORMAT) invalid(dir, `manifest format is '${String(manifest.format)}', expected '${BUNDLE_FORMAT}'`);
  if (manifest.format_version !== BUNDLE_FORMAT_VERSION) {
    invalid(dir, `manifest format_version ${String(manifest.format_version)} is not supported (this svc reads ${BUNDLE_FORMAT_VERSION})`);
  }
  if (manifest.sovits_version !== '4.0' && manifest.sovits_version !== '4.1') invalid(dir, `sovits_version '${String(manifest.sovits_version)}' is not 4.0 or 4.1`);
  for (const key of ['sampling_rate', 'hop_length', 'ssl_dim', 'inter_channels', 'n_speakers'] as const) {
    const value = manifest[key];
    if (!Number.isInteger(value) || value <= 0) invalid(dir, `${key} must be a positive integer, found ${String(value)}`);
  }
  if (typeof manifest.speech_encoder !== 'string' || !manifest.speech_encoder) invalid(dir, 'speech_encoder is missing');
  if (typeof manifest.vol_embedding !== 'boolean') invalid(dir, 'vol_embedding must be true or false');
  const names = manifest.generator?.inputs?.map((i) => i.name) ?? [];
  const expected = expectedGeneratorInputs(manifest.vol_embedding);
  if (names.join(',') !== expected.join(',')) invalid(dir, `generator inputs are [${names.join(', ')}], expected [${expected.join(', ')}]`);
  for (const [name, id] of Object.entries(manifest.speakers ?? {})) {
    if (!Number.isInteger(id) || id < 0 || id >= manifest.n_speakers) invalid(dir, `speaker '${name}' has id ${String(id)}, outside 0..${manifest.n_speakers - 1}`);
  }
  const generatorPath = bundleFile(dir, manifest.generator.file, 'generator');
  if (!existsSync(generatorPath)) invalid(dir, `generator file ${manifest.generator.file} is missing`);
  let encoderPath: string | null = null;
  if (manifest.encoder) {
    const enc = manifest.encoder;
    if (enc.convention !== 'source-embed' && enc.convention !== 'audio-units') invalid(dir, `encoder convention '${String(enc.convention)}' is not source-embed or audio-units`);
    if (enc.dim !== null && enc.dim !== manifest.ssl_dim) invalid(dir, `encoder gives ${enc.dim}-d features, the generator takes ${manifest.ssl_dim}-d`);
    encoderPath = bundleFile(dir, enc.file, 'encoder');
    if (!existsSync(encoderPath)) invalid(dir, `encoder file ${enc.file} is missing`);
  }
  return { dir, manifest, generatorPath, encoderPath, configPath: join(dir, 'config.json') };
}

/** Speaker id from a name or a number string; throws INVALID_ARGUMENT listing the speakers. */
export function resolveSpeaker(manifest: SovitsManifest, speaker: string | number | undefined): number {
  const names = Object.keys(manifest.speakers);
  if (speaker === undefined) return names.length ? manifest.speakers[names[0]!]! : 0;
  if (typeof speaker === 'string' && speaker in manifest.speakers) return manifest.speakers[speaker]!;
  const id = typeof speaker === 'number' ? speaker : /^\d+$/.test(speaker) ? Number(speaker) : NaN;
  if (Number.isInteger(id) && id >= 0 && id < manifest.n_speakers) return id;
  throw new SvcError('INVALID_ARGUMENT', `unknown speaker '${speaker}' for model ${manifest.name}`, {
    hint: `use one of: ${names.join(', ') || `ids 0..${manifest.n_speakers - 1}`}`,
  });
}

/** Name of speaker id `speakerId` in the bundle's table, or undefined for an id without a name. */
export function speakerName(manifest: SovitsManifest, speakerId: number): string | undefined {
  return Object.keys(manifest.speakers).find((name) => manifest.speakers[name] === speakerId);
}

/**
 * Runs a Python job that writes a bundle (svc_py.make_reference, export_run, import_sovits) and
 * validates what it wrote with readBundle before reporting success, so a bundle that the runtime
 * would refuse never passes for a finished one.
 */
export async function writeBundleWithPython<T extends { out: string }>(module: string, args: string[], onProgress?: (message: string) => void): Promise<T> {
  const result = await runPythonModule<T>(module, args, { onProgress });
  readBundle(result.out);
  return result;
}
