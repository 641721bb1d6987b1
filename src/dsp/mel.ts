// Mel filterbank and mel spectrograms, matching librosa.filters.mel / torchaudio melscale_fbanks
// (Slaney mel scale and Slaney area normalisation by default, as so-vits-svc uses via librosa),
// and so-vits-svc's log-mel feature: log(clamp(mel(|STFT|), 1e-5)).
//
// Defaults are so-vits-svc 4.x at 44.1 kHz: n_fft 2048, hop 512, win 2048, 80 mels, fmin 0,
// fmax = sampleRate/2. melSpectrogram pads like torch (center) unless told otherwise;
// logMelSpectrogram pads like so-vits-svc ('sovits': reflect (n_fft-hop)/2, center=False, and
// sqrt(|X|² + 1e-6) magnitudes) because that is the feature so-vits models are trained on.
import { SvcError } from '../errors.js';
import { linearSpectrogram, type LinearSpectrogramOptions, type Spectrogram } from './stft.js';

export type MelScale = 'slaney' | 'htk';

export interface MelFilterbankOptions {
  sampleRate: number;
  nFft: number;
  nMels: number;
  /** Lowest filter edge in Hz. Default 0. */
  fMin?: number;
  /** Highest filter edge in Hz. Default sampleRate/2. */
  fMax?: number;
  /** Default 'slaney' (librosa htk=False). */
  melScale?: MelScale;
  /** 'slaney' (default): each triangle divided by its width in Hz / 2 (constant energy); null: peak 1. */
  norm?: 'slaney' | null;
}

/** Mel filterbank weights, flat row-major [mel][bin] with bins = nFft/2 + 1, plus each filter's nonzero bin range. */
export interface MelFilterbank {
  nMels: number;
  bins: number;
  weights: Float32Array;
  /** First bin with a nonzero weight, per mel (== lastBin+1 when a filter is empty). */
  firstBin: Int32Array;
  /** One past the last nonzero bin, per mel. */
  endBin: Int32Array;
}

const SLANEY_F_SP = 200 / 3;
const SLANEY_MIN_LOG_HZ = 1000;
const SLANEY_MIN_LOG_MEL = SLANEY_MIN_LOG_HZ / SLANEY_F_SP; // 15
const SLANEY_LOG_STEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 2595 * Math.log10(1 + hz / 700);
  return hz >= SLANEY_MIN_LOG_HZ ? SLANEY_MIN_LOG_MEL + Math.log(hz / SLANEY_MIN_LOG_HZ) / SLANEY_LOG_STEP : hz / SLANEY_F_SP;
}

export function melToHz(mel: number, scale: MelScale = 'slaney'): number {
  if (scale === 'htk') return 700 * (10 ** (mel / 2595) - 1);
  return mel >= SLANEY_MIN_LOG_MEL ? SLANEY_MIN_LOG_HZ * Math.exp(SLANEY_LOG_STEP * (mel - SLANEY_MIN_LOG_MEL)) : SLANEY_F_SP * mel;
}

/** Triangular mel filters over the one-sided FFT bins (bin k at k * sampleRate / nFft Hz). */
export function melFilterbank(options: MelFilterbankOptions): MelFilterbank {
  const { sampleRate, nFft, nMels } = options;
  const fMin = options.fMin ?? 0;
  const fMax = options.fMax ?? sampleRate / 2;
  const scale = options.melScale ?? 'slaney';
  const norm = options.norm === undefined ? 'slaney' : options.norm;
  if (!(sampleRate > 0) || !Number.isInteger(nFft) || nFft < 2 || !Number.isInteger(nMels) || nMels < 1) {
    throw new SvcError('INVALID_ARGUMENT', `invalid mel filterbank: sampleRate ${sampleRate}, nFft ${nFft}, nMels ${nMels}`);
  }
  if (!(fMin >= 0 && fMax > fMin && fMax <= sampleRate / 2 + 1e-9)) {
    throw new SvcError('INVALID_ARGUMENT', `invalid mel range ${fMin}..${fMax} Hz; expected 0 <= fMin < fMax <= ${sampleRate / 2} Hz`);
  }
  const bins = Math.floor(nFft / 2) + 1;
  // Filter edges: nMels + 2 points evenly spaced in mel between fMin and fMax.
  const melMin = hzToMel(fMin, scale);
  const melMax = hzToMel(fMax, scale);
  const edgesHz = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) edgesHz[i] = melToHz(melMin + ((melMax - melMin) * i) / (nMels + 1), scale);
  const weights = new Float32Array(nMels * bins);
  const firstBin = new Int32Array(nMels).fill(bins);
  const endBin = new Int32Array(nMels);
  for (let m = 0; m < nMels; m++) {
    const lower = edgesHz[m]!;
    const centre = edgesHz[m + 1]!;
    const upper = edgesHz[m + 2]!;
    const enorm = norm === 'slaney' ? 2 / (upper - lower) : 1;
    for (let k = 0; k < bins; k++) {
      // Bin k's true frequency (librosa fft_frequencies; equals torchaudio's linspace(0, sr/2) for even nFft).
      const hz = (k * sampleRate) / nFft;
      const rising = (hz - lower) / (centre - lower);
      const falling = (upper - hz) / (upper - centre);
      const w = Math.max(0, Math.min(rising, falling));
      if (w > 0) {
        weights[m * bins + k] = w * enorm;
        if (firstBin[m] === bins) firstBin[m] = k;
        endBin[m] = k + 1;
      }
    }
    if (firstBin[m] === bins) firstBin[m] = endBin[m]!;
  }
  return { nMels, bins, weights, firstBin, endBin };
}

