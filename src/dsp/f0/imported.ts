// Pitch networks users bring and import with `svc import-f0` (RMVPE as RVC publishes it; FCPE as
// torchfcpe, RVC, Applio and DDSP-SVC publish it):
// <models root>/f0/<kind>.onnx with <kind>.json beside it (python/svc_py/import_f0.py). The graph takes
// 16 kHz audio [1, N] and gives activations [1, T = N // hop + 1, bins] on a cents grid (frame t centred at
// 16 kHz sample t·hop + first_frame_centre: RMVPE 0, FCPE 80; bin b = centsOfBin0 + b·centsPerBin re
// 10 Hz), decoded as each project decodes it: weighted average of the 9 bins around the argmax (FCPE
// clamps those 9 indices into the grid, so an edge bin counts several times); voiced when the peak exceeds
// the model's threshold (RMVPE 0.03, torchfcpe 0.006 and not below the model's f0_min, DDSP-SVC FCPE 0.05).
//
// Streaming: neither network is causal (RMVPE's U-Net pools 32 frames and its BiGRU reads the whole
// input; FCPE's linear attention reads every frame and each layer's depthwise convolution ±15 frames),
// so each run sees a bounded window: `leftFrames` of context, the new frames, and
// `lookaheadFrames` after them. File analysis runs windows of up to MAX_BATCH frames with the same
// context. A single run over a whole signal is what RVC computes; the windows approximate it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { SvcError, errorMessage } from '../../errors.js';
import { createSession, type OnnxModel } from '../../onnx/session.js';
import { modelRoots, userModelsDir } from '../../paths.js';
import { runPythonModule } from '../../python.js';
import { IndexedBuffer } from '../indexed-buffer.js';
import { centsAroundPeak, centsToHz } from './crepe.js';
import type { NativeSource } from './source.js';
import type { ImportedF0Method, NativeFrame } from './types.js';

export type ImportedF0Kind = ImportedF0Method;
export const IMPORTED_F0_KINDS: readonly ImportedF0Kind[] = ['rmvpe', 'fcpe'];

/** What import_f0.py writes beside the graph. */
export interface ImportedF0Meta {
  /** 'rmvpe' or 'fcpe'. */
  kind: string;
  sample_rate: number;
  hop_samples: number;
  bins: number;
  threshold: number;
  cents_of_bin_0: number;
  cents_per_bin: number;
  /** Window of the front end in samples (a frame's window reaches half of it past the frame's centre). */
  n_fft?: number;
  /** 16 kHz sample at which frame 0 is centred (FCPE: 80; absent: 0). */
  first_frame_centre?: number;
  /** 'local_argmax_clamped' (FCPE): the ±4 indices around the peak are clamped into the grid, not dropped. */
  decoder?: string;
  /** Decoded f0 below this is unvoiced (torchfcpe: the model's f0_min; absent or 0: no such rule). */
  unvoiced_below_hz?: number;
}

/** What `svc import-f0` takes for each kind, for hints. */
const IMPORT_SOURCES: Record<ImportedF0Kind, string> = {
  rmvpe: 'rmvpe.pt (RVC assets/rmvpe/rmvpe.pt)',
  fcpe: "fcpe.pt (torchfcpe's assets/fcpe_c_v001.pt, RVC/Applio's fcpe.pt, or DDSP-SVC's pretrain/fcpe/fcpe.pt)",
};

/** Streaming context in native frames (10 ms). */
export interface ImportedF0Context {
  lookaheadFrames: number;
  leftFrames: number;
  minBatch: number;
}

/** File analysis and `svc serve` without lowLatency: 160 ms look-ahead, 480 ms of left context. */
export const IMPORTED_EXACT: ImportedF0Context = { lookaheadFrames: 16, leftFrames: 48, minBatch: 4 };
/** Live (lowLatency): 40 ms look-ahead, 240 ms of left context, runs every 4 frames (32 per run). */
export const IMPORTED_LOW_LATENCY: ImportedF0Context = { lookaheadFrames: 4, leftFrames: 24, minBatch: 4 };
const MAX_BATCH = 1000;
const DEFAULT_N_FFT = 1024;

