// Analysis windows for the STFT, matching torch: periodic by default (torch.hann_window(N) is
// periodic=True: w[n] = 0.5 - 0.5 cos(2πn/N)), and centred zero-padding of a window shorter than
// n_fft (torch.stft pads win_length to n_fft with (n_fft - win)/2 zeros on the left).

export type WindowType = 'hann' | 'hamming' | 'rectangular';

/** A window of `length` samples; `periodic` (default) suits spectral analysis, symmetric suits filter design. */
export function makeWindow(type: WindowType, length: number, periodic = true): Float64Array {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`window length must be a positive integer, got ${length}`);
  const w = new Float64Array(length);
  if (type === 'rectangular' || length === 1) return w.fill(1);
  const denominator = periodic ? length : length - 1;
  for (let n = 0; n < length; n++) {
    const c = Math.cos((2 * Math.PI * n) / denominator);
    w[n] = type === 'hann' ? 0.5 - 0.5 * c : 0.54 - 0.46 * c;
  }
  return w;
}

/** `window` centred in `nFft` samples with zeros on both sides (left pad = floor((nFft - win) / 2)). */
export function padWindowCentered(window: Float64Array, nFft: number): Float64Array {
  if (window.length > nFft) throw new RangeError(`window (${window.length}) is longer than n_fft (${nFft})`);
  if (window.length === nFft) return window;
  const out = new Float64Array(nFft);
  out.set(window, Math.floor((nFft - window.length) / 2));
  return out;
}
