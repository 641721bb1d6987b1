// Per-clip training features (docs/dataset.md): the clip drains the So-VITS feature timeline
// (timeline.ts) — the one live conversion and file conversion drain — so content units (one row per
// 20 ms from the 16 kHz feed), f0 with gaps filled, voicing and RMS volume at the model hop are exactly
// what the engine computes at run time. Optionally the linear magnitude spectrogram (so-vits-svc padding).
import type { F0Choice } from '../../dsp/f0/index.js';
import { linearSpectrogram, toBinsFirst } from '../../dsp/stft.js';
import type { ModelAudioSettings } from '../../offline/config.js';
import type { ContentEncoder } from './encoder.js';
import { SovitsTimeline, type EncoderContext, type TimelineOptions, type TrainingFeatures } from './timeline.js';

export interface ClipFeatures extends TrainingFeatures {
  /** Linear magnitude [F, T] bins-first, when requested. */
  spec?: { bins: number; frames: number; data: Float32Array };
}

/** Encoder context of a live timeline over a dataset's encoder (whole clips are encoded in one run). */
export const TRAINING_ENCODER_CONTEXT: EncoderContext = { leftRows: 15, rightRows: 3 };

/** The timeline settings training features use; a live timeline built from them gives the same features. */
export function trainingTimelineOptions(settings: ModelAudioSettings, encoder: ContentEncoder, f0Method: F0Choice): TimelineOptions {
  return {
    sampleRate: settings.samplingRate,
    hopSamples: settings.hopLength,
    f0Method,
    f0LowLatency: false,
    volume: true,
    encoder,
    encoderContext: TRAINING_ENCODER_CONTEXT,
    gapLookaheadFrames: Infinity,
  };
}

/** Features of one normalised clip at the model rate. */
export async function extractClipFeatures(
  samples: Float32Array,
  settings: ModelAudioSettings,
  encoder: ContentEncoder,
  options: { f0Method: F0Choice; spectrogram?: boolean },
): Promise<ClipFeatures> {
  const timeline = await SovitsTimeline.create(trainingTimelineOptions(settings, encoder, options.f0Method));
  let features: TrainingFeatures;
  try {
    await timeline.drainFile(samples);
    features = timeline.trainingFeatures();
  } finally {
    timeline.dispose();
  }
  let spec: ClipFeatures['spec'];
  if (options.spectrogram) {
    const s = linearSpectrogram(samples, { nFft: settings.filterLength, hopSamples: settings.hopLength, winSamples: settings.winLength, padding: 'sovits', magnitudeEpsilon: 1e-6 });
    const data = toBinsFirst(s);
    const bins = settings.filterLength / 2 + 1;
    spec = { bins, frames: data.length / bins, data };
  }
  return { ...features, spec };
}
