// svc model bundles (a folder written by `svc import-sovits` or `svc make-reference`):
//   manifest.json   what the model is and how to call it (this file's SovitsManifest)
//   config.json     the so-vits-svc config it was built from
//   generator.onnx  the So-VITS-SVC generator, upstream's ONNX signature (c, f0, mel2ph, uv, noise, sid[, vol]) -> audio
//   speakers.json   speaker name -> id
//   encoder.onnx    optional content encoder: `source` [1,1,N] -> `embed` [1,T,D] or `audio` [1,N] -> `units` [1,T,D]
// readBundle validates the manifest once at load, so later stages can trust it. See docs/models.md.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { bundleFilePath, type BundleEncoder, type BundleTensorSpec } from '../bundle-file.js';
import { SvcError, errorMessage } from '../../errors.js';
import { runPythonModule } from '../../python.js';

export const BUNDLE_FORMAT = 'svc-sovits-bundle';
export const BUNDLE_FORMAT_VERSION = 1;

export type { BundleEncoder, BundleTensorSpec, TensorDtype } from '../bundle-file.js';

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
    /**
     * 'hashed-by-frame': the NSF source's noise comes from each frame's latent noise and its overtones
     * start at phase 0 (svc's exports since 2026-12-06), so a stream's windows agree in phase. Absent:
     * upstream's random source (bundles exported before, upstream's onnx_export.py graphs).
     */
    source_noise?: 'hashed-by-frame';
  };
  encoder: BundleEncoder | null;
  /**
   * null/absent: the generator takes `sid` int64 [1]. Upstream's speaker-mix graph (onnx_export.py with
   * two or more speakers): `sid` float32 [T, columns.length], per-frame weights, column i = speaker columns[i].
   */
  speaker_mix?: { graph: 'per-frame'; columns: string[] } | null;
  /**
   * so-vits-svc 4.1 cluster model (kmeans_10000.pt) as `cluster.onnx`: c f32 [T,D], speaker i64 [1] (row of
   * `speakers`), ratio f32 [1] -> mixed f32 [T,D] = ratio·nearest centre + (1 − ratio)·c (python/svc_py/cluster.py).
   */
  cluster?: SovitsCluster | null;
  /**
   * int8 versions of the graphs (python/svc_py/quantize.py), next to the float ones; absent/null: float
   * only. Loaded instead of the float graphs with precision 'int8' (the default when present).
   */
  int8?: { generator: string; encoder: string | null; method?: string; nodes?: Record<string, number> } | null;
  parameters: Record<string, number>;
  /** Optional typical f0 per speaker name ('*' = any), for automatic pitch shift: `svc export` writes each speaker's median voiced f0 over its dataset clips; import does not. */
  speaker_f0_hz?: Record<string, number>;
  source: Record<string, unknown>;
  created: string;
}

/**
 * What `--cluster-ratio` pulls content rows toward (so-vits-svc 4.1; `cluster_infer_ratio`):
 * - kmeans (kmeans_10000.pt): `cluster.onnx`, c f32 [T,D], speaker i64 [1] (row of `speakers`), ratio f32 [1] ->
 *   mixed f32 [T,D] = ratio·nearest centre + (1 − ratio)·c (python/svc_py/cluster.py);
 * - index (feature_and_index.pkl, upstream's `--feature_retrieval`): one faiss IndexIVFFlat file per speaker
 *   (files[i] for speakers[i], faiss's own binary layout), searched k = 8 with 1/d² weights
 *   (voices/retrieval/faissIndex.ts, shared with RVC).
 */
export type SovitsCluster =
  | { kind: 'kmeans'; file: string; speakers: string[]; clusters: number; source?: string }
  | { kind: 'index'; files: string[]; speakers: string[]; vectors: number[]; source?: string };

