// Parameters of the built-in DSP voice: allowed ranges, validation at the boundary (SvcError
// INVALID_ARGUMENT naming the allowed range) and the unit conversions the voice uses inside.
import { SvcError } from '../../errors.js';
import { VOICE_LIMITS } from '../stage.js';

export { semitonesToRatio } from '../stage.js';

export interface DspVoiceParams {
  /** Pitch change in semitones, -24..+24 (0 = unchanged). */
  pitchSemitones?: number;
  /** Spectral-envelope (formant) scale factor, 0.5..2.0 (1 = unchanged, >1 = smaller/brighter voice). */
  formantRatio?: number;
}

export const PITCH_SEMITONES_RANGE = VOICE_LIMITS.pitch;
export const FORMANT_RATIO_RANGE = VOICE_LIMITS.formant;
/** Sample rates the voice is designed and tested for (Hz). */
export const DSP_VOICE_RATE_RANGE = { min: 8000, max: 96000 } as const;

export function validatePitchSemitones(value: number, source = 'pitch'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < PITCH_SEMITONES_RANGE.min || value > PITCH_SEMITONES_RANGE.max) {
    throw new SvcError('INVALID_ARGUMENT', `${source} must be a number of semitones from ${PITCH_SEMITONES_RANGE.min} to +${PITCH_SEMITONES_RANGE.max}, got ${String(value)}`, {
      hint: 'e.g. 12 = one octave up, -5 = a fourth down',
    });
  }
  return value;
}

export function validateFormantRatio(value: number, source = 'formant'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < FORMANT_RATIO_RANGE.min || value > FORMANT_RATIO_RANGE.max) {
    throw new SvcError('INVALID_ARGUMENT', `${source} must be a ratio from ${FORMANT_RATIO_RANGE.min} to ${FORMANT_RATIO_RANGE.max}, got ${String(value)}`, {
      hint: '1.0 keeps the voice colour, 1.2 = smaller/brighter, 0.85 = larger/darker',
    });
  }
  return value;
}

export function validateVoiceSampleRate(sampleRate: number): number {
  if (!Number.isInteger(sampleRate) || sampleRate < DSP_VOICE_RATE_RANGE.min || sampleRate > DSP_VOICE_RATE_RANGE.max) {
    throw new SvcError('INVALID_ARGUMENT', `DSP voice sample rate must be an integer from ${DSP_VOICE_RATE_RANGE.min} to ${DSP_VOICE_RATE_RANGE.max} Hz, got ${String(sampleRate)}`, {
      hint: 'resample the audio to 16000, 44100 or 48000 Hz first',
    });
  }
  return sampleRate;
}
