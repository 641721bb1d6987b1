// Streaming band-limited resampling of any rate to 16 kHz for the f0 analysers (SwiftF0, CREPE and
// YIN all work at 16 kHz). Zero-phase windowed sinc (Kaiser, 10 zero crossings, cutoff 0.92 x the
// lower Nyquist), so output sample m is exactly at time m/16000 s and streaming output equals the
// one-shot output sample for sample. Kept private to f0 so its delay is fixed and known.

import { IndexedBuffer } from '../indexed-buffer.js';

export const ANALYSIS_RATE = 16000;
const ZERO_CROSSINGS = 10;
const PHASES = 512;
const KAISER_BETA = 8;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 30; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/** Resamples a stream to 16 kHz; `process` returns the samples that are final so far. */
export class StreamingResamplerTo16k {
  /** Input samples of look-ahead the filter needs: the fixed delay of this stage. */
  readonly lookaheadInputSamples: number;
  private readonly step: number; // input samples per output sample
  private readonly halfTaps: number;
  private readonly table: Float32Array; // [PHASES + 1][2*halfTaps]
  private readonly buffer = new IndexedBuffer(1, { capacityRows: 8192 });
  private received = 0;
  private produced = 0;
  private readonly passthrough: boolean;

  constructor(readonly inputRate: number) {
    this.passthrough = inputRate === ANALYSIS_RATE;
    this.step = inputRate / ANALYSIS_RATE;
    const cutoff = 0.92 * Math.min(1, ANALYSIS_RATE / inputRate); // fraction of input Nyquist
    this.halfTaps = this.passthrough ? 0 : Math.ceil(ZERO_CROSSINGS / cutoff);
    this.lookaheadInputSamples = this.halfTaps;
    const taps = 2 * this.halfTaps;
    this.table = new Float32Array((PHASES + 1) * Math.max(taps, 1));
    if (!this.passthrough) {
      const i0Beta = besselI0(KAISER_BETA);
      for (let p = 0; p <= PHASES; p++) {
        const frac = p / PHASES;
        for (let t = 0; t < taps; t++) {
          // tap t covers input sample floor(x) - halfTaps + 1 + t; distance from x:
          const d = t - this.halfTaps + 1 - frac;
          const r = d / (this.halfTaps + 1);
          const window = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta;
          const arg = Math.PI * cutoff * d;
          const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
          this.table[p * taps + t] = cutoff * sinc * window;
        }
      }
    }
  }

  /** Appends input; returns the 16 kHz samples that no later input can change. */
  process(chunk: Float32Array): Float32Array {
    if (this.passthrough) {
      this.received += chunk.length;
      this.produced += chunk.length;
      return chunk.slice();
    }
    this.buffer.push(chunk);
    this.received += chunk.length;
    return this.produce(this.received);
  }

  /** Ends the input (zeros after it) and returns the rest: round(n * 16000 / rate) samples in all. */
  flush(): Float32Array {
    if (this.passthrough) return new Float32Array(0);
    const total = Math.round((this.received * ANALYSIS_RATE) / this.inputRate);
    return this.produce(Infinity, total);
  }

  /** Produces outputs m while floor(m*step) + halfTaps < limitExclusive (and m < total). */
  private produce(limitExclusive: number, total = Infinity): Float32Array {
    const taps = 2 * this.halfTaps;
    const out: number[] = [];
    const held = this.buffer.view();
    const heldStart = this.buffer.base;
    for (;;) {
      const m = this.produced;
      if (m >= total) break;
      const x = m * this.step;
      const base = Math.floor(x);
      if (base + this.halfTaps >= limitExclusive) break;
      const phase = Math.round((x - base) * PHASES);
      const row = phase * taps;
      let acc = 0;
      const first = base - this.halfTaps + 1;
      for (let t = 0; t < taps; t++) {
        const k = first + t - heldStart;
        if (k < 0 || k >= held.length) continue;
        acc += held[k]! * this.table[row + t]!;
      }
      out.push(acc);
      this.produced++;
    }
    // Drop input no future output needs.
    const nextFirst = Math.floor(this.produced * this.step) - this.halfTaps + 1;
    this.buffer.trimBefore(nextFirst, 4096);
    return Float32Array.from(out);
  }
}