export interface SovitsBundle {
  dir: string;
  manifest: SovitsManifest;
  generatorPath: string;
  encoderPath: string | null;
  /** The int8 graphs (manifest.int8), when the bundle has them; encoder null: the float encoder serves both. */
  int8: { generatorPath: string; encoderPath: string | null } | null;
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

/** A file the manifest names, inside the bundle (voices/bundle-file.ts), or MODEL_INVALID. */
function bundleFile(dir: string, file: unknown, what: string): string {
  const found = bundleFilePath(dir, file, what);
  if ('problem' in found) invalid(dir, found.problem);
  return found.path;
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
    invalid(dir, `manifest.json is not JSON (${errorMessage(error)})`);
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
  const sid = manifest.generator.inputs.find((i) => i.name === 'sid')!;
  const mix = manifest.speaker_mix;
  if (mix) {
    if (mix.graph !== 'per-frame' || !Array.isArray(mix.columns) || mix.columns.length < 1) invalid(dir, 'speaker_mix must be {graph: "per-frame", columns: [speaker names]}');
    const unknown = mix.columns.filter((name) => !(name in (manifest.speakers ?? {})));
    if (unknown.length) invalid(dir, `speaker_mix columns name unknown speakers: ${unknown.join(', ')}`);
    if (sid.dtype !== 'float32' || sid.shape.length !== 2 || sid.shape[1] !== mix.columns.length) {
      invalid(dir, `a speaker-mix generator takes sid float32 [T, ${mix.columns.length}], the manifest says ${sid.dtype} [${sid.shape.join(', ')}]`);
    }
  } else if (sid.dtype !== 'int64') {
    invalid(dir, `generator input sid is ${sid.dtype} [${sid.shape.join(', ')}] but the manifest has no speaker_mix: expected int64 [1] (or a speaker_mix entry for upstream's mix graph)`);
  }
  if (manifest.cluster) {
    const cluster = manifest.cluster;
    if ((cluster.kind !== 'kmeans' && cluster.kind !== 'index') || !Array.isArray(cluster.speakers)) invalid(dir, 'cluster must be {kind: "kmeans", file, speakers: [...]} or {kind: "index", files: [...], speakers: [...]}');
    const unknown = cluster.speakers.filter((name) => !(name in (manifest.speakers ?? {})));
    if (unknown.length) invalid(dir, `cluster names unknown speakers: ${unknown.join(', ')}`);
    const files = cluster.kind === 'kmeans' ? [cluster.file] : cluster.files;
    if (!Array.isArray(files) || files.length !== (cluster.kind === 'kmeans' ? 1 : cluster.speakers.length)) invalid(dir, 'a feature index needs one file per speaker (cluster.files)');
    for (const file of files) if (!existsSync(bundleFile(dir, file, 'cluster'))) invalid(dir, `cluster file ${String(file)} is missing`);
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
  let int8: SovitsBundle['int8'] = null;
  if (manifest.int8) {
    const file = (name: unknown, what: string): string => {
      if (typeof name !== 'string' || !name || name.includes('/') || name.includes('\\')) invalid(dir, `int8.${what} must be a file name in the bundle, found ${JSON.stringify(name)}`);
      const path = join(dir, name);
      if (!existsSync(path)) invalid(dir, `int8 ${what} file ${name} is missing`);
      return path;
    };
    int8 = { generatorPath: file(manifest.int8.generator, 'generator'), encoderPath: manifest.int8.encoder == null ? null : file(manifest.int8.encoder, 'encoder') };
  }
  return { dir, manifest, generatorPath, encoderPath, int8, configPath: join(dir, 'config.json') };
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

/** A speaker, or a blend of speakers (weights sum to 1), as `--speaker` and the protocol give it. */
export interface SpeakerChoice {
  /** The single speaker, or the mix's heaviest one (its typical f0 drives --auto-pitch). */
  speakerId: number;
  /** null for one speaker; else every speaker with a positive weight. */
  mix: Array<{ id: number; weight: number }> | null;
}

/**
 * Parses `NAME`, `ID` or a mix `a:0.7,b:0.3` (weights ≥ 0, normalized to sum 1; a name without a
 * weight counts 1). A mix needs upstream's speaker-mix graph (manifest.speaker_mix): a graph that
 * takes one `sid` cannot blend speakers, so that is refused with the way to get one.
 */
export function resolveSpeakerChoice(manifest: SovitsManifest, speaker: string | number | undefined): SpeakerChoice {
  if (typeof speaker !== 'string' || !/[:,]/.test(speaker) || speaker in manifest.speakers) {
    const speakerId = resolveSpeaker(manifest, speaker);
    return { speakerId, mix: null };
  }
  const parts = speaker.split(',').map((part) => part.trim()).filter(Boolean);
  const weights = new Map<number, number>();
  for (const part of parts) {
    const at = part.lastIndexOf(':');
    const name = at < 0 ? part : part.slice(0, at);
    const weight = at < 0 ? 1 : Number(part.slice(at + 1));
    if (!Number.isFinite(weight) || weight < 0) {
      throw new SvcError('INVALID_ARGUMENT', `speaker mix '${speaker}': weight '${part.slice(at + 1)}' of ${name} is not a number >= 0`, { hint: 'write the mix as name:weight,name:weight, e.g. alice:0.7,bob:0.3' });
    }
    const id = resolveSpeaker(manifest, name);
    weights.set(id, (weights.get(id) ?? 0) + weight);
  }
  const total = [...weights.values()].reduce((a, b) => a + b, 0);
  if (!(total > 0)) throw new SvcError('INVALID_ARGUMENT', `speaker mix '${speaker}' has no positive weight`, { hint: 'give at least one speaker a weight above 0' });
  const mix = [...weights].filter(([, w]) => w > 0).map(([id, w]) => ({ id, weight: w / total }));
  const speakerId = mix.reduce((best, entry) => (entry.weight > best.weight ? entry : best)).id;
  if (mix.length === 1) return { speakerId, mix: null };
  if (!manifest.speaker_mix) throw mixRefusal(manifest);
  speakerColumns(manifest, mix);
  return { speakerId, mix };
}

/**
 * Why a single-`sid` generator cannot mix: the embedding table emb_g is inside the graph, folded into the
 * lookup, so there are no embeddings to blend from outside (upstream's spk_mix blends emb_g rows in
 * PyTorch). svc's own exports from a checkpoint take the mix graph whenever the config names two or more
 * speakers; an upstream single-speaker ONNX export has no weights left to make one.
 */
export function mixRefusal(manifest: SovitsManifest): SvcError {
  const fromOnnx = manifest.source?.type === 'import-onnx';
  const howto = fromOnnx
    ? 'this bundle wraps an upstream ONNX export that takes one speaker id; re-import the model from its checkpoint: `svc import-sovits --checkpoint G_<step>.pth --config config.json --out DIR` (svc exports the speaker-mix graph for two or more speakers), or export it with so-vits-svc\'s onnx_export.py from a config naming two or more speakers'
    : 're-import the model from its checkpoint with this svc: `svc import-sovits --checkpoint G_<step>.pth --config config.json --out DIR` exports the speaker-mix graph whenever the config names two or more speakers';
  return new SvcError('INVALID_ARGUMENT', `model ${manifest.name} cannot mix speakers: its generator takes one speaker id (sid int64 [1]) and looks the speaker embedding up inside the graph, so there are no embeddings to blend`, { hint: howto });
}

/** Column of each mixed speaker in a speaker-mix graph's sid (INVALID_ARGUMENT for a speaker without one). */
function speakerColumns(manifest: SovitsManifest, mix: Array<{ id: number; weight: number }>): number[] {
  const columns = manifest.speaker_mix!.columns;
  return mix.map(({ id }) => {
    const column = columns.indexOf(speakerName(manifest, id) ?? '');
    if (column < 0) throw new SvcError('INVALID_ARGUMENT', `speaker id ${id} is not one of the mix graph's speakers (${columns.join(', ')})`);
    return column;
  });
}

/**
 * The generator's `sid` feed for `frames` frames: int64 [1] for a single-speaker graph; for a
 * speaker-mix graph float32 [frames, columns] with the choice's weights on every row (one-hot for
 * one speaker). `weightsAt`, if given, supplies per-frame mixes (frame index -> choice).
 */
export function speakerFeed(manifest: SovitsManifest, choice: SpeakerChoice, frames: number): { data: Float32Array | BigInt64Array; dims: number[] } {
  if (!manifest.speaker_mix) return { data: BigInt64Array.from([BigInt(choice.speakerId)]), dims: [1] };
  const width = manifest.speaker_mix.columns.length;
  const mix = choice.mix ?? [{ id: choice.speakerId, weight: 1 }];
  const row = new Float32Array(width);
  speakerColumns(manifest, mix).forEach((column, i) => (row[column] = mix[i]!.weight));
  const data = new Float32Array(frames * width);
  for (let frame = 0; frame < frames; frame++) data.set(row, frame * width);
  return { data, dims: [frames, width] };
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

// ---------------------------------------------------------------------------------------------
// Random-weight reference bundles (python/svc_py/make_reference.py) for tests, benchmarks and latency work

export type ReferenceSize = 'tiny' | 'standard';

export interface MakeReferenceResult {
  out: string;
  manifest: SovitsManifest;
  parameters: { generator: number; generator_inference: number; encoder: number };
  export_seconds: { generator: number; encoder: number };
}

/** Builds a reference bundle; resolves with what the Python job reported (bundle re-validated). */
export async function makeReference(size: ReferenceSize, outDir: string, options: { seed?: number; force?: boolean; checkpoint?: boolean; speakerMix?: boolean; onProgress?: (message: string) => void } = {}): Promise<MakeReferenceResult> {
  const args = ['--size', size, '--out', resolve(outDir), '--seed', String(options.seed ?? 1234)];
  if (options.force) args.push('--force');
  if (options.checkpoint) args.push('--checkpoint');
  if (options.speakerMix) args.push('--speaker-mix');
  return writeBundleWithPython<MakeReferenceResult>('make_reference', args, options.onProgress);
}
