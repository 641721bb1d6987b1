// History on an absolute index: row k of a stream stays row k however much was dropped before it. The
// streaming analysers (f0 sources, the 16 kHz resampler) and the So-VITS feature timeline keep their
// audio, frames and content rows in it. Rows are `width` floats wide (1 for samples and frames).

export class IndexedBuffer {
  private data: Float32Array;
  /** Absolute index of the first held row. */
  base: number;
  /** Rows held. */
  length = 0;

  constructor(readonly width = 1, options: { capacityRows?: number; base?: number } = {}) {
    this.data = new Float32Array(Math.max(1, options.capacityRows ?? 1024) * width);
    this.base = options.base ?? 0;
  }

  /** Absolute index one past the last held row. */
  get end(): number {
    return this.base + this.length;
  }

  /** Appends rows (values.length must be a multiple of width); grows by doubling. */
  push(values: ArrayLike<number>): void {
    const count = values.length / this.width;
    if (count === 0) return;
    const need = (this.length + count) * this.width;
    if (need > this.data.length) {
      const grown = new Float32Array(Math.max(2 * this.data.length, need));
      grown.set(this.data.subarray(0, this.length * this.width));
      this.data = grown;
    }
    this.data.set(values, this.length * this.width);
    this.length += count;
  }

  /** Value of row k (width 1), or undefined when it is not held. */
  at(k: number): number | undefined {
    return k < this.base || k >= this.end ? undefined : this.data[(k - this.base) * this.width]!;
  }

  /** Row k (absolute) as a view, or undefined when it is not held. */
  row(k: number): Float32Array | undefined {
    if (k < this.base || k >= this.end) return undefined;
    const i = (k - this.base) * this.width;
    return this.data.subarray(i, i + this.width);
  }

  /** The held rows [base, end), row-major (a view, valid until the next push or trim). */
  view(): Float32Array {
    return this.data.subarray(0, this.length * this.width);
  }

  /** A copy of rows [from, to), zeros where nothing is held. */
  slice(from: number, to: number): Float32Array {
    const out = new Float32Array(Math.max(0, to - from) * this.width);
    const a = Math.max(from, this.base);
    const b = Math.min(to, this.end);
    if (b > a) out.set(this.data.subarray((a - this.base) * this.width, (b - this.base) * this.width), (a - from) * this.width);
    return out;
  }

  /** Keeps rows [base, end) only up to absolute index `end` (drops rows after it). */
  truncate(end: number): void {
    this.length = Math.max(0, Math.min(this.length, end - this.base));
  }

  /** Forgets the rows before absolute index k, when at least `atLeast` rows would go (amortises the copy). */
  trimBefore(k: number, atLeast = 1): void {
    const drop = Math.min(this.length, k - this.base);
    if (drop <= 0 || drop < atLeast) return;
    this.data.copyWithin(0, drop * this.width, this.length * this.width);
    this.length -= drop;
    this.base += drop;
  }
}
