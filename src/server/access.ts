// Who may talk to the server: the shared token (compared in constant time), the Host header (DNS
// rebinding: without a token only loopback names and --allow-host names are served, so a page on
// evil.example that rebinds its name to 127.0.0.1 gets nothing), and the browser Origin of WebSocket
// upgrades, and which address a client has (its socket's, or the one a trusted reverse proxy put in
// X-Forwarded-For: --trust-proxy). docs/protocol.md, *Threat model*, says what each guards against.
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { SvcError } from '../errors.js';

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
  /** Reverse proxies whose X-Forwarded-For is believed (TrustedProxies.parse). Default: none. */
  trustProxy?: readonly string[];
}

export class AccessPolicy {
  private readonly token: Buffer | undefined;
  private readonly allowHosts: Set<string>;
  private readonly allowOrigins: Set<string>;
  private readonly proxies: TrustedProxies;

  constructor(options: AccessOptions) {
    this.token = options.token === undefined ? undefined : Buffer.from(options.token, 'utf8');
    this.allowHosts = new Set((options.allowHosts ?? []).map((h) => h.toLowerCase()));
    this.allowOrigins = new Set(options.allowOrigins ?? []);
    this.proxies = TrustedProxies.parse(options.trustProxy ?? []);
  }

  /** The address per-address budgets count a request against (see TrustedProxies.clientAddress). */
  clientAddress(req: IncomingMessage): string {
    return this.proxies.clientAddress(req.socket.remoteAddress ?? 'unknown', req.headers['x-forwarded-for']);
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

/** Most X-Forwarded-For entries read from the right; a longer chain counts as coming from the last one read. */
const MAX_FORWARDED_HOPS = 16;

/**
 * The reverse proxies (nginx, HAProxy) whose X-Forwarded-For the server believes, from `--trust-proxy`:
 * CIDR blocks ("10.0.0.0/8", "fd00::/8"), single addresses, or "loopback" (127.0.0.0/8 and ::1). Behind
 * a proxy every client arrives from the proxy's address, so without this one address's pending cap is
 * shared by everyone; with it, anyone could claim any address, so only the listed proxies are believed.
 */
export class TrustedProxies {
  private constructor(
    private readonly list: BlockList | null,
    readonly specs: readonly string[],
  ) {}

  /** Parses the --trust-proxy values; a value that is not an address, a CIDR block or "loopback" is an INVALID_ARGUMENT. */
  static parse(specs: readonly string[]): TrustedProxies {
    if (specs.length === 0) return new TrustedProxies(null, []);
    const list = new BlockList();
    for (const spec of specs) {
      if (spec.trim().toLowerCase() === 'loopback') {
        list.addSubnet('127.0.0.0', 8, 'ipv4');
        list.addSubnet('::1', 128, 'ipv6');
        continue;
      }
      const match = /^\s*\[?([^\]/\s]+)\]?(?:\/(\d{1,3}))?\s*$/.exec(spec);
      const family = match ? isIP(match[1]!) : 0;
      const prefix = match?.[2] === undefined ? (family === 6 ? 128 : 32) : Number(match[2]);
      if (!match || family === 0 || prefix > (family === 6 ? 128 : 32)) {
        throw new SvcError('INVALID_ARGUMENT', `--trust-proxy expects CIDR blocks, addresses or "loopback", got ${JSON.stringify(spec)}`, {
          hint: 'e.g. --trust-proxy loopback, --trust-proxy 10.0.0.0/8 or --trust-proxy 192.168.1.5',
        });
      }
      list.addSubnet(match[1]!, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
    return new TrustedProxies(list, specs);
  }

  /** True when `address` (as a socket reports it; IPv4-mapped IPv6 included) is a trusted proxy. */
  trusts(address: string): boolean {
    if (!this.list) return false;
    const family = isIP(address);
    return family !== 0 && this.list.check(address, family === 6 ? 'ipv6' : 'ipv4');
  }

  /**
   * The client's address: the socket's, unless the socket is a trusted proxy; then X-Forwarded-For is
   * read from the right (each proxy appends the address it was reached from) and the first entry that is
   * not itself a trusted proxy is the client. Entries left of it were written by the client and are never
   * believed. An entry that is not an address ends the walk at the last trusted hop.
   */
  clientAddress(socketAddress: string, forwardedFor: string | string[] | undefined): string {
    if (!this.trusts(socketAddress) || forwardedFor === undefined) return socketAddress;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let address = socketAddress;
    for (let i = hops.length - 1, read = 0; i >= 0 && read < MAX_FORWARDED_HOPS; i--, read++) {
      const hop = forwardedAddress(hops[i]!);
      if (hop === null) return address;
      address = hop;
      if (!this.trusts(hop)) return hop;
    }
    return address;
  }
}

/** One X-Forwarded-For entry as an address ("1.2.3.4", "1.2.3.4:5678", "[::1]:80", "::1"), or null. */
function forwardedAddress(entry: string): string | null {
  const text = entry.trim();
  if (isIP(text)) return text;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(text);
  if (bracketed && isIP(bracketed[1]!) === 6) return bracketed[1]!;
  const withPort = /^([\d.]+):\d+$/.exec(text);
  if (withPort && isIP(withPort[1]!) === 4) return withPort[1]!;
  return null;
}
