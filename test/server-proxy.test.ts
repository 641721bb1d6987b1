// Scale-out (issue 16, point 7): two `svc serve` servers behind Debian's nginx, configured as
// docs/protocol.md (*Scaling out*) shows. Clients connect to the proxy only; their sessions spread over
// both servers and each converts its audio back whole.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { streamAudio } from '../src/stream/client.js';
import { startServer } from '../src/server/server.js';
import { sleep } from './stream-utils.js';

const NGINX = '/usr/sbin/nginx';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** nginx in the foreground with a config in `dir`, proxying port `listen` to the given upstream ports. */
function startNginx(dir: string, listen: number, upstreams: number[]): ChildProcess {
  for (const sub of ['body', 'proxy', 'logs']) mkdirSync(join(dir, sub), { recursive: true });
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/proxy;
  uwsgi_temp_path ${dir}/proxy;
  scgi_temp_path ${dir}/proxy;
  upstream svc { least_conn; ${upstreams.map((p) => `server 127.0.0.1:${p};`).join(' ')} }
  server {
    listen 127.0.0.1:${listen};
    location / {
      proxy_pass http://svc;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_read_timeout 1h;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function waitForHttp(url: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

test('two servers behind nginx: sessions spread over both and each converts its stream whole', async () => {
  assert.ok(existsSync(NGINX), `${NGINX} is missing: run scripts/setup.sh (Debian package nginx)`);
  const a = await startServer({ port: 0 });
  const b = await startServer({ port: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'svc-proxy-'));
  const proxyPort = await freePort();
  const nginx = startNginx(dir, proxyPort, [a.port, b.port]);
  let stderr = '';
  nginx.stderr!.on('data', (d) => (stderr += d));
  try {
    const proxy = `http://127.0.0.1:${proxyPort}`;
    await waitForHttp(`${proxy}/health`).catch((error: Error) => {
      throw new Error(`${error.message}; nginx said: ${stderr}`);
    });
    const rate = 16000;
    const tone = new Float32Array(rate).map((_, i) => 0.3 * Math.sin((2 * Math.PI * 200 * i) / rate));
    // Four concurrent file streams through the proxy (the DSP voice at pitch 0 keeps the tone).
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => streamAudio({ sampleRate: rate, channels: [tone] }, { url: proxy, voice: { pitch: 0 } })),
    );
    for (const r of results) {
      assert.is(r.audio.channels[0].length, tone.length);
      const energy = r.audio.channels[0].reduce((s, x) => s + x * x, 0) / tone.length;
      assert.ok(energy > 0.01, `converted audio came back (mean square ${energy})`);
    }
    const served = (await Promise.all([a, b].map(async (s) => (await s.metrics()).match(/^svc_connections_total (\d+)/m)?.[1]))).map(Number);
    assert.is(served[0] + served[1], 4, `connections per server: ${served}`);
    assert.ok(served[0] >= 1 && served[1] >= 1, `both servers took sessions: ${served}`);
  } finally {
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
    await a.close();
    await b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('behind nginx with --trust-proxy 127.0.0.1 (the proxy), the pending cap counts each client, not the proxy, and ignores what clients claim', async () => {
  // Only nginx's own address is trusted: the clients here are on loopback too (127.0.0.2, 127.0.0.3).
  const server = await startServer({ port: 0, trustProxy: ['127.0.0.1'], maxPendingPerAddress: 1 });
  const dir = mkdtempSync(join(tmpdir(), 'svc-proxy-'));
  const proxyPort = await freePort();
  const nginx = startNginx(dir, proxyPort, [server.port]);
  let stderr = '';
  nginx.stderr!.on('data', (d) => (stderr += d));
  const clients: WebSocket[] = [];
  /** A connection through nginx from a loopback source address that never says hello; resolves its close code. */
  const idle = async (localAddress: string, claim?: string) => {
    const ws = new WebSocket(`ws://127.0.0.1:${proxyPort}/ws`, { localAddress, headers: claim ? { 'X-Forwarded-For': claim } : {} });
    clients.push(ws);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    return { ws, closed };
  };
  try {
    await waitForHttp(`http://127.0.0.1:${proxyPort}/health`).catch((error: Error) => {
      throw new Error(`${error.message}; nginx said: ${stderr}`);
    });
    // Every connection reaches the server from nginx's 127.0.0.1; nginx names the client in X-Forwarded-For.
    const first = await idle('127.0.0.2');
    const other = await idle('127.0.0.3', '127.0.0.2'); // claims to be 127.0.0.2: nginx appends the truth
    await sleep(200);
    assert.is(server.sessionCounts().pending, 2, 'two clients, one pending connection each');
    const second = await idle('127.0.0.2');
    assert.is(await first.closed, 1013, "127.0.0.2's older connection makes room for its newer one");
    await sleep(200);
    assert.is(other.ws.readyState, WebSocket.OPEN, 'the client that claimed another address kept its own slot');
    assert.is(second.ws.readyState, WebSocket.OPEN);
  } finally {
    for (const ws of clients) ws.terminate();
    nginx.kill('SIGTERM');
    await new Promise((r) => nginx.once('exit', r));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
