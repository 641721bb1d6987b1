// `svc preprocess`: a folder of recordings → a training dataset (docs/dataset.md).
// For every audio file: decode (WAV/FLAC) → mono → resample to the model rate (speex) → slice at
// silences into 2–15 s clips → drop clipped / unvoiced clips → loudness-normalise → features
// (content units, f0 + uv, volume, optional spectrogram) → each clip's files written atomically,
// its .wav last (so a clip with a .wav is complete). A per-source record in .progress/ lets a second
// run skip finished files; a kill loses only the clip in flight. manifest.json is removed when a run
// starts and written last, so a dataset without one is unfinished and `svc train` refuses it.
// A file that cannot be decoded is reported in the summary and skipped, never fatal.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { basename, extname, join, relative, resolve, sep } from 'node:path';
import { SvcError, errorMessage } from '../errors.js';
import { mixToMono, readAudio, writeFileAtomic, writeWav } from '../audio/io.js';
import { resample } from '../audio/resample.js';
import type { F0Choice } from '../dsp/f0/index.js';
import { encodeNpy } from '../io/npy.js';
import { shippedModelsDir } from '../paths.js';
import { runPythonModule } from '../python.js';
import { resolveModelConfig, type ModelAudioSettings } from './config.js';
import { ContentEncoder, ENCODER_HOP, ENCODER_RATE } from '../voices/sovits/encoder.js';
import { extractClipFeatures } from '../voices/sovits/features.js';
import { FEATURE_FEED } from '../voices/sovits/timeline.js';
import { applyGainInPlace, clippedFraction, loudnessGain, sliceAtSilences, type SliceOptions } from './slice.js';
import { removeStaleTempFiles } from '../io/temp-files.js';

export const DATASET_FORMAT = 'svc-dataset';
export const DATASET_FORMAT_VERSION = 1;
export const AUDIO_EXTENSIONS: readonly string[] = ['.wav', '.flac'];
/** A clip with more than this fraction of samples at full scale is dropped as clipped. */
export const MAX_CLIPPED_FRACTION = 0.001;

export interface PreprocessOptions {
  inputDir: string;
  outDir: string;
  /** Every file belongs to this speaker; otherwise each top-level subfolder is a speaker. */
  speaker?: string;
  /** Path of an encoder .onnx, a bundle folder holding encoder.onnx, a bundle name under models/, or 'tiny'. */
  encoder: string;
  f0Method: F0Choice;
  /** 'small' | 'tiny' | 'standard' | config.json path. */
  config: string;
  spectrogram?: boolean;
  /** Validation clips per speaker (at most a fifth of its clips). Default 2. */
  valPerSpeaker?: number;
  slice?: SliceOptions;
  /** Start again: remove clips/, .progress/ and manifest.json of an earlier run first. */
  overwrite?: boolean;
  onEvent?: (event: PreprocessEvent) => void;
}

export type PreprocessEvent =
  | { type: 'start'; files: number; bytes: number; resumable: number }
  | { type: 'file'; index: number; file: string; bytes: number; clips: number; reused: boolean; skipped?: string };

export interface ManifestClip {
  id: string;
  speaker: string;
  split: 'train' | 'val';
  seconds: number;
  frames: number;
}

export interface PreprocessSummary {
  files_in: number;
  files_used: number;
  hours_in: number;
  clips_out: number;
  hours_out: number;
  skipped_files: Array<{ file: string; reason: string }>;
  dropped_clips: { clipped: number; unvoiced: number; too_short: number };
  ignored_non_audio: number;
  seconds: number;
  realtime_factor: number;
}

export interface DatasetManifest {
  format: typeof DATASET_FORMAT;
  format_version: number;
  sampling_rate: number;
  hop_length: number;
  filter_length: number;
  win_length: number;
  config: string;
  encoder: { name: string; file: string; dim: number; sha256: string; input: string; convention: 'source-embed' | 'audio-units'; sample_rate: number; hop_samples: number };
  f0_method: string;
  /**
   * How the features were computed (FEATURE_FEED: the 16 kHz feed and what reads it). Absent in datasets
   * made before it was recorded; training refuses features that differ from the engine's.
   */
  features?: { feed: string };
  spectrogram: boolean;
  speakers: Record<string, number>;
  clips: ManifestClip[];
  summary: PreprocessSummary;
  created: string;
}

