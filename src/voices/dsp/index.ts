// Public surface of the built-in DSP voice (pitch + formant change, streaming-first).
export { DspVoice, convertWithDspVoice, softLimit, DSP_VOICE_LOOKAHEAD_SECONDS, type DspVoiceOptions } from './voice.js';
export {
  type DspVoiceParams,
  PITCH_SEMITONES_RANGE,
  FORMANT_RATIO_RANGE,
  DSP_VOICE_RATE_RANGE,
  semitonesToRatio,
  validatePitchSemitones,
  validateFormantRatio,
  validateVoiceSampleRate,
} from './params.js';
export { PeriodTracker, type PeriodEstimate } from './period-tracker.js';
