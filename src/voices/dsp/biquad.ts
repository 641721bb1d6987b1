// Second-order IIR sections (RBJ cookbook, bilinear transform) used by the DSP voice: the pitch
// tracker's anti-alias low-pass and the formant warp's anti-alias low-pass. Coefficients are pure
// functions; `BiquadCascade` keeps the state and filters one sample at a time without allocating.

/** Normalised coefficients [b0, b1, b2, a1, a2] (a0 = 1). */
export type BiquadCoefficients = Float64Array;

/** Butterworth-style low-pass section at `cutoffHz` with quality factor `q`. */
export function lowpassCoefficients(cutoffHz: number, sampleRate: number, q: number, out: BiquadCoefficients = new Float64Array(5)): BiquadCoefficients {
  const w0 = (2 * Math.PI * Math.min(cutoffHz, 0.499 * sampleRate)) / sampleRate;
  const cosW = Math.cos(w0);
  const alpha = Math.sin(w0) / (2 * q);
  const a0 = 1 + alpha;
  out[0] = (1 - cosW) / 2 / a0;
  out[1] = (1 - cosW) / a0;
  out[2] = (1 - cosW) / 2 / a0;
  out[3] = (-2 * cosW) / a0;
  out[4] = (1 - alpha) / a0;
  return out;
}

/** Q factors of the two sections of a 4th-order Butterworth low-pass. */
export const BUTTERWORTH4_Q = [0.5411961, 1.3065630] as const;

/** Two cascaded biquads (4th-order low-pass), transposed direct form II. */
export class LowpassCascade4 {
  private readonly c0 = new Float64Array(5);
  private readonly c1 = new Float64Array(5);
  private s01 = 0;
  private s02 = 0;
  private s11 = 0;
  private s12 = 0;

  constructor(cutoffHz: number, sampleRate: number) {
    this.setCutoff(cutoffHz, sampleRate);
  }

  setCutoff(cutoffHz: number, sampleRate: number): void {
    lowpassCoefficients(cutoffHz, sampleRate, BUTTERWORTH4_Q[0], this.c0);
    lowpassCoefficients(cutoffHz, sampleRate, BUTTERWORTH4_Q[1], this.c1);
  }

  process(x: number): number {
    const c0 = this.c0;
    const y0 = c0[0] * x + this.s01;
    this.s01 = c0[1] * x - c0[3] * y0 + this.s02;
    this.s02 = c0[2] * x - c0[4] * y0;
    const c1 = this.c1;
    const y1 = c1[0] * y0 + this.s11;
    this.s11 = c1[1] * y0 - c1[3] * y1 + this.s12;
    this.s12 = c1[2] * y0 - c1[4] * y1;
    return y1;
  }

  reset(): void {
    this.s01 = this.s02 = this.s11 = this.s12 = 0;
  }
}