/** What a run was started with; a resumed run must match it. */
interface DatasetSettings {
  sampling_rate: number;
  hop_length: number;
  filter_length: number;
  encoder_sha256: string;
  f0_method: string;
  spectrogram: boolean;
  slice: SliceOptions;
  /** FEATURE_FEED (absent in runs started before it was recorded: they cannot be resumed). */
  features_feed?: string;
}

interface SourceRecord {
  source: string;
  size: number;
  mtimeMs: number;
  speaker: string;
  seconds: number;
  clips: Array<{ id: string; seconds: number; frames: number }>;
  dropped: { clipped: number; unvoiced: number; too_short: number };
  skipped?: string;
}

interface SourceFile {
  path: string;
  /** Path under the input folder, '/'-separated. */
  rel: string;
  speaker: string;
  size: number;
  mtimeMs: number;
}

const SAFE_NAME = /[^A-Za-z0-9_.-]+/g;

function safeName(name: string): string {
  const cleaned = name.replace(SAFE_NAME, '_').replace(/^[._]+/, '');
  return cleaned || 'speaker';
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    // Follow symbolic links (a dataset folder of links to the real recordings is common).
    const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (info?.isDirectory()) out.push(...(await walk(path)));
    else if (info?.isFile()) out.push(path);
  }
  return out;
}

/** Lists the audio under `inputDir` with a speaker each; throws on an empty or audio-less folder. */
export async function listSources(inputDir: string, speaker?: string): Promise<{ sources: SourceFile[]; ignored: number }> {
  if (!existsSync(inputDir)) throw new SvcError('FILE_NOT_FOUND', `input folder not found: ${inputDir}`, { hint: 'pass the folder that holds your recordings (.wav/.flac)' });
  if (!statSync(inputDir).isDirectory()) {
    throw new SvcError('INVALID_ARGUMENT', `expected a folder of recordings but ${inputDir} is a file`, { hint: 'put the recordings in a folder and pass the folder' });
  }
  const files = await walk(inputDir);
  if (files.length === 0) {
    throw new SvcError('INVALID_ARGUMENT', `input folder ${inputDir} is empty`, { hint: 'put .wav or .flac recordings in it (one subfolder per speaker, or pass --speaker NAME)' });
  }
  const audio = files.filter((f) => AUDIO_EXTENSIONS.includes(extname(f).toLowerCase()));
  if (audio.length === 0) {
    const kinds = [...new Set(files.map((f) => extname(f).toLowerCase() || '(no extension)'))].slice(0, 6).join(', ');
    throw new SvcError('UNSUPPORTED_FORMAT', `input folder ${inputDir} has ${files.length} file(s) but no audio svc reads (found ${kinds}; expected ${AUDIO_EXTENSIONS.join(', ')})`, {
      hint: 'convert the recordings to WAV or FLAC first, e.g. `sox in.mp3 out.wav`',
    });
  }
  const rootSpeaker = safeName(speaker ?? basename(resolve(inputDir)));
  const sources: SourceFile[] = [];
  for (const path of audio) {
    const rel = relative(inputDir, path).split(sep).join('/');
    const parts = rel.split('/');
    const who = speaker !== undefined ? rootSpeaker : parts.length > 1 ? safeName(parts[0]!) : rootSpeaker;
    const info = statSync(path);
    sources.push({ path, rel, speaker: who, size: info.size, mtimeMs: Math.round(info.mtimeMs) });
  }
  return { sources, ignored: files.length - audio.length };
}

/** Clip id stem of a source: its path under the speaker folder, without extension, made safe. */
function clipStem(source: SourceFile, bySubfolder: boolean): string {
  const parts = source.rel.split('/');
  const inner = bySubfolder && parts.length > 1 ? parts.slice(1) : parts;
  return safeName(inner.join('__').replace(/\.[^.]+$/, ''));
}

/** The encoder --encoder auto picks for a config: svc's phone encoder for small, the random tiny one for tiny. */
export const PHONE_ENCODER_PATH = join(shippedModelsDir, 'svc_phone_encoder', 'encoder.onnx');

