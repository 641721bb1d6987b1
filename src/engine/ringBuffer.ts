// Fixed-capacity FIFO of Float32 samples: the bounded queue between the network and the converter.
// Writing never allocates; a write that does not fit is refused (the caller applies its policy first).

export class Float32RingBuffer {
  private readonly data: Float32Array;
  private readIndex = 0;
  private length = 0;

  constructor(readonly capacitySamples: number) {
    if (!Number.isInteger(capacitySamples) || capacitySamples <= 0) {
      throw new RangeError(`ring buffer capacity must be a positive integer, got ${capacitySamples}`);
    }
    this.data = new Float32Array(capacitySamples);
  }

  /** Samples waiting to be read. */
  get availableSamples(): number {
    return this.length;
  }

  /** Room left before the buffer is full. */
  get freeSamples(): number {
    return this.capacitySamples - this.length;
  }

  /** Appends all of `samples`; throws if they do not fit (check `freeSamples` first). */
  write(samples: Float32Array): void {
    if (samples.length > this.freeSamples) {
      throw new RangeError(`ring buffer overflow: ${samples.length} samples into ${this.freeSamples} free`);
    }
    const cap = this.capacitySamples;
    let writeIndex = (this.readIndex + this.length) % cap;
    let offset = 0;
    while (offset < samples.length) {
      const run = Math.min(samples.length - offset, cap - writeIndex);
      this.data.set(samples.subarray(offset, offset + run), writeIndex);
      offset += run;
      writeIndex = (writeIndex + run) % cap;
    }
    this.length += samples.length;
  }

  /** Removes the oldest `out.length` samples into `out`; throws if fewer are available. */
  readInto(out: Float32Array): void {
    this.copyOldest(out);
    this.discard(out.length);
  }

  /** Copies the oldest `out.length` samples into `out` without removing them. */
  copyOldest(out: Float32Array): void {
    if (out.length > this.length) throw new RangeError(`ring buffer underflow: want ${out.length}, have ${this.length}`);
    const cap = this.capacitySamples;
    let index = this.readIndex;
    let offset = 0;
    while (offset < out.length) {
      const run = Math.min(out.length - offset, cap - index);
      out.set(this.data.subarray(index, index + run), offset);
      offset += run;
      index = (index + run) % cap;
    }
  }

  /** Drops the oldest `count` samples (at most what is there); returns how many were dropped. */
  discard(count: number): number {
    const dropped = Math.min(count, this.length);
    this.readIndex = (this.readIndex + dropped) % this.capacitySamples;
    this.length -= dropped;
    return dropped;
  }

  clear(): void {
    this.readIndex = 0;
    this.length = 0;
  }
}
