// The built-in DSP voice (src/voices/dsp) as a converter stage: stateful and streaming, so it takes one
// block per call, needs no left context and no SOLA; its fixed delay is its lookahead. It runs at the
// client's own sample rate (no resampling, lowest latency) unless a rate is forced.
import { DspVoice } from './index.js';
import type { ConverterStage, StageFactory, VoiceParams } from '../stage.js';

export class DspVoiceStage implements ConverterStage {
  readonly name = 'builtin';
  readonly contextSamples = 0;
  readonly stateful = true;
  readonly lookaheadSamples: number;
  private readonly voice: DspVoice;

  constructor(readonly sampleRate: number, voice: VoiceParams) {
    this.voice = new DspVoice({ sampleRate, pitchSemitones: voice.pitch, formantRatio: voice.formant });
    this.lookaheadSamples = this.voice.delaySamples;
  }

  process(block: Float32Array): Float32Array {
    return this.voice.process(block);
  }

  setVoice(voice: Partial<VoiceParams>): void {
    this.voice.setParams({ pitchSemitones: voice.pitch, formantRatio: voice.formant });
  }

  reset(): void {
    this.voice.reset();
  }

  dispose(): void {
    this.voice.dispose();
  }
}

/** Stage factory for sessions: the DSP voice at the client's rate (or at `sampleRate` when given). */
export function createDspStageFactory(options: { sampleRate?: number } = {}): StageFactory {
  return ({ clientSampleRate, voice }) => new DspVoiceStage(options.sampleRate ?? clientSampleRate, voice);
}
