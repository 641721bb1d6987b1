// The converter stage: the one piece of the streaming pipeline that changes the voice. Two kinds fit
// the same interface:
//   - stateful (streaming) stages such as the built-in DSP voice keep their own history between calls:
//     they get exactly one block per call, need no left context, and their output is already
//     continuous, so the pipeline bypasses the SOLA crossfade for them;
//   - stateless stages such as a So-VITS model see every block afresh: the pipeline hands them
//     `contextSamples` of past input before the block, they return output for context + block, and the
//     pipeline stitches consecutive outputs with a SOLA crossfade.
// Every stage runs at its own `sampleRate`; sessions resample the client's audio to it and back.

import type { VoiceControl } from '../stream/protocol.js';

/** Voice parameters a client may change while streaming. */
export interface VoiceParams {
  /** Pitch shift in semitones (−24..24). */
  pitch: number;
  /** Formant (spectral envelope) scale factor (0.5..2); 1 keeps the speaker's timbre. */
  formant: number;
  /** RVC voices only: share of features retrieved from the index (0..1) and consonant protection (0..0.5). */
  indexRate?: number;
  protect?: number;
}

/** The built-in DSP voice (and any stage that leaves `controls` out) honours both. */
export const DSP_CONTROLS: ReadonlyArray<VoiceControl> = ['pitch', 'formant'];
/** A model voice: the timbre is the model speaker's, so only the pitch shift applies. */
export const MODEL_CONTROLS: ReadonlyArray<VoiceControl> = ['pitch'];

export interface ConverterStage {
  /** Short name for logs and `ready` messages, e.g. "builtin". */
  readonly name: string;
  /** Rate the stage consumes and produces, in Hz. */
  readonly sampleRate: number;
  /**
   * Stateful stages: their own signal delay in samples (output sample n answers input sample n − lookahead).
   * Stateless stages: how many samples at the right edge of each output are unreliable (they need future
   * input); the pipeline never emits them and waits for the next block instead.
   */
  readonly lookaheadSamples: number;
  /** Stateless stages only: past input samples the stage wants before each block (0 for stateful). */
  readonly contextSamples: number;
  /** True: streaming with internal state (one block in, one block out, no SOLA). False: stateless per window. */
  readonly stateful: boolean;
  /** Voice parameters the stage honours (protocol `controls`); absent = pitch and formant. */
  readonly controls?: ReadonlyArray<VoiceControl>;
  /**
   * Converts one window: for stateful stages exactly one block; for stateless stages
   * `contextSamples + blockSamples` samples (oldest first). Returns the same number of samples, time-aligned
   * with the input window. May return a Promise (e.g. an ONNX model run off the main thread); the pipeline
   * keeps at most one call in flight.
   */
  process(window: Float32Array): Float32Array | Promise<Float32Array>;
  /**
   * Stateless stages, optional: the pipeline calls it once, before the first window, with its block and
   * window sizes, so a stage can keep caches on an absolute timeline (successive windows advance by
   * blockSamples; windows the policy handled without the stage advance it by whole blocks).
   */
  prepare?(shape: { blockSamples: number; windowSamples: number }): void;
  /** Changes the voice for the following blocks. */
  setVoice(voice: Partial<VoiceParams>): void;
  /** Forgets all history (stateful stages), e.g. after input was skipped. */
  reset(): void;
  dispose(): void;
}

/** Builds a stage for a session whose client streams at `clientSampleRate`. */
export type StageFactory = (options: { clientSampleRate: number; voice: VoiceParams }) => ConverterStage;

/** A stage that copies its input: the "dry" path and a stand-in for tests. */
export class PassThroughStage implements ConverterStage {
  readonly name = 'passthrough';
  readonly lookaheadSamples = 0;
  readonly contextSamples: number;
  readonly stateful: boolean;

  constructor(readonly sampleRate: number, options: { stateful?: boolean; contextSamples?: number } = {}) {
    this.stateful = options.stateful ?? true;
    this.contextSamples = this.stateful ? 0 : (options.contextSamples ?? 0);
  }

  process(window: Float32Array): Float32Array {
    return window.slice();
  }

  setVoice(): void {}
  reset(): void {}
  dispose(): void {}
}