/** Resolves --encoder to an .onnx path (building the tiny random encoder into `outDir` when asked). */
async function resolveEncoderPath(spec: string, outDir: string, settings: ModelAudioSettings): Promise<{ path: string; name: string }> {
  if (spec === 'auto') {
    if (settings.speechEncoder === 'svcphone40') return { path: PHONE_ENCODER_PATH, name: 'svc_phone_encoder' };
    if (settings.name === 'tiny') spec = 'tiny';
    else {
      throw new SvcError('INVALID_ARGUMENT', `config ${settings.name} takes ${settings.sslDim}-d ${settings.speechEncoder} content, and svc ships no such encoder`, {
        hint: `pass --encoder PATH.onnx (e.g. a ContentVec/HuBERT ONNX export, or svc import-encoder), or use --config small (svc's own phone encoder)`,
      });
    }
  }
  if (spec === 'tiny') {
    if (settings.sslDim !== 256) {
      throw new SvcError('INVALID_ARGUMENT', `--encoder tiny gives 256-d rows but the config takes ${settings.sslDim}-d content (${settings.speechEncoder})`, {
        hint: `pass the ${settings.speechEncoder} encoder as an .onnx file`,
      });
    }
    const path = join(outDir, 'tiny-encoder.onnx');
    if (!existsSync(path)) await runPythonModule('export_run', ['--write-tiny-encoder', path]);
    return { path, name: 'tiny_conv' };
  }
  const candidates = [spec, join(spec, 'encoder.onnx'), join(shippedModelsDir, spec, 'encoder.onnx')];
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return { path: candidate, name: basename(candidate) === 'encoder.onnx' ? basename(resolve(candidate, '..')) : basename(candidate, '.onnx') };
  }
  throw new SvcError('MODEL_NOT_FOUND', `content encoder not found: ${spec} (tried ${candidates.join(', ')})`, {
    hint: 'pass --encoder PATH.onnx (e.g. a ContentVec/HuBERT ONNX export), a model bundle folder with encoder.onnx, or --encoder tiny for the tiny test config',
  });
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 1) + '\n'));
}

/** Files of one clip; the .wav is written last and marks the clip complete. */
function clipFiles(outDir: string, id: string, spectrogram: boolean): { wav: string; npys: string[] } {
  const base = join(outDir, 'clips', id);
  const npys = ['.units.npy', '.f0.npy', '.uv.npy', '.vol.npy', ...(spectrogram ? ['.spec.npy'] : [])].map((s) => base + s);
  return { wav: base + '.wav', npys };
}

function isClipComplete(outDir: string, id: string, spectrogram: boolean): boolean {
  const { wav, npys } = clipFiles(outDir, id, spectrogram);
  return existsSync(wav) && npys.every((p) => existsSync(p));
}

function splitClips(clips: Array<Omit<ManifestClip, 'split'>>, valPerSpeaker: number): ManifestClip[] {
  const bySpeaker = new Map<string, Array<Omit<ManifestClip, 'split'>>>();
  for (const clip of clips) bySpeaker.set(clip.speaker, [...(bySpeaker.get(clip.speaker) ?? []), clip]);
  const val = new Set<string>();
  for (const list of bySpeaker.values()) {
    const count = Math.min(valPerSpeaker, Math.floor(list.length / 5));
    // A stable pseudo-random choice: the same clips are held out on every run.
    const ranked = [...list].sort((a, b) => createHash('sha1').update(a.id).digest('hex').localeCompare(createHash('sha1').update(b.id).digest('hex')));
    for (const clip of ranked.slice(0, count)) val.add(clip.id);
  }
  return clips.map((c) => ({ ...c, split: val.has(c.id) ? 'val' : 'train' }));
}

export interface PreprocessResult {
  outDir: string;
  manifest: DatasetManifest;
}

