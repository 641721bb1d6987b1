// The svc streaming protocol (v1) from the browser: one WebSocket to /ws, a JSON `hello`
// answered by `ready`, then binary frames of interleaved samples both ways plus JSON control
// messages (set, model, stats, ping/pong, error). Shared by the main page and the OBS page.

/** HTTP URL of `path` on this page's server (or `server` = "host:port"), with the token in the query. */
export function httpUrl(server, path, token) {
  const host = server && server.trim() ? server.trim().replace(/^(wss?|https?):\/\//, '').replace(/\/.*$/, '') : location.host;
  const url = new URL(`${location.protocol === 'https:' ? 'https' : 'http'}://${host}${path}`);
  if (token) url.searchParams.set('token', token);
  return url.toString();
}

/** WebSocket URL (/ws) for this page's server (or `server` = "host:port"), with the token in the query. */
export function serverUrl(server, token) {
  return httpUrl(server, '/ws', token).replace(/^http/, 'ws');
}

/**
 * The voices the server offers (GET /api/models): {default, models: [{name, builtin, speakers,
 * sampleRate, speechEncoder, controls, error?}]}. Rejects with the server's reason.
 */
export async function fetchModels(server, token) {
  const response = await fetch(httpUrl(server, '/api/models', token), { cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new SvcClientError(body.error ?? `HTTP_${response.status}`, body.message ?? `GET /api/models answered HTTP ${response.status}`, false);
  return body;
}

/** The voice parameters' ranges the server enforces (GET /api/limits): {voice: {pitch: {min, max}, formant: {min, max}}}. */
export async function fetchLimits(server) {
  const response = await fetch(httpUrl(server, '/api/limits'), { cache: 'no-store' });
  if (!response.ok) throw new SvcClientError(`HTTP_${response.status}`, `GET /api/limits answered HTTP ${response.status}`, false);
  return response.json();
}

/** A protocol-level failure with the server's code (e.g. AUTH_FAILED) when there is one. */
export class SvcClientError extends Error {
  constructor(code, message, fatal = true) {
    super(message);
    this.code = code;
    this.fatal = fatal;
  }
}

/**
 * One streaming session. Events (via `on(name, fn)`): 'audio' (Float32Array of interleaved samples),
 * 'stats' (server stats message), 'voice' (voice message), 'model' (model switched: {name, controls,
 * latency}; `ready.model`/`ready.latency` are updated first), 'pong' (round trip ms), 'error'
 * (SvcClientError, fatal or not), 'close' ({code, reason, wasClean}).
 */
export class SvcConnection {
  constructor() {
    this.socket = null;
    this.ready = null;
    this.format = 'f32';
    this.handlers = new Map();
    this.pingTimer = null;
    this.rttMs = null;
    this.closedByUser = false;
  }

  on(event, fn) {
    if (!this.handlers.has(event)) this.handlers.set(event, []);
    this.handlers.get(event).push(fn);
    return this;
  }

  emit(event, value) {
    for (const fn of this.handlers.get(event) ?? []) {
      try {
        fn(value);
      } catch (error) {
        console.error(`svc: ${event} handler failed`, error);
      }
    }
  }

  /**
   * Opens the socket, sends `hello`, resolves with the `ready` message. Rejects with an SvcClientError
   * if the server refuses (error message or close before ready) or nothing answers in `timeoutMs`.
   */
  connect(url, hello, timeoutMs = 10000) {
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          this.socket?.close();
        } catch {}
        reject(error);
      };
      const timer = setTimeout(
        () => fail(new SvcClientError('TIMEOUT', `the server did not answer within ${timeoutMs / 1000} s (${url.replace(/token=[^&]*/, 'token=…')})`)),
        timeoutMs,
      );
      let socket;
      try {
        socket = new WebSocket(url);
      } catch (error) {
        fail(new SvcClientError('BAD_URL', `cannot open ${url}: ${error.message}`));
        return;
      }
      socket.binaryType = 'arraybuffer';
      this.socket = socket;
      this.format = hello.format ?? 'f32';
      socket.onopen = () => socket.send(JSON.stringify(hello));
      socket.onmessage = (event) => {
        if (typeof event.data !== 'string') {
          if (settled) this.emit('audio', this.decode(event.data));
          return;
        }
        let message;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        if (!settled) {
          if (message.type === 'ready') {
            settled = true;
            clearTimeout(timer);
            this.ready = message;
            this.format = message.format ?? this.format;
            this.startPings();
            resolve(message);
          } else if (message.type === 'error') {
            fail(new SvcClientError(message.code ?? 'ERROR', message.message ?? 'the server refused the session', true));
          }
          return;
        }
        this.onControl(message);
      };
      socket.onerror = () => {
        // Browsers hide the reason; the close event that follows carries the code.
      };
      socket.onclose = (event) => {
        this.stopPings();
        if (!settled) {
          const why = event.reason ? `: ${event.reason}` : event.code === 1006 ? ' (is `svc serve` running, and is the address right?)' : '';
          fail(new SvcClientError('CONNECT_FAILED', `could not connect to ${url.replace(/token=[^&]*/, 'token=…')} (WebSocket closed with code ${event.code}${why})`));
          return;
        }
        this.emit('close', { code: event.code, reason: event.reason, wasClean: event.wasClean, byUser: this.closedByUser });
      };
    });
  }

  onControl(message) {
    switch (message.type) {
      case 'stats':
        this.emit('stats', message);
        break;
      case 'voice':
        this.emit('voice', message);
        break;
      case 'model':
        if (this.ready) {
          this.ready.model = message.name;
          if (message.latency) this.ready.latency = message.latency;
          if (message.blockSamples) this.ready.blockSamples = message.blockSamples;
          if (message.controls) this.ready.controls = message.controls;
        }
        this.emit('model', message);
        break;
      case 'pong':
        if (typeof message.t === 'number') {
          this.rttMs = performance.now() - message.t;
          this.emit('pong', this.rttMs);
        }
        break;
      case 'error':
        this.emit('error', new SvcClientError(message.code ?? 'ERROR', message.message ?? 'server error', Boolean(message.fatal)));
        break;
      default:
        this.emit('message', message);
    }
  }

  decode(buffer) {
    if (this.format === 's16') {
      const ints = new Int16Array(buffer);
      const out = new Float32Array(ints.length);
      for (let i = 0; i < ints.length; i++) out[i] = ints[i] / 32768;
      return out;
    }
    return new Float32Array(buffer);
  }

  /** Sends interleaved float samples in the negotiated format. Returns false if the socket is not open. */
  sendAudio(samples) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    // Back-pressure: if the socket cannot keep up, drop this block instead of queueing seconds of audio.
    if (this.socket.bufferedAmount > 256 * 1024) return false;
    if (this.format === 's16') {
      const ints = new Int16Array(samples.length);
      for (let i = 0; i < samples.length; i++) ints[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))); // svc's PCM16 convention (src/audio/pcm16.ts)
      this.socket.send(ints.buffer);
    } else {
      this.socket.send(samples.buffer.byteLength === samples.byteLength ? samples.buffer : samples.slice().buffer);
    }
    return true;
  }

  send(message) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  setVoice(voice) {
    this.send({ type: 'set', voice });
  }

  /** Asks for another voice ("builtin", NAME or NAME:SPEAKER); the answer is a 'model' or an 'error' event. */
  setModel(name) {
    this.send({ type: 'model', name });
  }

  startPings(intervalMs = 1000) {
    this.stopPings();
    const ping = () => this.send({ type: 'ping', t: performance.now() });
    ping();
    this.pingTimer = setInterval(ping, intervalMs);
  }

  stopPings() {
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.pingTimer = null;
  }

  close() {
    this.closedByUser = true;
    this.stopPings();
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, 'client disconnect');
  }
}
