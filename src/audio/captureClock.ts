// When each captured sample was taken, from the times its chunks reached JavaScript: the capture side's
// counterpart of PlayoutClock (devices.ts). A device records at its sample rate, so sample j of the
// stream was taken at originMs + j / rate; a chunk ending at sample j reaches us at that time plus a
// transport delay (the device's period, the sound server's buffer, PortAudio's and naudiodon's queues,
// an event loop busy converting) that is never negative and varies from chunk to chunk. The smallest
// (arrival − j / rate) seen is therefore the closest estimate of the origin; a short sliding window (a
// second) lets it follow a device clock that drifts from the system's and a stream that lost samples
// (the sound server drops what a starved reader does not take: that is loss, not lateness).
// `svc live` adds the mean lateness of its chunks to the latency it reports: audio waiting to be read
// delays the voice like any buffer, and no buffer level shows it.

/** Sliding-window minimum of (arrival − samples before it / rate), in ms on performance.now()'s timeline. */
export class CaptureClock {
  private samples = 0;
  /** The first chunk: when it came and its end (samples), the reference of aheadOfRealTime. */
  private first: { atMs: number; samples: number } | null = null;
  /** Candidates for the window's minimum, increasing offsets, oldest first (a monotonic deque). */
  private readonly window: Array<{ atMs: number; originMs: number }> = [];

  /** `windowMs`: how long an early arrival keeps setting the origin (device drift, lost samples). */
  constructor(
    readonly sampleRate: number,
    readonly windowMs = 1000,
  ) {}

  /** Samples received so far (the index the next chunk starts at). */
  get receivedSamples(): number {
    return this.samples;
  }

  /**
   * Notes a chunk of `samples` (frames) that arrived at `nowMs`; returns how late it came, ms: its delay
   * beyond the earliest in the window (a busy event loop, chunks piling up in naudiodon's queue).
   */
  arrived(samples: number, nowMs = performance.now()): number {
    this.samples += samples;
    this.first ??= { atMs: nowMs, samples: this.samples };
    const originMs = nowMs - (this.samples * 1000) / this.sampleRate;
    while (this.window.length > 0 && this.window.at(-1)!.originMs >= originMs) this.window.pop();
    this.window.push({ atMs: nowMs, originMs });
    while (this.window.length > 1 && this.window[0]!.atMs < nowMs - this.windowMs) this.window.shift();
    return originMs - this.window[0]!.originMs;
  }

  /**
   * How much audio came after the first chunk against the wall-clock time since it came (audioMs, wallMs),
   * and by how far the first runs ahead (aheadMs): about 0 for a device with a clock, far above it for one
   * without (a virtual device that delivers as fast as it is read). Null before the first chunk.
   */
  aheadOfRealTime(nowMs = performance.now()): { audioMs: number; wallMs: number; aheadMs: number } | null {
    if (this.first === null) return null;
    const audioMs = ((this.samples - this.first.samples) * 1000) / this.sampleRate;
    const wallMs = nowMs - this.first.atMs;
    return { audioMs, wallMs, aheadMs: audioMs - wallMs };
  }

  /** Notes `samples` the device recorded that never arrived (a chunk lost to an overflow). */
  lost(samples: number): void {
    this.samples += samples;
  }

  /** When sample 0 was taken (ms, performance.now()), or null before any chunk arrived. */
  get originMs(): number | null {
    return this.window[0]?.originMs ?? null;
  }

  /** When sample `index` was taken (ms, performance.now()), or null before any chunk arrived. */
  timeOf(index: number): number | null {
    const origin = this.originMs;
    return origin === null ? null : origin + (index * 1000) / this.sampleRate;
  }
}
