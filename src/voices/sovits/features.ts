// Per-clip training features (docs/dataset.md): content units from an ONNX content encoder at
// 16 kHz (one row per 20 ms), f0 + voicing at the model hop, RMS volume at the model hop, and
// optionally the linear magnitude spectrogram (so-vits-svc padding). The encoder runs through
// src/onnx/session.ts, which checks feeds against the graph.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SvcError } from '../../errors.js';
import { resample } from '../../audio/resample.js';
import { estimateF0, interpolateUnvoiced, type F0Method } from '../../dsp/f0/index.js';
import { linearSpectrogram, toBinsFirst } from '../../dsp/stft.js';
import { volumeRms } from '../../dsp/volume.js';
import { createSession, type OnnxModel } from '../../onnx/session.js';
import type { ModelAudioSettings } from '../../offline/config.js';

export const ENCODER_SAMPLE_RATE = 16000;

/** A content encoder ONNX graph: `source` f32 [1,1,N] → [1,T,D] or `audio` f32 [1,N] → [1,T,D]. */
export class ContentEncoder {
  private constructor(
    private model: OnnxModel | undefined,
    readonly path: string,
    readonly inputName: string,
    readonly inputRank: 2 | 3,
    readonly outputName: string,
    /** Row width, or null when the graph leaves it symbolic (known after the first call). */
    public dim: number | null,
    readonly sha256: string,
  ) {}

  static async load(path: string, options: { threads?: number } = {}): Promise<ContentEncoder> {
    const model = await createSession(path, { intraOpThreads: options.threads ?? 1 });
    try {
      if (model.inputs.length !== 1 || model.outputs.length < 1) {
        throw new SvcError('MODEL_INVALID', `content encoder ${path} has inputs [${model.inputNames.join(', ')}]; expected one waveform input (source [1,1,N] or audio [1,N])`, {
          hint: 'pass a content encoder exported with a single 16 kHz waveform input (so-vits-svc *-onnx encoders, or `--encoder tiny`)',
        });
      }
      const input = model.inputs[0]!;
      const rank = input.hasShape ? input.dims.length : 3;
      if (rank !== 2 && rank !== 3) {
        throw new SvcError('MODEL_INVALID', `content encoder ${path}: input ${input.name} has rank ${rank}; expected [1,1,N] (source) or [1,N] (audio)`);
      }
      const output = model.outputs[0]!;
      const last = output.dims[output.dims.length - 1];
      const dim = typeof last === 'number' && last > 0 ? last : null;
      const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
      return new ContentEncoder(model, path, input.name, rank, output.name, dim, sha256);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** 16 kHz mono samples → rows [T, D] (row-major), T = floor((N − 400) / 320) + 1 for HuBERT framing. */
  async encode(samples16k: Float32Array): Promise<{ rows: number; dim: number; data: Float32Array }> {
    if (!this.model) throw new SvcError('INTERNAL', 'content encoder used after dispose()');
    const dims = this.inputRank === 3 ? [1, 1, samples16k.length] : [1, samples16k.length];
    const out = (await this.model.run({ [this.inputName]: { data: samples16k, dims } }))[this.outputName];
    if (!out || out.dims.length !== 3) {
      throw new SvcError('MODEL_INVALID', `content encoder ${this.path} returned ${out ? `shape [${out.dims.join(',')}]` : 'nothing'}; expected [1, T, D]`);
    }
    const rows = out.dims[1]!;
    const dim = out.dims[2]!;
    this.dim ??= dim;
    return { rows, dim, data: Float32Array.from(out.data as Float32Array) };
  }

  async dispose(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    await model?.dispose();
  }
}

export interface ClipFeatures {
  /** Content rows, row-major [rows, dim]. */
  units: { rows: number; dim: number; data: Float32Array };
  /** f0 in Hz per model frame, unvoiced gaps interpolated. */
  f0Hz: Float32Array;
  /** 1 voiced, 0 unvoiced. */
  uv: Float32Array;
  /** RMS per model frame. */
  volume: Float32Array;
  /** Linear magnitude [F, T] bins-first, when requested. */
  spec?: { bins: number; frames: number; data: Float32Array };
  /** Model frames T = floor(samples / hop). */
  frames: number;
  voicedFrames: number;
}

/** Features of one normalised clip at the model rate. */
export async function extractClipFeatures(
  samples: Float32Array,
  settings: ModelAudioSettings,
  encoder: ContentEncoder,
  options: { f0Method: F0Method; spectrogram?: boolean },
): Promise<ClipFeatures> {
  const hop = settings.hopLength;
  const frames = Math.floor(samples.length / hop);
  const audio16k = settings.samplingRate === ENCODER_SAMPLE_RATE ? samples : await resample(samples, settings.samplingRate, ENCODER_SAMPLE_RATE);
  const units = await encoder.encode(audio16k);
  const track = await estimateF0(samples, settings.samplingRate, { method: options.f0Method, hopSamples: hop });
  const f0Raw = track.f0Hz.subarray(0, frames);
  const voiced = track.voiced.subarray(0, frames);
  let voicedFrames = 0;
  const uv = new Float32Array(frames);
  for (let i = 0; i < frames; i++) if (voiced[i] && f0Raw[i]! > 0) (uv[i] = 1), voicedFrames++;
  const f0Hz = interpolateUnvoiced(f0Raw, voiced);
  const volume = volumeRms(samples, hop).subarray(0, frames);
  let spec: ClipFeatures['spec'];
  if (options.spectrogram) {
    const s = linearSpectrogram(samples, { nFft: settings.filterLength, hopSamples: hop, winSamples: settings.winLength, padding: 'sovits', magnitudeEpsilon: 1e-6 });
    const data = toBinsFirst(s);
    const bins = settings.filterLength / 2 + 1;
    spec = { bins, frames: data.length / bins, data };
  }
  return { units, f0Hz, uv, volume, spec, frames, voicedFrames };
}
