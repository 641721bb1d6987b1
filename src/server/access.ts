// Who may talk to the server: the shared token (compared in constant time), the Host header (DNS
// rebinding: without a token only loopback names and --allow-host names are served, so a page on
// evil.example that rebinds its name to 127.0.0.1 gets nothing), and the browser Origin of WebSocket
// upgrades. docs/protocol.md, *Threat model*, says what each guards against.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/** Interface names that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost') || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The host name of a Host header without its port ("[::1]:8080" → "[::1]", "a.b:80" → "a.b"). */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon < 0 ? h : h.slice(0, colon);
}

export interface AccessOptions {
  token?: string;
  /** Host names (without port) served besides loopback names when there is no token. */
  allowHosts?: readonly string[];
  /** Browser origins allowed besides the server's own pages ("*" = any). */
  allowOrigins?: readonly string[];
}

export class AccessPolicy {
  private readonly token: Buffer | undefined;
  private readonly allowHosts: Set<string>;
  private readonly allowOrigins: Set<string>;

  constructor(options: AccessOptions) {
    this.token = options.token === undefined ? undefined : Buffer.from(options.token, 'utf8');
    this.allowHosts = new Set((options.allowHosts ?? []).map((h) => h.toLowerCase()));
    this.allowOrigins = new Set(options.allowOrigins ?? []);
  }

  get hasToken(): boolean {
    return this.token !== undefined;
  }

  /** True when the server has no token or `candidate` is it. */
  tokenMatches(candidate: string | null | undefined): boolean {
    if (this.token === undefined) return true;
    if (candidate === undefined || candidate === null) return false;
    const given = Buffer.from(candidate, 'utf8');
    return given.length === this.token.length && timingSafeEqual(given, this.token);
  }

  /** The token of an HTTP request: ?token= or Authorization: Bearer. */
  requestToken(req: IncomingMessage, url: URL): string | undefined {
    return url.searchParams.get('token') ?? /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
  }

  /**
   * Whether a request's Host may be served. With a token every Host is (the token is the guard); without
   * one only loopback names and the --allow-host names, so a rebound DNS name cannot reach the server.
   */
  hostAllowed(req: IncomingMessage): boolean {
    if (this.token !== undefined) return true;
    const header = req.headers.host;
    if (header === undefined) return true; // HTTP/1.0 clients on this machine; browsers always send Host
    const name = hostName(header);
    return isLoopbackHost(name) || this.allowHosts.has(name) || this.allowHosts.has(name.replace(/^\[(.*)\]$/, '$1'));
  }

  /** Browsers always send Origin on WebSocket upgrades; the server's own pages (same host) are allowed. */
  originAllowed(req: IncomingMessage): boolean {
    const origin = req.headers.origin;
    if (origin === undefined) return true;
    if (this.allowOrigins.has('*') || this.allowOrigins.has(origin)) return true;
    try {
      return new URL(origin).host === req.headers.host;
    } catch {
      return false;
    }
  }
}
