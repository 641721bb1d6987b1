// Which address a client has (svc serve --trust-proxy, issue 16): behind a reverse proxy every client
// arrives from the proxy, so the per-address pending cap would be shared by all of them; with the proxy
// trusted, X-Forwarded-For names the client, read from the right so that what a client writes into the
// header itself is never believed, and nobody else's X-Forwarded-For is believed at all.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import WebSocket from 'ws';
import { TrustedProxies } from '../src/server/access.js';
import { startServer, type SvcServer } from '../src/server/server.js';
import { SvcError } from '../src/errors.js';

test('TrustedProxies: CIDR blocks, single addresses, loopback, IPv4-mapped IPv6', () => {
  const proxies = TrustedProxies.parse(['10.0.0.0/8', '192.168.1.5', 'fd00::/8', 'loopback']);
  for (const a of ['10.1.2.3', '192.168.1.5', 'fd12::1', '127.0.0.1', '127.9.9.9', '::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1']) assert.ok(proxies.trusts(a), a);
  for (const a of ['11.0.0.1', '192.168.1.6', 'fe80::1', '8.8.8.8', 'unknown', '']) assert.not.ok(proxies.trusts(a), a);
  assert.not.ok(TrustedProxies.parse([]).trusts('127.0.0.1'), 'nothing is trusted by default');
});

test('TrustedProxies: bad values are INVALID_ARGUMENT naming the value and the accepted forms', () => {
  for (const bad of ['10.0.0.0/33', 'fd00::/129', 'example.org', '10.0.0/8', 'loopbacks', '']) {
    try {
      TrustedProxies.parse([bad]);
      assert.unreachable(`${bad} was accepted`);
    } catch (error) {
      assert.instance(error, SvcError, bad);
      assert.is((error as SvcError).code, 'INVALID_ARGUMENT');
      assert.match((error as SvcError).message, JSON.stringify(bad));
      assert.match((error as SvcError).toUserString(), /--trust-proxy loopback/);
    }
  }
});

test('clientAddress: only a trusted socket\'s X-Forwarded-For counts, read from the right past trusted hops', () => {
  const proxies = TrustedProxies.parse(['loopback', '10.0.0.0/8']);
  // nginx on loopback appended the address it was reached from.
  assert.is(proxies.clientAddress('127.0.0.1', '203.0.113.7'), '203.0.113.7');
  // Two trusted proxies (a load balancer on 10/8 in front of nginx), ports and brackets tolerated.
  assert.is(proxies.clientAddress('127.0.0.1', '198.51.100.2:5555, 10.0.0.4'), '198.51.100.2');
  assert.is(proxies.clientAddress('::1', '[2001:db8::9]:443'), '2001:db8::9');
  // What the client wrote left of the entry its proxy appended is never believed.
  assert.is(proxies.clientAddress('127.0.0.1', '1.1.1.1, 6.6.6.6, 203.0.113.7'), '203.0.113.7');
  // Two header lines are one list.
  assert.is(proxies.clientAddress('127.0.0.1', ['9.9.9.9', '203.0.113.8']), '203.0.113.8');
  // Everything trusted: the left-most hop read is the best there is.
  assert.is(proxies.clientAddress('127.0.0.1', '10.0.0.9, 127.0.0.1'), '10.0.0.9');
  // Garbage where an address belongs: counted against the last trusted hop, not a made-up name.
  assert.is(proxies.clientAddress('127.0.0.1', 'evil, 10.0.0.5'), '10.0.0.5');
  assert.is(proxies.clientAddress('127.0.0.1', 'not-an-address'), '127.0.0.1');
  // No header, or an untrusted socket: the socket's address, whatever the header says.
  assert.is(proxies.clientAddress('127.0.0.1', undefined), '127.0.0.1');
  assert.is(proxies.clientAddress('203.0.113.50', '10.0.0.1'), '203.0.113.50');
  assert.is(TrustedProxies.parse([]).clientAddress('127.0.0.1', '203.0.113.7'), '127.0.0.1');
});

/** A connection that never says hello, as if forwarded for `forwardedFor`; resolves its close code (0 while open). */
function idleFrom(server: SvcServer, forwardedFor: string): { ws: WebSocket; opened: Promise<void>; code: () => number } {
  const ws = new WebSocket(`${server.url.replace(/^http/, 'ws')}/ws`, { headers: { 'X-Forwarded-For': forwardedFor } });
  let code = 0;
  ws.on('close', (c) => (code = c));
  ws.on('error', () => {});
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  return { ws, opened, code: () => code };
}

async function closedWithin(conn: { code: () => number }, ms: number): Promise<number> {
  for (let t = 0; t < ms && conn.code() === 0; t += 20) await new Promise((r) => setTimeout(r, 20));
  return conn.code();
}

test('a server trusting loopback proxies caps pending connections per forwarded client, not per proxy', async () => {
  const server = await startServer({ port: 0, maxPendingPerAddress: 2, trustProxy: ['loopback'] });
  const conns: Array<ReturnType<typeof idleFrom>> = [];
  try {
    const open = async (xff: string) => {
      const c = idleFrom(server, xff);
      conns.push(c);
      await c.opened;
      return c;
    };
    const a1 = await open('203.0.113.1');
    const a2 = await open('203.0.113.1');
    const b1 = await open('203.0.113.2');
    // A spoofed entry left of the proxy's: still 203.0.113.2.
    const b2 = await open('203.0.113.1, 203.0.113.2');
    await new Promise((r) => setTimeout(r, 200));
    assert.is(server.sessionCounts().pending, 4, 'two clients behind one proxy each have their own cap');
    for (const c of [a1, a2, b1, b2]) assert.is(c.code(), 0);
    // A third from 203.0.113.1 displaces that client's oldest, and nobody else's.
    const a3 = await open('203.0.113.1');
    assert.is(await closedWithin(a1, 5000), 1013, 'the oldest of 203.0.113.1 makes room');
    for (const c of [a2, b1, b2, a3]) assert.is(c.code(), 0);
  } finally {
    for (const c of conns) c.ws.terminate();
    await server.close();
  }
});

test('without --trust-proxy a client\'s X-Forwarded-For is ignored: every claimed address shares the socket\'s cap', async () => {
  const server = await startServer({ port: 0, maxPendingPerAddress: 2 });
  const conns: Array<ReturnType<typeof idleFrom>> = [];
  try {
    for (const xff of ['203.0.113.1', '203.0.113.2', '203.0.113.3']) {
      const c = idleFrom(server, xff);
      conns.push(c);
      await c.opened;
    }
    assert.is(await closedWithin(conns[0]!, 5000), 1013);
    assert.is(server.sessionCounts().pending, 2);
  } finally {
    for (const c of conns) c.ws.terminate();
    await server.close();
  }
});

test.run();
