// The content encoder (HuBERT / ContentVec style ONNX graph): 16 kHz mono → content rows [T, D], one row
// per 20 ms (HuBERT framing: row r sees 16 kHz samples [320r, 320r + 400)). Two input conventions exist
// in the field: so-vits-svc's `source` f32 [1,1,N] → `embed` [1,T,D], and `audio` f32 [1,N] → `units`.
// One class for every user: a loaded So-VITS model (which adds its manifest's checks) and dataset
// preprocessing. Sessions come from src/onnx/session.ts, which checks feeds against the graph.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SvcError } from '../../errors.js';
import { createSession, type OnnxModel, type SessionOptions } from '../../onnx/session.js';

export const ENCODER_RATE = 16000;
export const ENCODER_HOP = 320;
/** HuBERT-style framing: row r sees 16 kHz samples [320r, 320r + 400). */
export const ENCODER_WINDOW = 400;

export type EncoderConvention = 'source-embed' | 'audio-units';

/** Content rows the encoder gives for n samples at 16 kHz (HuBERT framing; 0 when n < 400). */
export function encoderRowCount(samples16k: number): number {
  return samples16k < ENCODER_WINDOW ? 0 : Math.floor((samples16k - ENCODER_WINDOW) / ENCODER_HOP) + 1;
}

export interface ContentEncoderOptions extends SessionOptions {
  /** Convention to assume when the graph leaves its input rank symbolic (default 'source-embed'). */
  convention?: EncoderConvention;
  /** Output to read when the graph has several (default: the first). */
  output?: string;
}

export class ContentEncoder {
  private constructor(
    private model: OnnxModel | undefined,
    readonly modelPath: string,
    readonly inputName: string,
    readonly convention: EncoderConvention,
    readonly outputName: string,
    /** Row width, or null when the graph leaves it symbolic (known after the first call). */
    public dim: number | null,
  ) {}

  /** Opens an encoder graph: one float32 waveform input of rank 2 or 3, a [1,T,D] output. */
  static async load(path: string, options: ContentEncoderOptions = {}): Promise<ContentEncoder> {
    const { convention: assumed, output: wantedOutput, ...sessionOptions } = options;
    const model = await createSession(path, sessionOptions);
    try {
      if (model.inputs.length !== 1 || model.outputs.length < 1) {
        throw new SvcError('MODEL_INVALID', `content encoder ${path} has inputs ${model.describeInputs()}; expected one waveform input (source [1,1,N] or audio [1,N] at 16 kHz)`, {
          hint: 'use a content encoder exported with a single 16 kHz waveform input (so-vits-svc *-onnx encoders, or `--encoder tiny`)',
        });
      }
      const input = model.inputs[0]!;
      const rank = input.hasShape ? input.dims.length : assumed === 'audio-units' ? 2 : 3;
      const convention = rank === 2 ? 'audio-units' : rank === 3 ? 'source-embed' : undefined;
      if (!convention || (input.type !== 'unknown' && input.type !== 'float32')) {
        throw new SvcError('MODEL_INVALID', `content encoder ${path} takes ${model.describeInputs()}; expected float32 source [1,1,N] or audio [1,N] at 16 kHz`);
      }
      const outputName = wantedOutput && model.outputNames.includes(wantedOutput) ? wantedOutput : model.outputNames[0]!;
      const output = model.outputs.find((o) => o.name === outputName);
      const last = output?.hasShape ? output.dims[output.dims.length - 1] : undefined;
      const dim = typeof last === 'number' && last > 0 ? last : null;
      return new ContentEncoder(model, path, input.name, convention, outputName, dim);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  /** The ONNX session (provider, input descriptions). */
  get session(): OnnxModel {
    if (!this.model) throw new SvcError('INTERNAL', `content encoder ${this.modelPath} used after dispose()`);
    return this.model;
  }

  /** SHA-256 of the graph file (what a dataset records to pin its features to the encoder). */
  sha256(): string {
    return createHash('sha256').update(readFileSync(this.modelPath)).digest('hex');
  }

  /** 16 kHz mono samples → rows [rows, dim] (row-major), rows = floor((N − 400) / 320) + 1. */
  async encode(audio16k: Float32Array): Promise<{ content: Float32Array; rows: number; dim: number }> {
    const dims = this.convention === 'source-embed' ? [1, 1, audio16k.length] : [1, audio16k.length];
    const out = (await this.session.run({ [this.inputName]: { data: audio16k, dims } }))[this.outputName];
    if (!out || out.dims.length !== 3) {
      throw new SvcError('MODEL_INVALID', `content encoder ${this.modelPath} returned ${out ? `${this.outputName} [${out.dims.join(',')}]` : 'nothing'}; expected [1, rows, dim]`);
    }
    const rows = out.dims[1]!;
    const dim = out.dims[2]!;
    this.dim ??= dim;
    return { content: out.data as Float32Array, rows, dim };
  }

  async dispose(): Promise<void> {
    const model = this.model;
    this.model = undefined;
    await model?.dispose();
  }
}
