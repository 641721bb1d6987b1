// OBS listen-only page: /obs?session=ID[&token=T][&server=host:port][&buffer=MS][&status=0][&bg=black]
// Joins a running conversion session with role "listen" and plays its converted voice. Used as an
// OBS Browser Source with "Control audio via OBS" so the voice becomes an OBS audio source.
// Reconnects with back-off when the server or the session goes away (e.g. while the sender restarts).
import { SvcConnection, serverUrl } from './connection.js';
import { AudioEngine } from './audio-engine.js';

const params = new URLSearchParams(location.search);
const sessionId = params.get('session') ?? '';
const token = params.get('token') ?? '';
const server = params.get('server') ?? '';
const bufferMs = Math.max(10, Math.min(500, Number(params.get('buffer')) || 60));
const statusEl = document.getElementById('status');
const startButton = document.getElementById('start');
if (params.get('status') === '0') statusEl.classList.add('hidden');
if (params.get('bg') === 'black') document.body.classList.add('black');

/** Numbers for scripts/tests, like the main page's window.svcStats. */
const stats = { state: 'starting', sessionId, receivedSamples: 0, receivedFrames: 0, outputRms: 0, underruns: 0, droppedSamples: 0, sampleRate: 0, errors: [] };
window.svcStats = stats;

/** Keeps the last 20 errors only: an OBS source may retry for hours. */
function noteError(text) {
  stats.errors.push(text);
  if (stats.errors.length > 20) stats.errors.splice(0, stats.errors.length - 20);
}

function setStatus(state, text) {
  stats.state = state;
  statusEl.className = `${state === 'live' ? 'live' : state === 'error' ? 'error' : ''} ${statusEl.classList.contains('hidden') ? 'hidden' : ''}`.trim();
  statusEl.textContent = text;
}

let engine = null;
let retryMs = 1000;
let energy = 0;
let energyCount = 0;

async function ensureAudio() {
  if (engine) return engine;
  engine = new AudioEngine();
  let ctx = await engine.open();
  if (![8000, 16000, 22050, 24000, 32000, 44100, 48000].includes(ctx.sampleRate)) {
    await engine.close();
    engine = new AudioEngine();
    ctx = await engine.open({ sampleRate: 48000 });
  }
  stats.sampleRate = ctx.sampleRate;
  engine.startPlayback({
    targetMs: bufferMs,
    // Bounded; the worklet grows it to hold the target plus two of the largest frames (the session's
    // block), and trims back to the target after bursts.
    maxMs: bufferMs + 150,
    onStatus: (s) => {
      stats.underruns = s.underruns;
      stats.droppedSamples = s.droppedSamples;
      stats.capacityMs = (s.capacitySamples / engine.sampleRate) * 1000;
    },
  });
  if (ctx.state === 'suspended') {
    // Normal browsers need a click before audio may play (OBS does not).
    startButton.style.display = 'flex';
    await new Promise((resolve) => startButton.addEventListener('click', resolve, { once: true }));
    startButton.style.display = 'none';
    await ctx.resume();
  }
  return engine;
}

async function run() {
  if (!sessionId) {
    setStatus('error', 'no session: add ?session=ID (copy the OBS URL from the svc page)');
    return;
  }
  try {
    await ensureAudio();
  } catch (error) {
    setStatus('error', `audio unavailable: ${error.message}`);
    return;
  }
  setStatus('connecting', 'connecting…');
  const connection = new SvcConnection();
  connection.on('audio', (samples) => {
    stats.receivedSamples += samples.length;
    stats.receivedFrames++;
    for (let i = 0; i < samples.length; i++) energy += samples[i] * samples[i];
    energyCount += samples.length;
    engine.play(samples);
  });
  connection.on('error', (error) => {
    noteError(`${error.code}: ${error.message}`);
    if (error.fatal) setStatus('error', `${error.code}: ${error.message}`);
  });
  const closed = new Promise((resolve) => connection.on('close', resolve));
  const hello = { type: 'hello', version: 1, role: 'listen', listen: sessionId, sampleRate: engine.sampleRate, format: 'f32', channels: 1 };
  if (token) hello.token = token;
  try {
    await connection.connect(serverUrl(server, token), hello);
    retryMs = 1000;
    setStatus('live', `listening to ${sessionId}`);
    const close = await closed;
    setStatus('connecting', `session ended (code ${close.code}); reconnecting…`);
  } catch (error) {
    noteError(`${error.code}: ${error.message}`);
    setStatus('error', `${error.code === 'UNKNOWN_SESSION' ? 'waiting for session' : error.code}: ${error.message}`);
    if (error.code === 'UNAUTHORIZED') return; // a wrong token will not fix itself
  }
  setTimeout(run, retryMs);
  retryMs = Math.min(15000, retryMs * 2);
}

setInterval(() => {
  if (energyCount > 0) stats.outputRms = Math.sqrt(energy / energyCount);
  energy = 0;
  energyCount = 0;
}, 1000);

run();
