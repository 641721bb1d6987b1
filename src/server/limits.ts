// Rate and count budgets the server holds every client to: token buckets (messages per second, audio
// seconds per second, model switches) and per-address caps on connections still waiting for their hello.
// Pure bookkeeping with an injectable clock, so each budget is tested without timers.

/** Milliseconds from a monotonic clock. */
export type Clock = () => number;
export const monotonicMs: Clock = () => performance.now();

/**
 * A token bucket: `ratePerSecond` units refill every second up to `capacity` (the burst). take(n) spends n
 * units when that many are there and reports whether it could.
 */
export class TokenBucket {
  private tokens: number;
  private updatedMs: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    private readonly clock: Clock = monotonicMs,
  ) {
    if (!(ratePerSecond > 0) || !(capacity > 0)) throw new RangeError(`a token bucket needs a positive rate and capacity, got ${ratePerSecond}/s and ${capacity}`);
    this.tokens = capacity;
    this.updatedMs = clock();
  }

  take(units = 1): boolean {
    const now = this.clock();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.updatedMs) / 1000) * this.ratePerSecond);
    this.updatedMs = now;
    if (this.tokens < units) return false;
    this.tokens -= units;
    return true;
  }
}

/**
 * Connections that have not said hello yet, per remote address and in total, oldest first. When an
 * address is at its cap (or the server at its total), admitting a newcomer evicts the oldest pending
 * connection of that address (else the oldest overall): real clients say hello within milliseconds, so
 * the oldest pending one is idle, and idle connections can never lock out a new client, token holder or
 * not, from this address or another.
 */
export class PendingGate<T> {
  private readonly byAddress = new Map<string, Set<T>>();
  private readonly all = new Map<T, string>();

  constructor(
    readonly perAddress: number,
    readonly total: number,
  ) {
    if (!(perAddress >= 1) || !(total >= perAddress)) throw new RangeError(`pending caps must be 1 ≤ per address ≤ total, got ${perAddress} and ${total}`);
  }

  /** Admits `item` from `address`; returns the pending item it displaces (the caller closes it), if any. */
  admit(address: string, item: T): { evicted: T; reason: 'address' | 'total' } | null {
    let evicted: { evicted: T; reason: 'address' | 'total' } | null = null;
    const mine = this.byAddress.get(address);
    if (mine && mine.size >= this.perAddress) evicted = { evicted: mine.values().next().value as T, reason: 'address' };
    else if (this.all.size >= this.total) evicted = { evicted: this.all.keys().next().value as T, reason: 'total' };
    if (evicted) this.release(evicted.evicted);
    let set = this.byAddress.get(address);
    if (!set) this.byAddress.set(address, (set = new Set()));
    set.add(item);
    this.all.set(item, address);
    return evicted;
  }

  /** Forgets `item` (it said hello or closed); unknown items are ignored. */
  release(item: T): void {
    const address = this.all.get(item);
    if (address === undefined) return;
    this.all.delete(item);
    const set = this.byAddress.get(address)!;
    set.delete(item);
    if (set.size === 0) this.byAddress.delete(address);
  }

  get size(): number {
    return this.all.size;
  }
}

/** A notice at most once per second (e.g. RATE_LIMITED), so a flood is not answered by a flood. */
export class NoticeThrottle {
  private lastMs = -Infinity;
  constructor(private readonly clock: Clock = monotonicMs) {}
  due(): boolean {
    const now = this.clock();
    if (now - this.lastMs < 1000) return false;
    this.lastMs = now;
    return true;
  }
}
