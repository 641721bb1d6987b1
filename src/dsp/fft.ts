// Real FFT of any length for the spectral core. Power-of-two sizes run on fft.js (radix-4);
// other sizes (e.g. n_fft 400 or 1000) use Bluestein's chirp-z algorithm on a power-of-two fft.js
// transform of size >= 2n-1. All arithmetic is float64; buffers are reused between calls, so one
// RealFft instance must not be used from two places at once.
import FFT from 'fft.js';

function isPowerOfTwo(n: number): boolean {
  return n >= 2 && (n & (n - 1)) === 0;
}

function nextPowerOfTwo(n: number): number {
  let p = 2;
  while (p < n) p *= 2;
  return p;
}

/** Bluestein state for a complex DFT of arbitrary length n (forward direction, e^{-2πi kn/N}). */
class BluesteinDft {
  private readonly n: number;
  private readonly m: number;
  private readonly fft: FFT;
  private readonly chirpRe: Float64Array; // w[k] = e^{-iπk²/n}
  private readonly chirpIm: Float64Array;
  private readonly kernelSpectrum: number[]; // FFT of conj(w) arranged circularly, interleaved
  private readonly work: number[];
  private readonly workOut: number[];

  constructor(n: number) {
    this.n = n;
    this.m = nextPowerOfTwo(2 * n - 1);
    this.fft = new FFT(this.m);
    this.chirpRe = new Float64Array(n);
    this.chirpIm = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      // k² mod 2n keeps the angle small so the chirp stays accurate for large n.
      const angle = (Math.PI * ((k * k) % (2 * n))) / n;
      this.chirpRe[k] = Math.cos(angle);
      this.chirpIm[k] = -Math.sin(angle);
    }
    const kernel = this.fft.createComplexArray();
    for (let k = 0; k < n; k++) {
      kernel[2 * k] = this.chirpRe[k]!;
      kernel[2 * k + 1] = -this.chirpIm[k]!;
      if (k > 0) {
        kernel[2 * (this.m - k)] = this.chirpRe[k]!;
        kernel[2 * (this.m - k) + 1] = -this.chirpIm[k]!;
      }
    }
    this.kernelSpectrum = this.fft.createComplexArray();
    this.fft.transform(this.kernelSpectrum, kernel);
    this.work = this.fft.createComplexArray();
    this.workOut = this.fft.createComplexArray();
  }

  /** Forward DFT of complex input (inRe, inIm: length n) into outRe/outIm (length n). */
  transform(inRe: ArrayLike<number>, inIm: ArrayLike<number> | null, outRe: Float64Array, outIm: Float64Array): void {
    const { n, m, work, workOut, chirpRe, chirpIm, kernelSpectrum } = this;
    for (let k = 0; k < n; k++) {
      const xr = inRe[k]!;
      const xi = inIm ? inIm[k]! : 0;
      work[2 * k] = xr * chirpRe[k]! - xi * chirpIm[k]!;
      work[2 * k + 1] = xr * chirpIm[k]! + xi * chirpRe[k]!;
    }
    for (let k = 2 * n; k < 2 * m; k++) work[k] = 0;
    this.fft.transform(workOut, work);
    for (let k = 0; k < m; k++) {
      const ar = workOut[2 * k]!;
      const ai = workOut[2 * k + 1]!;
      const br = kernelSpectrum[2 * k]!;
      const bi = kernelSpectrum[2 * k + 1]!;
      work[2 * k] = ar * br - ai * bi;
      work[2 * k + 1] = ar * bi + ai * br;
    }
    this.fft.inverseTransform(workOut, work);
    for (let k = 0; k < n; k++) {
      const yr = workOut[2 * k]!;
      const yi = workOut[2 * k + 1]!;
      outRe[k] = yr * chirpRe[k]! - yi * chirpIm[k]!;
      outIm[k] = yr * chirpIm[k]! + yi * chirpRe[k]!;
    }
  }
}

