// Short-time Fourier transform and its inverse, matching torch.stft / torch.istft conventions
// (periodic Hann window zero-padded to n_fft, unnormalised, one-sided) so that features computed
// here equal what so-vits-svc computes in PyTorch.
//
// Layout: every spectrogram is one flat Float32Array, row-major [frame][bin]:
//   value(frame t, bin k) = data[t * bins + k],  bins = nFft/2 + 1 (or nMels for mel spectrograms).
// Frame t covers padded samples [t*hop, t*hop + nFft); with padding 'center' its centre is input
// sample t*hop.
//
// Padding (which samples frame 0 sees):
//   'center' (default, torch center=True): reflect-pad nFft/2 on both sides.
//   'sovits'  (so-vits-svc / HiFi-GAN mel_processing): reflect-pad (nFft-hop)/2 on both sides and
//             frame with center=False, giving floor(n/hop) frames for n a multiple of hop.
//   'none'    (center=False): no padding.
import { SvcError } from '../errors.js';
import { sharedRealFft } from './fft.js';
import { makeWindow, padWindowCentered, type WindowType } from './window.js';

export type StftPadding = 'center' | 'sovits' | 'none';

export interface StftOptions {
  /** FFT size in samples. Default 2048 (so-vits-svc 44.1 kHz). */
  nFft?: number;
  /** Hop between frames in samples. Default 512. */
  hopSamples?: number;
  /** Window length in samples (<= nFft, centred in the FFT frame). Default nFft. */
  winSamples?: number;
  /** Default 'hann' (periodic, as torch.hann_window). */
  window?: WindowType;
  /** How the signal is padded before framing; see the module comment. Default from `center`. */
  padding?: StftPadding;
  /** torch-style switch, used when `padding` is not given: true → 'center' (default), false → 'none'. */
  center?: boolean;
  /** Values of the padding: 'reflect' (default, as torch/so-vits) or 'constant' (zeros). */
  padMode?: 'reflect' | 'constant';
}

export interface ResolvedStftOptions {
  nFft: number;
  hopSamples: number;
  winSamples: number;
  window: WindowType;
  padding: StftPadding;
  padMode: 'reflect' | 'constant';
}

/** Complex one-sided STFT, flat row-major [frame][bin] (see module comment). */
export interface ComplexSpectrogram {
  frames: number;
  bins: number;
  re: Float32Array;
  im: Float32Array;
}

/** A real spectrogram (magnitude, power or mel), flat row-major [frame][bin]. */
export interface Spectrogram {
  frames: number;
  bins: number;
  data: Float32Array;
}

export function resolveStftOptions(options: StftOptions = {}): ResolvedStftOptions {
  const nFft = options.nFft ?? 2048;
  const hopSamples = options.hopSamples ?? 512;
  const winSamples = options.winSamples ?? nFft;
  const padding = options.padding ?? (options.center === false ? 'none' : 'center');
  const check = (ok: boolean, what: string): void => {
    if (!ok) throw new SvcError('INVALID_ARGUMENT', `invalid STFT options: ${what}`);
  };
  check(Number.isInteger(nFft) && nFft >= 2, `nFft must be an integer >= 2, got ${nFft}`);
  check(Number.isInteger(hopSamples) && hopSamples >= 1, `hopSamples must be a positive integer, got ${hopSamples}`);
  check(Number.isInteger(winSamples) && winSamples >= 1 && winSamples <= nFft, `winSamples must be 1..nFft (${nFft}), got ${winSamples}`);
  check(padding !== 'sovits' || (nFft - hopSamples) % 2 === 0, `padding 'sovits' needs nFft - hopSamples even, got ${nFft} - ${hopSamples}`);
  return { nFft, hopSamples, winSamples, window: options.window ?? 'hann', padding, padMode: options.padMode ?? 'reflect' };
}

/** Samples added on each side before framing. */
export function paddingSamples(o: ResolvedStftOptions): number {
  if (o.padding === 'center') return Math.floor(o.nFft / 2);
  if (o.padding === 'sovits') return (o.nFft - o.hopSamples) / 2;
  return 0;
}

/** Number of frames for `length` input samples: 1 + floor((padded - nFft) / hop), or 0 if too short. */
export function frameCount(length: number, options: StftOptions = {}): number {
  const o = resolveStftOptions(options);
  const padded = length + 2 * paddingSamples(o);
  return padded < o.nFft ? 0 : 1 + Math.floor((padded - o.nFft) / o.hopSamples);
}