/** `<root>/f0/<kind>.onnx` in the first model root that has it, or undefined. */
export function findImportedF0Model(kind: ImportedF0Kind, roots = modelRoots()): string | undefined {
  for (const root of roots) {
    const path = join(root, 'f0', `${kind}.onnx`);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** The model path, or a MODEL_NOT_FOUND error that says how to import one. */
export function requireImportedF0Model(kind: ImportedF0Kind, roots = modelRoots()): string {
  const path = findImportedF0Model(kind, roots);
  if (path) return path;
  const file = IMPORT_SOURCES[kind];
  throw new SvcError('MODEL_NOT_FOUND', `f0 method '${kind}' needs an imported ${kind.toUpperCase()} model and none is installed (looked for f0/${kind}.onnx in the model folders)`, {
    hint: `run \`svc import-f0 ${file.split(' ')[0]} --kind ${kind}\` once with your ${file}, or choose another --f0 method`,
  });
}

export function readImportedF0Meta(onnxPath: string): ImportedF0Meta {
  const metaPath = onnxPath.replace(/\.onnx$/i, '.json');
  let meta: ImportedF0Meta;
  try {
    meta = JSON.parse(readFileSync(metaPath, 'utf8')) as ImportedF0Meta;
  } catch (error) {
    throw new SvcError('MODEL_INVALID', `the imported f0 model has no readable ${metaPath.split(/[\\/]/).pop()} beside it (${errorMessage(error).split('\n')[0]})`, {
      hint: 'run `svc import-f0` again',
    });
  }
  const ok = (IMPORTED_F0_KINDS as readonly string[]).includes(meta.kind) && meta.sample_rate === 16000 && meta.hop_samples > 0 && meta.bins > 8 && meta.cents_per_bin > 0;
  if (!ok) throw new SvcError('MODEL_INVALID', 'the imported f0 model description is not one svc import-f0 writes (kind, 16 kHz, hop, bins)', { hint: 'run `svc import-f0` again' });
  return meta;
}

/**
 * The projects' decoding: argmax over all bins, weighted average of the cents of the bins argmax ± 4
 * (RVC's RMVPE: the bins inside the grid; FCPE: the 9 indices clamped into the grid); confidence = the
 * peak activation; voiced as the model's threshold (and f0 floor) say.
 */
export function decodeActivation(
  activation: Float32Array,
  offset: number,
  meta: Pick<ImportedF0Meta, 'bins' | 'cents_of_bin_0' | 'cents_per_bin' | 'threshold' | 'decoder' | 'unvoiced_below_hz'>,
): { f0Hz: number; confidence: number; voiced: boolean } {
  let peak = 0;
  for (let b = 1; b < meta.bins; b++) if (activation[offset + b]! > activation[offset + peak]!) peak = b;
  const binToCents = (bin: number) => meta.cents_of_bin_0 + meta.cents_per_bin * bin;
  const cents = centsAroundPeak(activation, offset, peak, meta.bins, binToCents, meta.decoder === 'local_argmax_clamped');
  const f0Hz = centsToHz(cents);
  const confidence = activation[offset + peak]!;
  return { f0Hz, confidence, voiced: confidence > meta.threshold && f0Hz >= (meta.unvoiced_below_hz ?? 0) };
}

export class ImportedF0Source implements NativeSource {
  readonly hop: number;
  readonly centreOffset: number;
  readonly lookahead: number;
  private readonly audio = new IndexedBuffer();
  private readonly halfWindow: number;
  private next = 0;

  private constructor(private readonly model: OnnxModel, readonly meta: ImportedF0Meta, private readonly context: ImportedF0Context) {
    this.hop = meta.hop_samples;
    this.centreOffset = meta.first_frame_centre ?? 0;
    this.halfWindow = (meta.n_fft ?? DEFAULT_N_FFT) / 2;
    this.lookahead = (context.lookaheadFrames + context.minBatch - 1) * this.hop + this.halfWindow;
  }

  static async create(kind: ImportedF0Kind, options: { threads?: number; modelPath?: string; context?: ImportedF0Context } = {}): Promise<ImportedF0Source> {
    const path = options.modelPath ?? requireImportedF0Model(kind);
    const meta = readImportedF0Meta(path);
    if (meta.kind !== kind) throw new SvcError('MODEL_INVALID', `${path.split(/[\\/]/).pop()} holds an ${meta.kind.toUpperCase()} model, not ${kind.toUpperCase()}`, { hint: `import it again with --kind ${kind}` });
    const model = await createSession(path, { intraOpThreads: options.threads });
    return new ImportedF0Source(model, meta, options.context ?? IMPORTED_EXACT);
  }

  /** Activations [T, bins] of one graph run on 16 kHz audio (T = floor(N / hop) + 1). */
  async activations(audio16k: Float32Array): Promise<{ data: Float32Array; frames: number }> {
    const out = (await this.model.run({ audio: { data: audio16k, dims: [1, audio16k.length] } })).activation!;
    return { data: out.data as Float32Array, frames: out.dims[1]! };
  }

  push(samples16k: Float32Array): void {
    this.audio.push(samples16k);
  }

  async frames(final: boolean, endCentre = 0): Promise<NativeFrame[]> {
    const { leftFrames, lookaheadFrames, minBatch } = this.context;
    // frame j's window spans its centre (j·hop + centreOffset) ± halfWindow
    const last = final
      ? Math.floor(Math.max(0, endCentre - this.centreOffset) / this.hop) + 1
      : Math.floor((this.audio.end - this.halfWindow - this.centreOffset) / this.hop) - lookaheadFrames;
    const result: NativeFrame[] = [];
    while (this.next <= last && (final || last - this.next + 1 >= minBatch)) {
      const first = this.next;
      const count = Math.min(MAX_BATCH, last - first + 1);
      const segFrame = Math.max(0, first - leftFrames);
      const start = segFrame * this.hop;
      // As far as the look-ahead reaches (whole windows), never past the audio unless it has ended.
      let end = Math.min(this.audio.end, (first + count - 1 + lookaheadFrames) * this.hop + this.centreOffset + this.halfWindow);
      if (final) end = Math.max(end, (first + count - 1) * this.hop + 1);
      // The front end reflects at both edges, which needs more than half a window of audio.
      end = Math.max(end, start + this.halfWindow + 1);
      const segment = this.audio.slice(start, end);
      const act = await this.activations(segment);
      const produced = Math.min(count, act.frames - (first - segFrame));
      if (produced <= 0) break;
      for (let j = first; j < first + produced; j++) result.push(decodeActivation(act.data, (j - segFrame) * this.meta.bins, this.meta));
      this.next = first + produced;
    }
    this.audio.trimBefore(Math.max(0, this.next - leftFrames) * this.hop, 16384);
    return result;
  }

  async dispose(): Promise<void> {
    await this.model.dispose();
  }
}

export interface ImportF0Options {
  /** rmvpe.pt as RVC publishes it, or an FCPE fcpe.pt (torchfcpe, RVC, Applio, DDSP-SVC). */
  model: string;
  /** Expected kind; the checkpoint's layout decides and a mismatch is an error. */
  kind?: ImportedF0Kind;
  /** Graph to write (default <user models>/f0/<kind>.onnx, where --f0 rmvpe / --f0 fcpe look). */
  out?: string;
  onProgress?: (message: string) => void;
}

/** Reads the checkpoint as data, rebuilds the network and exports the 16 kHz graph (python/svc_py/import_f0.py). */
export async function importF0Model(options: ImportF0Options): Promise<{ out: string; meta: ImportedF0Meta }> {
  if (!existsSync(options.model)) {
    throw new SvcError('FILE_NOT_FOUND', `${options.model} does not exist`, { hint: `pass ${IMPORT_SOURCES.rmvpe} or ${IMPORT_SOURCES.fcpe}` });
  }
  const out = options.out === undefined ? undefined : resolve(options.out);
  if (out && extname(out).toLowerCase() !== '.onnx') throw new SvcError('INVALID_ARGUMENT', `--out must name an .onnx file, got ${basename(out)}`, { hint: 'e.g. --out models/f0/rmvpe.onnx' });
  // Without --out the graph goes where --f0 looks, named by the kind the weights turn out to be.
  const target = out ? ['--out', out] : ['--out-dir', join(userModelsDir(), 'f0')];
  const args = ['--model', resolve(options.model), ...target, ...(options.kind ? ['--kind', options.kind] : [])];
  const result = await runPythonModule<{ out: string; meta: ImportedF0Meta }>('import_f0', args, { onProgress: options.onProgress });
  return { out: result.out, meta: readImportedF0Meta(result.out) };
}
