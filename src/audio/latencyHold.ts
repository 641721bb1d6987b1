// Holding a stream's delay at a target (`svc live --latency-ms`): for each block about to go to the
// output, the caller measures the delay its first sample will have (capture clock to device clock,
// sample by sample) and asks how many frames of silence to put before it (the delay is short: a slow
// start, input that came in late) or to cut from its start (long: the device ran slower than real time,
// an underrun). It decides on the median of the last few blocks' delays, so a one-block spike (an event
// loop that ran late once on a loaded machine) moves nothing; inside ±toleranceMs nothing is done, and
// a correction goes all the way to the target, so the delay never swings between limits. (Deciding on
// each block alone, at load 7 it padded and cut 3.8 s in 14 s while the delay measured stayed put.)
// Delay is added rather than varied: streamers sync the voice to video.
// Corrections wait for a quiet block (a pause between words, QuietDetector): silence added to or cut
// from a pause is not heard, while a cut or a gap inside a word is. Only a delay that stays off for
// longer than `maxDeferMs`, or drifts further than `hardToleranceMs`, is corrected inside the voice, and
// then with short fades (fadeOutTail / fadeInHead) rather than a hard splice.

export interface LatencyHoldCounters {
  /** Silences inserted, and their total, ms. */
  pads: number;
  padMs: number;
  /** Cuts, and their total, ms. */
  drops: number;
  dropMs: number;
  /** Corrections made inside the voice (no quiet block came in time): the ones a listener may hear. */
  inVoice: number;
}

export class LatencyHold {
  readonly counters: LatencyHoldCounters = { pads: 0, padMs: 0, drops: 0, dropMs: 0, inVoice: 0 };
  /** The delay held, ms: fixed, or raised by AutoLatencyTarget (raiseTarget). */
  targetMs: number;
  /** The next correction is made at once, quiet or not (the target rose after the device ran dry). */
  private urgent = false;
  private heldSum = 0;
  private heldCount = 0;
  private lastHeldMs: number | null = null;
  /** The last blocks' delays, ms, as corrected since. */
  private readonly recentMs: number[] = [];
  /** How long a needed correction has waited for a quiet block, ms. */
  private waitedMs = 0;

  constructor(
    targetMs: number,
    readonly sampleRate: number,
    /** Half the dead band. At load 4, 20 ms halved the corrections of 10 ms (64 against 140 in 14 s). */
    readonly toleranceMs = 20,
    /** Blocks whose median delay decides. */
    readonly medianOf = 5,
    /** Longest a correction waits for a quiet block, ms (speech pauses come every 1–3 s). */
    readonly maxDeferMs = 2000,
    /** An error beyond this is corrected at once, quiet or not, ms. */
    readonly hardToleranceMs = Math.max(60, 3 * toleranceMs),
  ) {
    this.targetMs = targetMs;
  }

  /**
   * A higher target. `urgent`: padded to with the next block whatever its level, for a rise right after
   * the device ran dry (a gap was heard already; waiting for a pause would leave the queue short
   * meanwhile); else like any correction, in a pause when one comes in time.
   */
  raiseTarget(targetMs: number, urgent = true): void {
    if (targetMs <= this.targetMs) return;
    this.targetMs = targetMs;
    this.urgent = urgent;
  }

