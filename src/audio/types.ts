// Audio as it moves through svc: planar Float32 channels in [-1, 1] with their sample rate.

export interface AudioData {
  sampleRate: number;
  /** One Float32Array per channel, all the same length. */
  channels: Float32Array[];
}

export interface MonoAudio {
  sampleRate: number;
  samples: Float32Array;
}

/** Sample rates the resampler and I/O accept everywhere. */
export const SUPPORTED_SAMPLE_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000] as const;
export type SupportedSampleRate = (typeof SUPPORTED_SAMPLE_RATES)[number];