/**
 * Real FFT of length `size`: forward gives the one-sided spectrum (size/2+1 bins, unnormalised,
 * X[k] = Σ x[n] e^{-2πikn/N}); inverse takes a one-sided spectrum back to `size` reals (with 1/N).
 */
export class RealFft {
  readonly size: number;
  readonly bins: number;
  private readonly radix?: FFT;
  private readonly bluestein?: BluesteinDft;
  private readonly complexA: number[] | Float64Array;
  private readonly complexB: number[] | Float64Array;
  private readonly fullRe: Float64Array;
  private readonly fullIm: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`FFT size must be an integer >= 2, got ${size}`);
    this.size = size;
    this.bins = Math.floor(size / 2) + 1;
    if (isPowerOfTwo(size)) {
      this.radix = new FFT(size);
      this.complexA = this.radix.createComplexArray();
      this.complexB = this.radix.createComplexArray();
      this.fullRe = this.fullIm = new Float64Array(0);
    } else {
      this.bluestein = new BluesteinDft(size);
      this.complexA = new Float64Array(size);
      this.complexB = new Float64Array(size);
      this.fullRe = new Float64Array(size);
      this.fullIm = new Float64Array(size);
    }
  }

  /** One-sided spectrum of `input` (length size) into re/im (length >= bins). */
  forward(input: ArrayLike<number>, re: Float64Array, im: Float64Array): void {
    const { size, bins } = this;
    if (input.length !== size) throw new RangeError(`FFT input must have ${size} samples, got ${input.length}`);
    if (this.radix) {
      const out = this.complexA as number[];
      this.radix.realTransform(out, input);
      for (let k = 0; k < bins; k++) {
        re[k] = out[2 * k]!;
        im[k] = out[2 * k + 1]!;
      }
    } else {
      this.bluestein!.transform(input, null, this.fullRe, this.fullIm);
      for (let k = 0; k < bins; k++) {
        re[k] = this.fullRe[k]!;
        im[k] = this.fullIm[k]!;
      }
    }
    // Exact zeros where the real input makes them so (DC, and Nyquist for even sizes).
    im[0] = 0;
    if (size % 2 === 0) im[bins - 1] = 0;
  }

  /** Real signal (length size, 1/N-scaled) from a one-sided spectrum re/im (length >= bins). */
  inverse(re: ArrayLike<number>, im: ArrayLike<number>, out: Float64Array): void {
    const { size, bins } = this;
    if (this.radix) {
      const spectrum = this.complexA as number[];
      for (let k = 0; k < bins; k++) {
        spectrum[2 * k] = re[k]!;
        spectrum[2 * k + 1] = k === 0 || (size % 2 === 0 && k === bins - 1) ? 0 : im[k]!;
      }
      for (let k = bins; k < size; k++) {
        spectrum[2 * k] = re[size - k]!;
        spectrum[2 * k + 1] = -im[size - k]!;
      }
      const result = this.complexB as number[];
      this.radix.inverseTransform(result, spectrum);
      for (let n = 0; n < size; n++) out[n] = result[2 * n]!;
    } else {
      // x = conj(DFT(conj(X))) / N on the full Hermitian spectrum.
      const xr = this.complexA as Float64Array;
      const xi = this.complexB as Float64Array;
      for (let k = 0; k < size; k++) {
        const j = k < bins ? k : size - k;
        const sign = k < bins ? 1 : -1;
        xr[k] = re[j]!;
        xi[k] = -(sign * (j === 0 || (size % 2 === 0 && j === bins - 1) ? 0 : im[j]!));
      }
      this.bluestein!.transform(xr, xi, this.fullRe, this.fullIm);
      for (let n = 0; n < size; n++) out[n] = this.fullRe[n]! / size;
    }
  }
}

const fftCache = new Map<number, RealFft>();

/** A shared RealFft per size (for synchronous one-shot use; never hold it across an await). */
export function sharedRealFft(size: number): RealFft {
  let fft = fftCache.get(size);
  if (!fft) {
    fft = new RealFft(size);
    fftCache.set(size, fft);
  }
  return fft;
}