  /**
   * Frames to insert (> 0) or cut (< 0; never more than the block) for a block of `blockFrames` whose
   * first sample would be `delayMs` late; 0 within the tolerance, and 0 while a correction waits for a
   * `quiet` block (at most maxDeferMs, and not beyond hardToleranceMs). The caller puts the silence or
   * the cut at the block's end (after fading it out) or, before anything was played, at its start.
   */
  correct(delayMs: number, blockFrames: number, quiet = true): number {
    this.recentMs.push(delayMs);
    if (this.recentMs.length > this.medianOf) this.recentMs.shift();
    const sorted = [...this.recentMs].sort((a, b) => a - b);
    const errorMs = sorted[sorted.length >> 1]! - this.targetMs;
    let frames = 0;
    const needed = Math.abs(errorMs) > this.toleranceMs || (this.urgent && errorMs < 0);
    const urgent = this.urgent;
    this.urgent = false;
    if (!needed) this.waitedMs = 0;
    else if (!quiet && !urgent && Math.abs(errorMs) <= this.hardToleranceMs && this.waitedMs < this.maxDeferMs) {
      this.waitedMs += (blockFrames * 1000) / this.sampleRate;
      this.heldSum += delayMs;
      this.heldCount++;
      return 0;
    }
    if (needed) {
      if (!quiet) this.counters.inVoice++;
      this.waitedMs = 0;
    }
    if (errorMs < -this.toleranceMs || (urgent && errorMs < 0)) {
      frames = Math.round((-errorMs * this.sampleRate) / 1000);
      this.counters.pads++;
      this.counters.padMs += (frames * 1000) / this.sampleRate;
    } else if (errorMs > this.toleranceMs) {
      frames = -Math.min(blockFrames, Math.round((errorMs * this.sampleRate) / 1000));
      this.counters.drops++;
      this.counters.dropMs -= (frames * 1000) / this.sampleRate;
    }
    // What was decided moves every remembered delay alike: the blocks after this one are that much later.
    const correctionMs = (frames * 1000) / this.sampleRate;
    for (let i = 0; i < this.recentMs.length; i++) this.recentMs[i]! += correctionMs;
    this.heldSum += delayMs + correctionMs;
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

/**
 * `svc live`'s default target (`--latency-ms auto`): it starts at what the voice and the devices need on
 * paper and rises by `stepMs` when the output device keeps running dry, never falling, up to `maxMs`.
 * Repeated dry runs mean the queue ahead of the device is shorter than its scheduling needs; on
 * PulseAudio (ALSA's pulse plugin) that need is far above the paper floor, since the sound server's own
 * request size sets it: with the DSP voice the floor said 87–96 ms while holds at 130 / 150 / 170 ms ran
 * dry 132 / 67 / 27 times in 14 s and 200 ms none. After a dry run PulseAudio plays on from later audio,
 * so a fixed short target both crackles and over-reports. A single dry run is a hiccup (a compute spike of
 * a neural voice, the machine's load: the small model at a held 400 ms still had 2 in 14 s), and a rise
 * for each would creep the delay up over a long session: it takes `underflowsToRise` within `windowMs`,
 * counted afresh after each rise.
 */
export class AutoLatencyTarget {
  targetMs: number;
  raises = 0;
  private seenUnderflows = 0;
  /** When the dry runs since the last rise happened, ms. */
  private readonly recentMs: number[] = [];

  constructor(
    startMs: number,
    readonly stepMs = 50,
    readonly maxMs = startMs + 500,
    readonly underflowsToRise = 2,
    readonly windowMs = 3000,
  ) {
    this.targetMs = startMs;
  }

  /** The new target when the device ran dry often enough (`underflows`: its running count, read at `nowMs`); else null. */
  update(underflows: number, nowMs: number): number | null {
    for (let i = this.seenUnderflows; i < underflows; i++) this.recentMs.push(nowMs);
    this.seenUnderflows = Math.max(this.seenUnderflows, underflows);
    while (this.recentMs.length && nowMs - this.recentMs[0]! > this.windowMs) this.recentMs.shift();
    if (this.recentMs.length < this.underflowsToRise || this.targetMs >= this.maxMs) return null;
    this.recentMs.length = 0;
    this.raises++;
    this.targetMs = Math.min(this.maxMs, this.targetMs + this.stepMs);
    return this.targetMs;
  }

  /** At least `floorMs` (the floor measured once audio flows); the new target, or null when it was already. */
  atLeast(floorMs: number): number | null {
    if (floorMs <= this.targetMs) return null;
    this.targetMs = Math.min(this.maxMs, Math.ceil(floorMs));
    return this.targetMs;
  }
}

/**
 * Whether an output block is a pause: its RMS level more than `belowPeakDb` under the loudest block of
 * the last seconds (that peak falls by `decayDbPerSecond`), or under `floorDb` dBFS. Relative, so a
 * microphone's noise floor between words counts as quiet whatever the gain.
 */
export class QuietDetector {
  private peakDb = -Infinity;
  constructor(
    readonly sampleRate: number,
    readonly belowPeakDb = 25,
    readonly floorDb = -55,
    readonly decayDbPerSecond = 10,
  ) {}

  /** Classifies `block` (mono samples) and updates the running peak. */
  isQuiet(block: Float32Array): boolean {
    let energy = 0;
    for (let i = 0; i < block.length; i++) energy += block[i]! * block[i]!;
    const levelDb = 10 * Math.log10(energy / Math.max(1, block.length) + 1e-12);
    this.peakDb = Math.max(levelDb, this.peakDb - (this.decayDbPerSecond * block.length) / this.sampleRate);
    return levelDb < this.floorDb || levelDb < this.peakDb - this.belowPeakDb;
  }
}

/** Hold corrections' fades, ms: short enough to keep the timing, long enough that a splice does not click. */
export const HOLD_FADE_MS = 5;

/** `block` with its last `fadeFrames` samples faded out (raised cosine, in place). */
export function fadeOutTail<T extends Float32Array>(block: T, fadeFrames: number): T {
  const n = Math.min(fadeFrames, block.length);
  for (let i = 0; i < n; i++) block[block.length - n + i]! *= 0.5 + 0.5 * Math.cos((Math.PI * (i + 1)) / (n + 1));
  return block;
}

/** `block` with its first `fadeFrames` samples faded in (raised cosine, in place). */
export function fadeInHead<T extends Float32Array>(block: T, fadeFrames: number): T {
  const n = Math.min(fadeFrames, block.length);
  for (let i = 0; i < n; i++) block[i]! *= 0.5 - 0.5 * Math.cos((Math.PI * (i + 1)) / (n + 1));
  return block;
}

/**
 * The smallest delay a hold can keep, ms: the time a block takes from capture to the output queue, plus
 * the device's own output latency (`beforeQueueMs`), plus one block of output queue (what the device's
 * period and naudiodon's queue take at a time), plus the hold's dead band (it lets the delay sink that far
 * below the target before padding). Before audio flows, `beforeQueueMs` is what is known: the voice's
 * block and signal delay, the devices' nominal latency and the compute per block (p95, timed at start).
 * Once it flows it is measured per block (svc live: the p90, without the band): that includes the input's bursts (audio that arrives
 * late has that much less queue ahead of it) and compute under the machine's load. A target below this
 * cannot be held: the output queue runs dry, each underflow adds delay and the hold cuts it again (at
 * --latency-ms 200, when the input came in 85 ms chunks: 45 underflows and 0.7 s cut in 14 s).
 */
export function latencyFloorMs(p: { beforeQueueMs: number; blockMs: number; toleranceMs: number }): number {
  return p.beforeQueueMs + p.blockMs + p.toleranceMs;
}

/** A percentile of the last `keep` values (a ring; sorted on demand, rarely). */
export class RecentPercentile {
  private readonly values: number[] = [];
  constructor(readonly keep = 500) {}

  add(value: number): void {
    this.values.push(value);
    if (this.values.length > this.keep) this.values.shift();
  }

  get count(): number {
    return this.values.length;
  }

  /** The `q` quantile (0..1, nearest rank), or null before any value. */
  at(q: number): number | null {
    if (this.values.length === 0) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  }
}
