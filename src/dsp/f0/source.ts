// The contract between the streaming wrapper (stream.ts) and each analyser: 16 kHz audio in,
// frames on the analyser's own grid out (frame j centred at 16 kHz sample j*hop + centreOffset).
import type { NativeFrame } from './types.js';

export interface NativeSource {
  /** Native hop in 16 kHz samples. */
  readonly hop: number;
  /** Centre of native frame 0, in 16 kHz samples. */
  readonly centreOffset: number;
  /** 16 kHz samples needed after a frame's centre before that frame is final (fixed latency). */
  readonly lookahead: number;
  push(samples16k: Float32Array): void;
  /**
   * Resolves the frames that became final. With `final` the input has ended: the source pads
   * zeros and emits every frame whose centre is ≤ endCentre (16 kHz samples).
   */
  frames(final: boolean, endCentre?: number): Promise<NativeFrame[]>;
  dispose(): void | Promise<void>;
}

/** Growable Float32 buffer with an absolute start index (for sources that trim old audio). */
export class SampleBuffer {
  data = new Float32Array(0);
  /** Absolute index of data[0]. */
  start = 0;

  constructor(start = 0) {
    this.start = start;
  }

  get end(): number {
    return this.start + this.data.length;
  }

  append(samples: Float32Array): void {
    if (samples.length === 0) return;
    const merged = new Float32Array(this.data.length + samples.length);
    merged.set(this.data);
    merged.set(samples, this.data.length);
    this.data = merged;
  }

  /** Copy of absolute range [from, to), zeros outside the stored samples. */
  slice(from: number, to: number): Float32Array {
    const out = new Float32Array(Math.max(0, to - from));
    const a = Math.max(from, this.start);
    const b = Math.min(to, this.end);
    if (b > a) out.set(this.data.subarray(a - this.start, b - this.start), a - from);
    return out;
  }

  /** Forgets samples before absolute index `from` (keeps at least what is after it). */
  dropBefore(from: number): void {
    const n = Math.min(this.data.length, from - this.start);
    if (n > 16384) {
      this.data = this.data.slice(n);
      this.start += n;
    }
  }
}
