// Frame volume (RMS) exactly as so-vits-svc 4.1's Volume_Extractor computes it: for n samples at
// hop h there are floor(n/h) frames; x² is reflect-padded by floor(h/2) before (and ceil(h/2)
// after, never reached with floor(n/h) frames), so frame k is sqrt(mean(x²)) over original
// samples [k·h − floor(h/2), k·h + ceil(h/2)), i.e. centred at sample k·h, with samples before 0
// mirrored (x[−j] = x[j]). The streaming class emits frame k once sample k·h + ceil(h/2) − 1 has
// arrived: a fixed latency of ceil(h/2) samples after the frame centre.
import { SvcError } from '../errors.js';

function checkHop(hopSamples: number): void {
  if (!Number.isInteger(hopSamples) || hopSamples < 2) {
    throw new SvcError('INVALID_ARGUMENT', `volume hop must be a whole number of samples ≥ 2, got ${hopSamples}`);
  }
}

/** RMS volume per hop of a whole signal (so-vits-svc 4.1 Volume_Extractor). */
export function volumeRms(samples: Float32Array, hopSamples: number): Float32Array {
  const stream = new VolumeStream(hopSamples);
  const out = stream.process(samples);
  stream.dispose();
  // so-vits-svc keeps floor(n/h) frames; the stream may already have one more.
  return out.slice(0, Math.floor(samples.length / hopSamples));
}

/** Streaming RMS volume: `process(chunk)` returns the frames completed by the chunk. */
export class VolumeStream {
  /** Samples after a frame's centre before it is emitted. */
  readonly latencySamples: number;
  private readonly before: number;
  private readonly after: number;
  private received = 0;
  private nextFrame = 0;
  /** The first `before + 1` samples (for the mirrored start) and a rolling tail. */
  private head: number[] = [];
  private tail = new Float32Array(0);
  private tailStart = 0;

  constructor(readonly hopSamples: number) {
    checkHop(hopSamples);
    this.before = Math.floor(hopSamples / 2);
    this.after = hopSamples - this.before;
    this.latencySamples = this.after;
  }

  process(chunk: Float32Array): Float32Array {
    for (let i = 0; i < chunk.length && this.head.length <= this.before; i++) this.head.push(chunk[i]!);
    const merged = new Float32Array(this.tail.length + chunk.length);
    merged.set(this.tail);
    merged.set(chunk, this.tail.length);
    this.tail = merged;
    this.received += chunk.length;
    const out: number[] = [];
    const hop = this.hopSamples;
    for (;;) {
      const k = this.nextFrame;
      const centre = k * hop;
      const end = centre + this.after; // exclusive
      if (end > this.received) break;
      let sum = 0;
      for (let s = centre - this.before; s < end; s++) {
        const v = s < 0 ? this.head[-s] ?? 0 : this.tail[s - this.tailStart]!;
        sum += v * v;
      }
      out.push(Math.sqrt(sum / hop));
      this.nextFrame++;
    }
    const keepFrom = this.nextFrame * hop - this.before;
    const drop = keepFrom - this.tailStart;
    if (drop > 8192) {
      this.tail = this.tail.slice(drop);
      this.tailStart += drop;
    }
    return Float32Array.from(out);
  }

  /**
   * Ends the stream. Frames are emitted as soon as their samples exist, so a stream of n samples
   * has emitted ceil((n − ceil(h/2) + 1)/h) frames; file mode (floor(n/h) frames) drops any frame
   * k with (k+1)·h > n. Returns nothing new; kept for a uniform streaming interface.
   */
  flush(): Float32Array {
    return new Float32Array(0);
  }

  dispose(): void {
    this.tail = new Float32Array(0);
    this.head = [];
  }
}

/** RMS of a window in dBFS (−120 floor). */
export function rmsDecibels(window: Float32Array, from = 0, to = window.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += window[i]! * window[i]!;
  const rms = Math.sqrt(sum / Math.max(1, to - from));
  return rms > 1e-6 ? 20 * Math.log10(rms) : -120;
}