/** Index into x for position p of the padded signal (reflect without repeating the edge, like torch). */
function reflectIndex(p: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let i = p % period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

/** Pads x by `pad` samples on both sides (reflect or zeros) into a Float64Array. */
export function padSignal(x: ArrayLike<number>, pad: number, mode: 'reflect' | 'constant'): Float64Array {
  const n = x.length;
  const out = new Float64Array(n + 2 * pad);
  for (let i = 0; i < n; i++) out[pad + i] = x[i]!;
  if (mode === 'reflect' && n > 0) {
    for (let p = 0; p < pad; p++) {
      out[pad - 1 - p] = x[reflectIndex(-1 - p, n)]!;
      out[pad + n + p] = x[reflectIndex(n + p, n)]!;
    }
  }
  return out;
}

/** Runs the windowed FFT over every frame and hands each one-sided spectrum (float64) to `visit`. */
function forEachFrame(
  samples: ArrayLike<number>,
  o: ResolvedStftOptions,
  visit: (frame: number, re: Float64Array, im: Float64Array) => void,
): number {
  const pad = paddingSamples(o);
  const padded = padSignal(samples, pad, o.padMode);
  const frames = padded.length < o.nFft ? 0 : 1 + Math.floor((padded.length - o.nFft) / o.hopSamples);
  const window = padWindowCentered(makeWindow(o.window, o.winSamples), o.nFft);
  const fft = sharedRealFft(o.nFft);
  const frame = new Float64Array(o.nFft);
  const re = new Float64Array(fft.bins);
  const im = new Float64Array(fft.bins);
  for (let t = 0; t < frames; t++) {
    const start = t * o.hopSamples;
    for (let i = 0; i < o.nFft; i++) frame[i] = padded[start + i]! * window[i]!;
    fft.forward(frame, re, im);
    visit(t, re, im);
  }
  return frames;
}

/** Complex STFT (torch.stft(..., return_complex=True) transposed to [frame][bin]). */
export function stft(samples: ArrayLike<number>, options: StftOptions = {}): ComplexSpectrogram {
  const o = resolveStftOptions(options);
  const bins = Math.floor(o.nFft / 2) + 1;
  const frames = frameCount(samples.length, o);
  const re = new Float32Array(frames * bins);
  const im = new Float32Array(frames * bins);
  forEachFrame(samples, o, (t, fr, fi) => {
    for (let k = 0; k < bins; k++) {
      re[t * bins + k] = fr[k]!;
      im[t * bins + k] = fi[k]!;
    }
  });
  return { frames, bins, re, im };
}

export interface IstftOptions extends StftOptions {
  /** Output length in samples; default (frames-1)*hop + nFft - 2*padding (torch's default). */
  length?: number;
}

/**
 * Inverse STFT by windowed overlap-add divided by the summed squared window (torch.istft), so
 * istft(stft(x)) = x for Hann at 75% overlap (any hop where the squared windows never all vanish).
 */
export function istft(spec: ComplexSpectrogram, options: IstftOptions = {}): Float32Array {
  const o = resolveStftOptions(options);
  const bins = Math.floor(o.nFft / 2) + 1;
  if (spec.bins !== bins) throw new SvcError('INVALID_ARGUMENT', `istft: spectrogram has ${spec.bins} bins but nFft ${o.nFft} needs ${bins}`);
  const pad = paddingSamples(o);
  const window = padWindowCentered(makeWindow(o.window, o.winSamples), o.nFft);
  const fft = sharedRealFft(o.nFft);
  const paddedLength = spec.frames === 0 ? 0 : (spec.frames - 1) * o.hopSamples + o.nFft;
  const sum = new Float64Array(paddedLength);
  const windowSquareSum = new Float64Array(paddedLength);
  const re = new Float64Array(bins);
  const im = new Float64Array(bins);
  const frame = new Float64Array(o.nFft);
  for (let t = 0; t < spec.frames; t++) {
    for (let k = 0; k < bins; k++) {
      re[k] = spec.re[t * bins + k]!;
      im[k] = spec.im[t * bins + k]!;
    }
    fft.inverse(re, im, frame);
    const start = t * o.hopSamples;
    for (let i = 0; i < o.nFft; i++) {
      sum[start + i]! += frame[i]! * window[i]!;
      windowSquareSum[start + i]! += window[i]! * window[i]!;
    }
  }
  const length = options.length ?? Math.max(0, paddedLength - 2 * pad);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const p = i + pad;
    if (p >= paddedLength) break;
    const w = windowSquareSum[p]!;
    out[i] = w > 1e-11 ? sum[p]! / w : 0;
  }
  return out;
}

export interface LinearSpectrogramOptions extends StftOptions {
  /** 1 = magnitude |X| (default, as so-vits-svc), 2 = power |X|². */
  power?: 1 | 2;
  /** Added to |X|² before the square root (so-vits-svc uses 1e-6). Default 0. */
  magnitudeEpsilon?: number;
}

/** Magnitude (or power) spectrogram, [frame][bin] with bins = nFft/2 + 1. */
export function linearSpectrogram(samples: ArrayLike<number>, options: LinearSpectrogramOptions = {}): Spectrogram {
  const o = resolveStftOptions(options);
  const power = options.power ?? 1;
  const epsilon = options.magnitudeEpsilon ?? 0;
  const bins = Math.floor(o.nFft / 2) + 1;
  const frames = frameCount(samples.length, o);
  const data = new Float32Array(frames * bins);
  forEachFrame(samples, o, (t, re, im) => {
    const row = t * bins;
    for (let k = 0; k < bins; k++) {
      const p = re[k]! * re[k]! + im[k]! * im[k]! + epsilon;
      data[row + k] = power === 2 ? p : Math.sqrt(p);
    }
  });
  return { frames, bins, data };
}

/** The same spectrogram laid out [bin][frame] (channels-first, as torch / ONNX models expect). */
export function toBinsFirst(spec: Spectrogram): Float32Array {
  const out = new Float32Array(spec.frames * spec.bins);
  for (let t = 0; t < spec.frames; t++) for (let k = 0; k < spec.bins; k++) out[k * spec.frames + t] = spec.data[t * spec.bins + k]!;
  return out;
}
