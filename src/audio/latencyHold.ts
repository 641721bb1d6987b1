// Holding a stream's delay at a target (`svc live --latency-ms`): for each block about to go to the
// output, the caller measures the delay its first sample will have (capture clock to device clock,
// sample by sample) and asks how many frames of silence to put before it (the delay is short: a slow
// start, input that came in late) or to cut from its start (long: the device ran slower than real time,
// an underrun). Inside ±toleranceMs nothing is done, and a correction goes all the way to the target,
// so noise smaller than the tolerance never moves the delay and the delay never swings between limits.
// Delay is added rather than varied: streamers sync the voice to video.

export interface LatencyHoldCounters {
  /** Silences inserted, and their total, ms. */
  pads: number;
  padMs: number;
  /** Cuts, and their total, ms. */
  drops: number;
  dropMs: number;
}

export class LatencyHold {
  readonly counters: LatencyHoldCounters = { pads: 0, padMs: 0, drops: 0, dropMs: 0 };
  private heldSum = 0;
  private heldCount = 0;
  private lastHeldMs: number | null = null;

  constructor(
    readonly targetMs: number,
    readonly sampleRate: number,
    readonly toleranceMs = 10,
  ) {}

  /**
   * Frames to insert (> 0) before a block of `blockFrames` whose first sample would be `delayMs` late, or
   * to cut from its start (< 0; never more than the block); 0 within the tolerance.
   */
  correct(delayMs: number, blockFrames: number): number {
    const errorMs = delayMs - this.targetMs;
    let frames = 0;
    if (errorMs < -this.toleranceMs) {
      frames = Math.round((-errorMs * this.sampleRate) / 1000);
      this.counters.pads++;
      this.counters.padMs += (frames * 1000) / this.sampleRate;
    } else if (errorMs > this.toleranceMs) {
      frames = -Math.min(blockFrames, Math.round((errorMs * this.sampleRate) / 1000));
      this.counters.drops++;
      this.counters.dropMs -= (frames * 1000) / this.sampleRate;
    }
    this.heldSum += delayMs + (frames * 1000) / this.sampleRate;
    this.heldCount++;
    return frames;
  }

  /** Mean delay of the blocks since the last call, after corrections (the last mean when none came). */
  heldMs(): number | null {
    if (this.heldCount > 0) this.lastHeldMs = this.heldSum / this.heldCount;
    this.heldSum = 0;
    this.heldCount = 0;
    return this.lastHeldMs;
  }
}
