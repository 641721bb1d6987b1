// The server's plain HTTP side: GET /metrics (Prometheus, token-protected when the server has one),
// /health, /api/models (the voices a client may choose; token-protected), /api/limits (the voice parameters'
// ranges, VOICE_LIMITS: the web page's sliders take theirs from here), the web client's static files
// (/ → index.html, /obs → obs.html, other files by path, nothing outside webRoot or hidden), and 426 on
// /ws for non-WebSocket requests. Every request's Host is checked first (DNS rebinding, see access.ts).
import { createReadStream, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, normalize, resolve, sep } from 'node:path';
import type { ModelListEntry, ModelListResponse } from '../stream/protocol.js';
import { DSP_CONTROLS, VOICE_LIMITS } from '../voices/stage.js';
import type { AccessPolicy } from './access.js';
import { clientText, logStack, logText } from './errors.js';
import type { ServerMetrics } from './metrics.js';

const MIME_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wav': 'audio/wav',
};

export interface HttpContext {
  access: AccessPolicy;
  metrics: ServerMetrics;
  webRoot: string;
  modelName: string;
  listModels?: () => ModelListEntry[];
  /** A voice's default block once known (the built-in voice's always; a model's after its first load). */
  blockMsOf?: (name: string) => number | undefined;
  health(): object;
  log(line: string): void;
}

const TEXT = 'text/plain; charset=utf-8';

export function createHttpHandler(ctx: HttpContext): (req: IncomingMessage, res: ServerResponse) => void {
  const webRoot = resolve(ctx.webRoot);
  return (req, res) => {
    handle(req, res).catch((error: unknown) => {
      ctx.log(`HTTP ${req.method} ${req.url} failed: ${logStack(error)}`);
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': TEXT });
      res.end('internal error\n');
    });
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!ctx.access.hostAllowed(req)) {
      res.writeHead(421, { 'Content-Type': TEXT }).end('this server answers to localhost names only (start it with --allow-host NAME or --token to serve other names)\n');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': TEXT }).end('method not allowed\n');
      return;
    }
    const body = (status: number, type: string, text: string): void => void res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' }).end(req.method === 'HEAD' ? undefined : text);
    const json = (status: number, value: object): void => body(status, 'application/json; charset=utf-8', JSON.stringify(value));
    const authorized = () => ctx.access.tokenMatches(ctx.access.requestToken(req, url));
    const unauthorized = (): void => json(401, { error: 'UNAUTHORIZED', message: 'this server needs a token (?token= in the URL or an Authorization: Bearer header)' });
    switch (url.pathname) {
      case '/metrics':
        if (!authorized()) return unauthorized();
        body(200, ctx.metrics.contentType, await ctx.metrics.text());
        return;
      case '/health':
        json(200, ctx.health());
        return;
      case '/api/limits':
        // Public like the page itself: ranges the protocol enforces, no server state.
        json(200, { voice: VOICE_LIMITS });
        return;
      case '/api/models':
        if (!authorized()) return unauthorized();
        serveModelList(json);
        return;
      case '/ws':
        res.writeHead(426, { 'Content-Type': TEXT, Upgrade: 'websocket' }).end('this endpoint speaks WebSocket (protocol v1, see docs/protocol.md)\n');
        return;
    }
    serveStatic(url.pathname, req, res);
  }

  /** {"default", "models": [builtin, installed...]}. */
  function serveModelList(json: (status: number, value: object) => void): void {
    const builtin: ModelListEntry = { name: 'builtin', builtin: true, speakers: [], sampleRate: null, speechEncoder: null, controls: [...DSP_CONTROLS] };
    let installed: ModelListEntry[];
    try {
      installed = (ctx.listModels?.() ?? []).filter((m) => m.name !== 'builtin');
    } catch (error) {
      ctx.log(`listing models failed: ${logText(error)}`);
      json(500, { error: 'INTERNAL', message: `could not list the installed models: ${clientText(error)}` });
      return;
    }
    const withBlock = (m: ModelListEntry): ModelListEntry => {
      const blockMs = ctx.blockMsOf?.(m.name);
      return blockMs === undefined ? m : { ...m, blockMs };
    };
    const body: ModelListResponse = { default: ctx.modelName, models: [builtin, ...installed.map((m) => (m.error === undefined ? m : { ...m, error: clientText(m.error) }))].map(withBlock) };
    json(200, body);
  }

  function serveStatic(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    const notFound = (): void => void res.writeHead(404, { 'Content-Type': TEXT }).end('not found\n');
    let relative: string;
    try {
      relative = decodeURIComponent(pathname);
    } catch {
      return notFound();
    }
    if (relative === '/' || relative === '') relative = '/index.html';
    else if (relative === '/obs' || relative === '/obs/') relative = '/obs.html';
    if (relative.includes('\0')) return notFound();
    // Resolve inside webRoot and refuse anything that escapes it (../, encoded or not) or is hidden.
    const file = resolve(webRoot, '.' + normalize('/' + relative));
    if (file !== webRoot && !file.startsWith(webRoot + sep)) return notFound();
    if (file.slice(webRoot.length).split(sep).some((part) => part.startsWith('.'))) return notFound();
    let size: number;
    try {
      const st = statSync(file);
      if (!st.isFile()) return notFound();
      size = st.size;
    } catch {
      return notFound();
    }
    const type = MIME_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = createReadStream(file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }
}