/** Applies a filterbank to a linear spectrogram: [frame][bin] → [frame][mel]. */
export function applyFilterbank(spec: Spectrogram, bank: MelFilterbank): Spectrogram {
  if (spec.bins !== bank.bins) {
    throw new SvcError('INVALID_ARGUMENT', `mel filterbank expects ${bank.bins} bins but the spectrogram has ${spec.bins}`);
  }
  const { frames } = spec;
  const { nMels, bins, weights, firstBin, endBin } = bank;
  const data = new Float32Array(frames * nMels);
  for (let t = 0; t < frames; t++) {
    const row = t * bins;
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      const wRow = m * bins;
      for (let k = firstBin[m]!; k < endBin[m]!; k++) acc += weights[wRow + k]! * spec.data[row + k]!;
      data[t * nMels + m] = acc;
    }
  }
  return { frames, bins: nMels, data };
}

export interface MelSpectrogramOptions extends LinearSpectrogramOptions {
  /** Default 44100. */
  sampleRate?: number;
  /** Default 80. */
  nMels?: number;
  fMin?: number;
  fMax?: number;
  melScale?: MelScale;
  norm?: 'slaney' | null;
}

const bankCache = new Map<string, MelFilterbank>();

function cachedFilterbank(options: MelFilterbankOptions): MelFilterbank {
  const key = JSON.stringify([options.sampleRate, options.nFft, options.nMels, options.fMin, options.fMax, options.melScale, options.norm]);
  let bank = bankCache.get(key);
  if (!bank) {
    bank = melFilterbank(options);
    bankCache.set(key, bank);
  }
  return bank;
}

/** Mel spectrogram [frame][mel] of |STFT|^power (power 1 by default, as so-vits-svc). */
export function melSpectrogram(samples: ArrayLike<number>, options: MelSpectrogramOptions = {}): Spectrogram {
  const sampleRate = options.sampleRate ?? 44100;
  const nFft = options.nFft ?? 2048;
  const bank = cachedFilterbank({
    sampleRate,
    nFft,
    nMels: options.nMels ?? 80,
    fMin: options.fMin ?? 0,
    fMax: options.fMax ?? sampleRate / 2,
    melScale: options.melScale ?? 'slaney',
    norm: options.norm === undefined ? 'slaney' : options.norm,
  });
  return applyFilterbank(linearSpectrogram(samples, { ...options, nFft }), bank);
}

/** so-vits-svc's dynamic range compression: log(max(x, clampMin)) in place. */
export function dynamicRangeCompressInPlace(spec: Spectrogram, clampMin = 1e-5): Spectrogram {
  const d = spec.data;
  for (let i = 0; i < d.length; i++) d[i] = Math.log(Math.max(d[i]!, clampMin));
  return spec;
}

/**
 * so-vits-svc log-mel (mel_processing.mel_spectrogram_torch): natural log of the clamped mel
 * spectrogram, [frame][mel]. Defaults: padding 'sovits' and magnitudeEpsilon 1e-6 (override both
 * to get torch-center framing).
 */
export function logMelSpectrogram(samples: ArrayLike<number>, options: MelSpectrogramOptions & { clampMin?: number } = {}): Spectrogram {
  const padding = options.padding ?? (options.center === undefined ? 'sovits' : options.center ? 'center' : 'none');
  const mel = melSpectrogram(samples, { ...options, padding, magnitudeEpsilon: options.magnitudeEpsilon ?? 1e-6 });
  return dynamicRangeCompressInPlace(mel, options.clampMin ?? 1e-5);
}

/** so-vits-svc 4.x 44.1 kHz feature settings (hps.data in its configs). */
export const SOVITS_44K_MEL: Readonly<Required<Pick<MelSpectrogramOptions, 'sampleRate' | 'nFft' | 'hopSamples' | 'winSamples' | 'nMels' | 'fMin' | 'fMax' | 'padding' | 'magnitudeEpsilon'>>> = {
  sampleRate: 44100,
  nFft: 2048,
  hopSamples: 512,
  winSamples: 2048,
  nMels: 80,
  fMin: 0,
  fMax: 22050,
  padding: 'sovits',
  magnitudeEpsilon: 1e-6,
};
