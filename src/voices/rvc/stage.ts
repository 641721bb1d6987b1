// The RVC voice as a streaming converter stage, stateless per window like RVC's own realtime GUI
// (infer/lib/rtrvc.py): every block, the window of `contextSamples` past input + the block goes through
// the same path as offline conversion (./convert.ts: 16 kHz, f0, content, retrieval, protect, generator,
// rms mix with 40 ms / 10 ms frames as the realtime GUI), and the pipeline SOLA-stitches consecutive
// windows. The last `lookaheadSamples` of each window lack their right context (the encoder's 25 ms
// window, the f0 estimator's frames, the generator's receptive field) and are never emitted.
import type { ConverterStage, StageFactory, VoiceControl, VoiceParams } from '../stage.js';
import { resample } from '../../audio/resample.js';
import { SvcError } from '../../errors.js';
import { RVC_INPUT_RATE, convertRvc16k, validateRvcOptions, type RvcVoiceOptions } from './convert.js';
import type { RvcModel } from './model.js';

/** What a client may change on an RVC voice (protocol `set`): pitch, and RVC's index rate and protect. */
export const RVC_CONTROLS: ReadonlyArray<VoiceControl> = ['pitch', 'indexRate', 'protect'];

export interface RvcStageOptions extends RvcVoiceOptions {
  /** Past input per window, ms (default 500: the transformer prior and retrieval see half a second). */
  contextMs?: number;
  /** Unreliable right edge, ms (default 80). */
  lookaheadMs?: number;
}

export class RvcStage implements ConverterStage {
  readonly name: string;
  readonly sampleRate: number;
  readonly stateful = false;
  readonly lookaheadSamples: number;
  readonly contextSamples: number;
  readonly controls = RVC_CONTROLS;
  private voice: RvcVoiceOptions;
  private windowsDone = 0;
  private disposed = false;

  constructor(private readonly model: RvcModel, voice: Partial<VoiceParams>, options: RvcStageOptions = {}) {
    validateRvcOptions(options);
    this.name = `rvc:${model.name}`;
    this.sampleRate = model.sampleRate;
    this.lookaheadSamples = Math.round(((options.lookaheadMs ?? 80) * this.sampleRate) / 1000);
    this.contextSamples = Math.round(((options.contextMs ?? 500) * this.sampleRate) / 1000) + this.lookaheadSamples;
    this.voice = { ...options, pitch: voice.pitch ?? options.pitch ?? 0, indexRate: voice.indexRate ?? options.indexRate, protect: voice.protect ?? options.protect };
  }

  async process(window: Float32Array): Promise<Float32Array> {
    if (this.disposed) throw new SvcError('INTERNAL', 'RVC stage used after dispose');
    const audio16k = await resample(window, this.sampleRate, RVC_INPUT_RATE);
    // Seeded by window number: the prior noise differs per window, as in RVC's realtime GUI.
    const seed = (this.voice.seed ?? 0) + this.windowsDone++;
    const { samples } = await convertRvc16k(this.model, audio16k, { ...this.voice, seed, rmsFrameSeconds: 0.04, rmsHopSeconds: 0.01 });
    const out = new Float32Array(window.length);
    out.set(samples.subarray(0, window.length));
    return out;
  }

  setVoice(voice: Partial<VoiceParams>): void {
    const next = { ...this.voice };
    if (voice.pitch !== undefined) next.pitch = voice.pitch;
    if (voice.indexRate !== undefined) next.indexRate = voice.indexRate;
    if (voice.protect !== undefined) next.protect = voice.protect;
    this.voice = next;
  }

  /** RVC's own controls (index rate, protect, rms mix, f0 method) for the following windows. */
  setRvc(options: RvcVoiceOptions): void {
    const next = { ...this.voice, ...options };
    validateRvcOptions(next);
    this.voice = next;
  }

  reset(): void {}

  dispose(): void {
    this.disposed = true;
  }
}

/** Stage factory over one loaded model, shared by every session using it. */
export function createRvcStageFactory(model: RvcModel, options: RvcStageOptions = {}): StageFactory {
  validateRvcOptions(options);
  model.speakerId(options.speaker);
  return ({ voice }) => new RvcStage(model, voice, options);
}
