// The server's table of running sessions: each converting session with the connection that owns it and
// the listeners following it (at most maxListenersPerSession), and the session count the maxSessions
// limit applies to. Session ids are 128 random bits: knowing one is what lets a client listen.
import { randomBytes } from 'node:crypto';
import type { ConvertSession } from '../stream/session.js';

export function newSessionId(): string {
  return randomBytes(16).toString('hex');
}

interface Entry<C> {
  session: ConvertSession;
  owner: C;
  listeners: Set<C>;
}

export class SessionTable<C> {
  private readonly entries = new Map<string, Entry<C>>();
  private listening = 0;

  constructor(
    readonly maxSessions: number,
    readonly maxListenersPerSession: number,
  ) {}

  /** Converting sessions plus listeners (what maxSessions limits). */
  get total(): number {
    return this.entries.size + this.listening;
  }
  get converting(): number {
    return this.entries.size;
  }
  get listeners(): number {
    return this.listening;
  }
  get full(): boolean {
    return this.total >= this.maxSessions;
  }

  add(session: ConvertSession, owner: C): void {
    this.entries.set(session.id, { session, owner, listeners: new Set() });
  }

  get(id: string): ConvertSession | undefined {
    return this.entries.get(id)?.session;
  }

  /** Adds a listener; 'unknown' when no such session runs, 'full' at the per-session cap. */
  follow(id: string, listener: C): ConvertSession | 'unknown' | 'full' {
    const entry = this.entries.get(id);
    if (!entry) return 'unknown';
    if (entry.listeners.size >= this.maxListenersPerSession) return 'full';
    entry.listeners.add(listener);
    this.listening++;
    return entry.session;
  }

  unfollow(id: string, listener: C): void {
    const entry = this.entries.get(id);
    if (entry?.listeners.delete(listener)) this.listening--;
  }

  listenersOf(id: string): C[] {
    return [...(this.entries.get(id)?.listeners ?? [])];
  }

  /** Removes a session; returns the listeners that were following it (the caller tells them). */
  remove(id: string): C[] {
    const entry = this.entries.get(id);
    if (!entry) return [];
    this.entries.delete(id);
    this.listening -= entry.listeners.size;
    return [...entry.listeners];
  }

  *all(): Iterable<{ session: ConvertSession; listeners: number }> {
    for (const e of this.entries.values()) yield { session: e.session, listeners: e.listeners.size };
  }
}