/** Runs the whole pipeline; resolves with the written manifest. */
export async function preprocessDataset(options: PreprocessOptions): Promise<PreprocessResult> {
  const started = Date.now();
  const settings = resolveModelConfig(options.config);
  const sliceOptions = options.slice ?? {};
  const spectrogram = options.spectrogram ?? false;
  const { sources, ignored } = await listSources(options.inputDir, options.speaker);
  const outDir = resolve(options.outDir);
  if (existsSync(outDir) && !statSync(outDir).isDirectory()) {
    throw new SvcError('INVALID_ARGUMENT', `--out ${outDir} exists and is not a folder`, { hint: 'choose a new folder for the dataset' });
  }
  if (resolve(options.inputDir) === outDir) throw new SvcError('INVALID_ARGUMENT', '--out must differ from the input folder', { hint: 'write the dataset to a new folder' });
  await mkdir(outDir, { recursive: true });
  // Clips and features a killed earlier run was writing (clips/*.tmp-PID-…) go before resuming.
  removeStaleTempFiles(outDir, { subfolders: ['clips', '.progress'] });
  const progressDir = join(outDir, '.progress');
  const manifestPath = join(outDir, 'manifest.json');
  if (options.overwrite) {
    for (const name of ['clips', '.progress', 'manifest.json', 'encoder.onnx']) await rm(join(outDir, name), { recursive: true, force: true });
  }
  await mkdir(progressDir, { recursive: true });

  // The encoder goes into the dataset (export ships it with the model).
  const encoderSource = await resolveEncoderPath(options.encoder, progressDir, settings);
  // One session for the whole run: it validates the encoder (before anything is written) and gives
  // its sha256; the dataset's copy below is the same bytes (a resumed dataset's copy has the same hash).
  const encoder = await ContentEncoder.load(encoderSource.path, { intraOpThreads: 1 });
  const encoderSha = encoder.sha256();
  try {
    const settingsPath = join(progressDir, 'settings.json');
    const wanted: DatasetSettings = {
      sampling_rate: settings.samplingRate, hop_length: settings.hopLength, filter_length: settings.filterLength,
      encoder_sha256: encoderSha, f0_method: options.f0Method, spectrogram, slice: sliceOptions, features_feed: FEATURE_FEED,
    };
    const previous = await readJson<DatasetSettings>(settingsPath);
    if (previous) {
      const differ = (Object.keys(wanted) as Array<keyof DatasetSettings>).filter((k) => JSON.stringify(previous[k]) !== JSON.stringify(wanted[k]));
      if (differ.length) {
        const what = differ.map((k) => (k === 'encoder_sha256' ? 'the content encoder' : `${k} (${JSON.stringify(previous[k])} → ${JSON.stringify(wanted[k])})`)).join(', ');
        throw new SvcError('INVALID_ARGUMENT', `dataset ${outDir} was started with other settings: ${what} differ`, {
          hint: 'resume with the same options, write to a new --out folder, or pass --overwrite to start this one again',
        });
      }
    }
    const datasetEncoder = join(outDir, 'encoder.onnx');
    if (!existsSync(datasetEncoder)) {
      const temp = `${datasetEncoder}.tmp-${process.pid}`;
      await copyFile(encoderSource.path, temp);
      await rename(temp, datasetEncoder);
    }
    await writeJsonAtomic(settingsPath, wanted);
    // From here on the dataset is being changed: it is not complete until the new manifest exists.
    await rm(manifestPath, { force: true });
  } catch (error) {
    await encoder.dispose();
    throw error;
  }
  const bySubfolder = options.speaker === undefined;
  const records: SourceRecord[] = [];
  try {
    if (encoder.dim !== null && encoder.dim !== settings.sslDim) {
      throw new SvcError('MODEL_INVALID', `content encoder ${encoderSource.path} gives ${encoder.dim}-d rows but config ${settings.name} takes ${settings.sslDim}-d (${settings.speechEncoder})`, {
        hint: `pass the ${settings.speechEncoder} encoder, or a --config whose ssl_dim is ${encoder.dim}`,
      });
    }
    const recordPath = (source: SourceFile): string => join(progressDir, `${createHash('sha1').update(source.rel).digest('hex').slice(0, 16)}.json`);
    let resumable = 0;
    const known = new Map<string, SourceRecord>();
    for (const source of sources) {
      const record = await readJson<SourceRecord>(recordPath(source));
      if (record && record.size === source.size && record.mtimeMs === source.mtimeMs && record.speaker === source.speaker
        && record.clips.every((c) => isClipComplete(outDir, c.id, spectrogram))) {
        known.set(source.rel, record);
        resumable++;
      }
    }
    options.onEvent?.({ type: 'start', files: sources.length, bytes: sources.reduce((a, s) => a + s.size, 0), resumable });

    for (const [index, source] of sources.entries()) {
      let record = known.get(source.rel);
      const reused = record !== undefined;
      if (!record) {
        record = await processSource(source, clipStem(source, bySubfolder), outDir, settings, encoder, options.f0Method, spectrogram, sliceOptions);
        await writeJsonAtomic(recordPath(source), record);
      }
      records.push(record);
      options.onEvent?.({ type: 'file', index, file: source.rel, bytes: source.size, clips: record.clips.length, reused, skipped: record.skipped });
    }
  } finally {
    await encoder.dispose();
  }

  const speakerNames = [...new Set(records.filter((r) => r.clips.length).map((r) => r.speaker))].sort();
  if (speakerNames.length === 0) {
    const reasons = [...new Set(records.map((r) => r.skipped).filter(Boolean))].slice(0, 3).join('; ');
    throw new SvcError('INVALID_AUDIO', `no usable clips in ${options.inputDir}: every file was skipped or too short${reasons ? ` (${reasons})` : ''}`, {
      hint: 'give recordings with speech, at least a few seconds each; no dataset was written',
    });
  }
  const clips = splitClips(records.flatMap((r) => r.clips.map((c) => ({ ...c, speaker: r.speaker }))), options.valPerSpeaker ?? 2);
  const secondsIn = records.reduce((a, r) => a + r.seconds, 0);
  const secondsOut = clips.reduce((a, c) => a + c.seconds, 0);
  const elapsed = (Date.now() - started) / 1000;
  const summary: PreprocessSummary = {
    files_in: sources.length,
    files_used: records.filter((r) => r.clips.length).length,
    hours_in: secondsIn / 3600,
    clips_out: clips.length,
    hours_out: secondsOut / 3600,
    skipped_files: records.filter((r) => r.skipped).map((r) => ({ file: r.source, reason: r.skipped! })),
    dropped_clips: records.reduce((a, r) => ({ clipped: a.clipped + r.dropped.clipped, unvoiced: a.unvoiced + r.dropped.unvoiced, too_short: a.too_short + r.dropped.too_short }), { clipped: 0, unvoiced: 0, too_short: 0 }),
    ignored_non_audio: ignored,
    seconds: elapsed,
    realtime_factor: elapsed > 0 ? secondsIn / elapsed : 0,
  };
  const manifest: DatasetManifest = {
    format: DATASET_FORMAT,
    format_version: DATASET_FORMAT_VERSION,
    sampling_rate: settings.samplingRate,
    hop_length: settings.hopLength,
    filter_length: settings.filterLength,
    win_length: settings.winLength,
    config: settings.name,
    encoder: {
      name: encoderSource.name, file: 'encoder.onnx', dim: encoder.dim ?? settings.sslDim, sha256: encoderSha, input: encoder.inputName,
      convention: encoder.convention, sample_rate: ENCODER_RATE, hop_samples: ENCODER_HOP,
    },
    f0_method: options.f0Method,
    features: { feed: FEATURE_FEED },
    spectrogram,
    speakers: Object.fromEntries(speakerNames.map((name, id) => [name, id])),
    clips,
    summary,
    created: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
  await writeJsonAtomic(manifestPath, manifest);
  return { outDir, manifest };
}

/** One source file → its complete clips (reusing clips a killed run already finished). */
async function processSource(
  source: SourceFile,
  stem: string,
  outDir: string,
  settings: ModelAudioSettings,
  encoder: ContentEncoder,
  f0Method: F0Choice,
  spectrogram: boolean,
  sliceOptions: SliceOptions,
): Promise<SourceRecord> {
  const record: SourceRecord = {
    source: source.rel, size: source.size, mtimeMs: source.mtimeMs, speaker: source.speaker, seconds: 0, clips: [],
    dropped: { clipped: 0, unvoiced: 0, too_short: 0 },
  };
  let samples: Float32Array;
  try {
    const mono = mixToMono(await readAudio(source.path));
    if (mono.samples.length === 0) throw new SvcError('INVALID_AUDIO', 'no samples');
    record.seconds = mono.samples.length / mono.sampleRate;
    samples = await resample(mono.samples, mono.sampleRate, settings.samplingRate);
  } catch (error) {
    record.skipped = `unreadable: ${errorMessage(error).replace(source.path, basename(source.path))}`;
    return record;
  }
  const sliced = sliceAtSilences(samples, settings.samplingRate, sliceOptions);
  record.dropped.too_short += sliced.droppedShortCount;
  if (sliced.silenceOnly) {
    record.skipped = 'silence only';
    return record;
  }
  if (sliced.segments.length === 0) {
    record.skipped = `no stretch of sound of at least ${sliceOptions.minSeconds ?? 2} s`;
    return record;
  }
  await mkdir(join(outDir, 'clips', source.speaker), { recursive: true });
  for (const [k, segment] of sliced.segments.entries()) {
    const id = `${source.speaker}/${stem}_${String(k).padStart(3, '0')}`;
    const length = segment.endSample - segment.startSample;
    const frames = Math.floor(length / settings.hopLength);
    const seconds = length / settings.samplingRate;
    if (isClipComplete(outDir, id, spectrogram)) {
      record.clips.push({ id, seconds, frames });
      continue;
    }
    const clip = samples.slice(segment.startSample, segment.endSample);
    if (clippedFraction(clip) > MAX_CLIPPED_FRACTION) {
      record.dropped.clipped++;
      continue;
    }
    applyGainInPlace(clip, loudnessGain(clip, settings.samplingRate));
    const features = await extractClipFeatures(clip, settings, encoder, { f0Method, spectrogram });
    if (features.voicedFrames < Math.max(3, 0.05 * features.frames)) {
      record.dropped.unvoiced++;
      continue;
    }
    const { wav, npys } = clipFiles(outDir, id, spectrogram);
    const [unitsPath, f0Path, uvPath, volPath, specPath] = npys;
    await writeFileAtomic(unitsPath!, encodeNpy(features.units.data, [features.units.rows, features.units.dim]));
    await writeFileAtomic(f0Path!, encodeNpy(features.f0Hz, [features.frames]));
    await writeFileAtomic(uvPath!, encodeNpy(features.uv, [features.frames]));
    await writeFileAtomic(volPath!, encodeNpy(features.volume, [features.frames]));
    if (features.spec && specPath) await writeFileAtomic(specPath, encodeNpy(features.spec.data, [features.spec.bins, features.spec.frames]));
    await writeWav(wav, { sampleRate: settings.samplingRate, samples: clip });
    record.clips.push({ id, seconds, frames });
  }
  return record;
}

/** Reads and checks a finished dataset's manifest (for train/export). */
export async function readDatasetManifest(datasetDir: string): Promise<DatasetManifest> {
  const path = join(datasetDir, 'manifest.json');
  if (!existsSync(datasetDir)) throw new SvcError('FILE_NOT_FOUND', `dataset folder not found: ${datasetDir}`, { hint: 'run `svc preprocess IN_DIR --out DATASET` first' });
  if (!existsSync(path)) {
    throw new SvcError('INVALID_ARGUMENT', `${datasetDir} has no manifest.json, so it is not a finished svc dataset`, {
      hint: existsSync(join(datasetDir, '.progress')) ? 'its preprocessing did not finish: run the same `svc preprocess` command again to resume it' : 'run `svc preprocess IN_DIR --out DATASET` first',
    });
  }
  const manifest = await readJson<DatasetManifest>(path);
  if (!manifest || manifest.format !== DATASET_FORMAT) {
    throw new SvcError('INVALID_ARGUMENT', `${path} is not an svc dataset manifest (format ${JSON.stringify(manifest?.format)}, expected "${DATASET_FORMAT}")`, { hint: 'run `svc preprocess` to make one' });
  }
  if (manifest.format_version !== DATASET_FORMAT_VERSION) {
    throw new SvcError('INVALID_ARGUMENT', `${path}: dataset format_version ${manifest.format_version} is not supported (this svc reads ${DATASET_FORMAT_VERSION})`, { hint: 'preprocess the recordings again with this svc' });
  }
  if (manifest.features?.feed !== FEATURE_FEED) {
    throw new SvcError('INVALID_ARGUMENT', `dataset ${datasetDir} was preprocessed by an older svc: its features were made with ${manifest.features?.feed ?? 'a 16 kHz feed at speex quality 10 for content and a separate resampler for f0'}, while the engine now computes them with ${FEATURE_FEED}, so a model trained on it would see other features at run time`, {
      hint: `preprocess the recordings again (svc preprocess IN_DIR --out ${datasetDir} --overwrite)`,
    });
  }
  await stat(join(datasetDir, 'encoder.onnx')).catch(() => {
    throw new SvcError('INVALID_ARGUMENT', `dataset ${datasetDir} lacks encoder.onnx (the content encoder its units were made with)`, { hint: 'preprocess again' });
  });
  return manifest;
}
