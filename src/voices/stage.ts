// The converter stage: the one piece of the streaming pipeline that changes the voice. Two kinds fit
// the same interface:
//   - stateful (streaming) stages such as the built-in DSP voice keep their own history between calls:
//     they get exactly one block per call, need no left context, and their output is already
//     continuous, so the pipeline bypasses the SOLA crossfade for them;
//   - stateless stages such as a So-VITS model see every block afresh: the pipeline hands them
//     `contextSamples` of past input before the block, they return output for context + block, and the
//     pipeline stitches consecutive outputs with a SOLA crossfade.
// Every stage runs at its own `sampleRate`; sessions resample the client's audio to it and back.
// Time travels with every window ({startSample, discontinuity}, counted by the pipeline), so a stage that
// keeps features on an absolute timeline never has to guess where a window sits.
//
// The voice parameters (VoiceParams), their ranges and defaults are defined here once; the wire
// protocol, the CLI options and the voices all take them from here.

/** Voice parameters a client may change while streaming. */
export interface VoiceParams {
  /** Pitch shift in semitones (VOICE_LIMITS.pitch). */
  pitch: number;
  /** Formant (spectral envelope) scale factor (VOICE_LIMITS.formant); 1 keeps the speaker's timbre. */
  formant: number;
  /** RVC voices only: share of features retrieved from the index (0..1) and consonant protection (0..0.5). */
  indexRate?: number;
  protect?: number;
}

/** A voice parameter a stage can honour (protocol `controls`). */
export type VoiceControl = keyof VoiceParams;

/** Allowed range of each voice parameter. */
export const VOICE_LIMITS = {
  pitch: { min: -24, max: 24 },
  formant: { min: 0.5, max: 2 },
} as const;

/** The voice when nobody asked for another: unchanged pitch and timbre. */
export const DEFAULT_VOICE: Readonly<VoiceParams> = { pitch: 0, formant: 1 };

/** Frequency ratio of a pitch change: 2^(semitones/12). */
export function semitonesToRatio(semitones: number): number {
  return Math.pow(2, semitones / 12);
}

/** Where a window sits in the stream, counted by the pipeline in stage-rate samples. */
export interface BlockTime {
  /**
   * Absolute index of the window's first sample (sample 0 = the first sample of the first block; a
   * stateless stage's first windows start before 0, where the context is zeros).
   */
  startSample: number;
  /**
   * True when the stage did not see the input right before this window's block: the first window, or
   * blocks the pipeline handled by its behind policy in between. Stages that keep history compare
   * startSample with what they have seen to know how much they missed.
   */
  discontinuity: boolean;
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
  /**
   * Stateless stages: consecutive windows agree in phase where they overlap (a deterministic source
   * hashed by frame), so SOLA splices at the nominal point without searching (half its search less
   * latency, and no shift between windows). Absent: false.
   */
  readonly windowsInPhase?: boolean;
  /**
   * Optional: the block the pipeline will give (samples), told before it reads `lookaheadSamples` and
   * `contextSamples`, which may then be smaller (a neural stage's whole-frame blocks need a frame less).
   */
  setBlockSamples?(blockSamples: number): void;
  /** With setBlockSamples: the shorter look-ahead and context of blocks of whole frames (stageShapeForBlock). */
  readonly wholeFrame?: WholeFrameShape;
  /** Voice parameters the stage honours (protocol `controls`); absent = pitch and formant. */
  readonly controls?: ReadonlyArray<VoiceControl>;
  /**
   * Converts one window: for stateful stages exactly one block; for stateless stages
   * `contextSamples + blockSamples` samples (oldest first). Returns the same number of samples, time-aligned
   * with the input window. May return a Promise (e.g. an ONNX model run off the main thread); the pipeline
   * keeps at most one call in flight. `time` says where the window sits in the stream.
   */
  process(window: Float32Array, time: BlockTime): Float32Array | Promise<Float32Array>;
  /** Changes the voice for the following blocks. */
  setVoice(voice: Partial<VoiceParams>): void;
  /**
   * Optional: another speaker (or speaker mix) of the same model, applied in place from the next
   * unheard frame (ramped, not stepped). Returns false when the stage cannot, so the caller switches stages.
   */
  setSpeaker?(speaker: string | undefined): boolean;
  /** Forgets all history (stateful stages), e.g. after input was skipped. */
  reset(): void;
  dispose(): void;
}

/** A stage's look-ahead and context when every block is a whole number of its `frameSamples` frames. */
export interface WholeFrameShape {
  frameSamples: number;
  lookaheadSamples: number;
  contextSamples: number;
}

/**
 * The look-ahead and context a stage has at `blockSamples` blocks: its whole-frame ones when the block is a
 * whole number of frames, else its worst case. The one rule for NeuralStage and its worker-thread proxy.
 */
export function stageShapeForBlock(
  worst: { lookaheadSamples: number; contextSamples: number },
  wholeFrame: WholeFrameShape | undefined,
  blockSamples: number,
): { lookaheadSamples: number; contextSamples: number; wholeFrames: boolean } {
  const wholeFrames = wholeFrame !== undefined && blockSamples % wholeFrame.frameSamples === 0;
  return wholeFrames ? { lookaheadSamples: wholeFrame.lookaheadSamples, contextSamples: wholeFrame.contextSamples, wholeFrames } : { ...worst, wholeFrames };
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
