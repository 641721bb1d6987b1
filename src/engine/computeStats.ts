// Compute time per block: a fixed window of the most recent timings for mean and p95, plus the
// all-time maximum. Bounded memory whatever the session length.

export interface ComputeSummary {
  /** Blocks timed since the start. */
  count: number;
  meanMs: number;
  /** Median of the recent window: the typical block (never above p95; the mean can be, after a few slow blocks). */
  medianMs: number;
  p95Ms: number;
  maxMs: number;
  lastMs: number;
}

export class ComputeTimes {
  private readonly recentMs: Float64Array;
  private filled = 0;
  private next = 0;
  private count = 0;
  private maxMs = 0;
  private lastMs = 0;
  private totalMs = 0;

  constructor(windowSize = 512) {
    this.recentMs = new Float64Array(windowSize);
  }

  add(durationMs: number): void {
    this.recentMs[this.next] = durationMs;
    this.next = (this.next + 1) % this.recentMs.length;
    this.filled = Math.min(this.filled + 1, this.recentMs.length);
    this.count++;
    this.totalMs += durationMs;
    this.lastMs = durationMs;
    if (durationMs > this.maxMs) this.maxMs = durationMs;
  }

  /** Blocks timed since the start and their total time in ms (cheap: for per-block histograms). */
  get totals(): { count: number; totalMs: number } {
    return { count: this.count, totalMs: this.totalMs };
  }

  /** Sum of all timings since the start, in ms (for CPU-per-session figures). */
  get totalComputeMs(): number {
    return this.totalMs;
  }

  summary(): ComputeSummary {
    if (this.filled === 0) return { count: 0, meanMs: 0, medianMs: 0, p95Ms: 0, maxMs: 0, lastMs: 0 };
    const recent = Array.from(this.recentMs.subarray(0, this.filled)).sort((a, b) => a - b);
    const mean = recent.reduce((s, x) => s + x, 0) / recent.length;
    const p95 = recent[Math.min(recent.length - 1, Math.ceil(0.95 * recent.length) - 1)];
    const median = recent[Math.ceil(0.5 * recent.length) - 1];
    return { count: this.count, meanMs: mean, medianMs: median, p95Ms: p95, maxMs: this.maxMs, lastMs: this.lastMs };
  }
}
