// MFCC frames for speaker modelling: 16 kHz audio, 25 ms Hamming windows every 10 ms, 40 HTK mel
// bands from 20 Hz to 7.6 kHz of the power spectrum, log, DCT-II (orthonormal), coefficients 1..19
// (c0, the frame energy, says more about loudness than about the speaker and is left out).
// Shapes: [frame][coef], frame i centred at i * 10 ms.
import { estimateF0, type F0Choice } from '../dsp/f0/index.js';
import { melSpectrogram } from '../dsp/mel.js';

export const MFCC_HOP_SECONDS = 0.01;
export const MFCC_COEFFICIENTS = 19;
const SAMPLE_RATE = 16000;
const MEL_BANDS = 40;

let dctCache: Float32Array | undefined;

/** DCT-II rows 1..MFCC_COEFFICIENTS over MEL_BANDS inputs, orthonormal scaling. */
function dctMatrix(): Float32Array {
  if (dctCache) return dctCache;
  const m = new Float32Array(MFCC_COEFFICIENTS * MEL_BANDS);
  const scale = Math.sqrt(2 / MEL_BANDS);
  for (let k = 1; k <= MFCC_COEFFICIENTS; k++) {
    for (let n = 0; n < MEL_BANDS; n++) m[(k - 1) * MEL_BANDS + n] = scale * Math.cos((Math.PI / MEL_BANDS) * (n + 0.5) * k);
  }
  dctCache = m;
  return m;
}

export interface MfccFrames {
  frames: number;
  /** Coefficients per frame (MFCC_COEFFICIENTS). */
  dim: number;
  /** Row-major [frame][coef]. */
  data: Float32Array;
}

/** MFCCs of 16 kHz mono audio; frame i covers the 25 ms around i * 10 ms. */
export function mfcc(samples16k: Float32Array): MfccFrames {
  const mel = melSpectrogram(samples16k, {
    sampleRate: SAMPLE_RATE, nFft: 512, winSamples: 400, hopSamples: 160, window: 'hamming', power: 2,
    nMels: MEL_BANDS, fMin: 20, fMax: 7600, melScale: 'htk', norm: null, padding: 'center',
  });
  const dct = dctMatrix();
  const data = new Float32Array(mel.frames * MFCC_COEFFICIENTS);
  const logMel = new Float32Array(MEL_BANDS);
  for (let t = 0; t < mel.frames; t++) {
    for (let b = 0; b < MEL_BANDS; b++) logMel[b] = Math.log(mel.data[t * MEL_BANDS + b]! + 1e-8);
    for (let k = 0; k < MFCC_COEFFICIENTS; k++) {
      let sum = 0;
      for (let b = 0; b < MEL_BANDS; b++) sum += dct[k * MEL_BANDS + b]! * logMel[b]!;
      data[t * MFCC_COEFFICIENTS + k] = sum;
    }
  }
  return { frames: mel.frames, dim: MFCC_COEFFICIENTS, data };
}

/**
 * log f0 per MFCC frame (NaN where unvoiced), from svc's f0 estimator at the same 10 ms hop
 * (frame i centred at i * 160 samples, as the MFCC frames).
 */
export async function logF0Frames(samples16k: Float32Array, frames: number, method: F0Choice = 'swift'): Promise<Float32Array> {
  const track = await estimateF0(samples16k, SAMPLE_RATE, { method, hopSamples: 160, fMinHz: 50, fMaxHz: 600 });
  const out = new Float32Array(frames).fill(NaN);
  for (let t = 0; t < Math.min(frames, track.f0Hz.length); t++) if (track.voiced[t] && track.f0Hz[t]! > 0) out[t] = Math.log(track.f0Hz[t]!);
  return out;
}
