// The main page: connect → microphone blocks go to the server as float32 frames, converted frames
// come back into the playback worklet; meters, spectrogram, latency parts, voice controls and the model
// selector (the built-in DSP voice and the models installed on the server, GET /api/models; neural models
// take the pitch only, so the formant slider is disabled for them; `?model=NAME[:SPEAKER]` picks one on
// connect).
// `window.svcStats` mirrors the numbers on screen for scripts and tests; with `?debug=1` the page also
// keeps the last 10 s of received audio (`window.svcDebug.receivedAudio()`).
import { SvcConnection, fetchLimits, fetchModels, serverUrl } from './connection.js';
import { AudioEngine } from './audio-engine.js';
import { LevelMeter, Spectrogram } from './visuals.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const DEBUG = params.has('debug');
// ?blockMs=N chooses the block; without it the server picks the voice's (20 ms for the built-in voice, a
// model's measured block), and a model switch brings the new voice's block.
const BLOCK_MS = Number(params.get('blockMs')) || null;
const SUPPORTED_RATES = [8000, 16000, 22050, 24000, 32000, 44100, 48000];
const STORAGE_KEY = 'svc.settings.v1';

const ui = {
  status: $('status'),
  connect: $('connect'),
  disconnect: $('disconnect'),
  server: $('server'),
  token: $('token'),
  inputDevice: $('input-device'),
  sessionId: $('session-id'),
  format: $('format'),
  engine: $('engine'),
  model: $('model'),
  modelStatus: $('model-status'),
  modelHint: $('model-hint'),
  modelLatency: $('model-latency'),
  obsUrl: $('obs-url'),
  copyObs: $('copy-obs'),
  pitch: $('pitch'),
  pitchValue: $('pitch-value'),
  formant: $('formant'),
  formantValue: $('formant-value'),
  monitor: $('monitor'),
  volume: $('volume'),
  volumeValue: $('volume-value'),
  jitter: $('jitter'),
  jitterValue: $('jitter-value'),
  sent: $('sent'),
  received: $('received'),
  underruns: $('underruns'),
  dropped: $('dropped'),
  latencyTotal: $('latency-total'),
};

const inputMeter = new LevelMeter($('meter-in'), $('meter-in-value'));
const outputMeter = new LevelMeter($('meter-out'), $('meter-out-value'));
const spectrogram = new Spectrogram($('spectrogram'), { axis: $('spec-axis') });

/** Everything a script or test may want to read; kept current while streaming. */
const stats = {
  state: 'idle',
  sessionId: null,
  sampleRate: 0,
  blockSamples: 0,
  sentSamples: 0,
  sentBlocks: 0,
  droppedSendBlocks: 0,
  receivedSamples: 0,
  receivedFrames: 0,
  inputRms: 0,
  /** RMS of the audio received from the server over about the last second. */
  outputRms: 0,
  playbackRms: 0,
  underruns: 0,
  /** Samples the jitter buffer dropped because it overflowed (bursts beyond its bound). */
  droppedSamples: 0,
  /** Samples skipped to bring a too-full jitter buffer back to its target delay. */
  trimmedSamples: 0,
  /** Times the microphone's FIFO was emptied after the audio thread stalled (audio dropped to keep the delay). */
  inputResets: 0,
  bufferedMs: 0,
  /** What audio arriving in the jitter buffer waits before it plays, ms (smoothed): its latency term. */
  jitterWaitMs: null,
  rttMs: null,
  voice: { pitch: 0, formant: 1 },
  /** The voice converting now (server-confirmed), what it honours, and a switch waiting for its answer. */
  model: null,
  controls: ['pitch', 'formant'],
  /** Voices the server offers: [{name, builtin, speakers, sampleRate, speechEncoder, controls, error?}]. */
  models: [],
  server: null,
  latency: null,
  /** Latency of the model converting now (`ready`/`model` message): its block sizes the jitter buffer. */
  modelLatency: null,
  /** Jitter buffer as configured ({targetMs, maxMs, blockMs}) and as the worklet holds it (capacityMs). */
  jitter: null,
  errors: [],
};
window.svcStats = stats;

let connection = null;
let engine = null;
let receivedEnergy = 0;
let receivedEnergyCount = 0;
let statsTimer = null;

// ---- Debug capture of received audio (tests listen to what came back) ----
const debugSeconds = 10;
let debugRing = null;
let debugWrite = 0;
let debugFilled = 0;
function keepReceived(samples, rate) {
  if (!DEBUG) return;
  if (!debugRing || debugRing.length !== debugSeconds * rate) {
    debugRing = new Float32Array(debugSeconds * rate);
    debugWrite = 0;
    debugFilled = 0;
  }
  for (let i = 0; i < samples.length; i++) {
    debugRing[debugWrite] = samples[i];
    debugWrite = (debugWrite + 1) % debugRing.length;
  }
  debugFilled = Math.min(debugRing.length, debugFilled + samples.length);
}
window.svcDebug = {
  enabled: DEBUG,
  /** The last ≤10 s of received audio (mono), oldest first, as base64 float32 LE. */
  receivedAudio() {
    const out = new Float32Array(debugFilled);
    if (debugRing) {
      const start = (debugWrite - debugFilled + debugRing.length) % debugRing.length;
      for (let i = 0; i < debugFilled; i++) out[i] = debugRing[(start + i) % debugRing.length];
    }
    const bytes = new Uint8Array(out.buffer);
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return { sampleRate: stats.sampleRate, samples: out.length, base64: btoa(binary) };
  },
  clearReceived() {
    debugFilled = 0;
  },
};

// ---- UI helpers ----
function setStatus(state, text) {
  stats.state = state;
  ui.status.className = `status status-${state === 'live' ? 'live' : state === 'error' ? 'error' : state === 'idle' ? 'idle' : 'busy'}`;
  ui.status.textContent = text;
}

function showError(title, text) {
  $('error-title').textContent = title;
  $('error-text').textContent = text;
  $('error').hidden = false;
  stats.errors.push(`${title}: ${text}`);
  if (stats.errors.length > 20) stats.errors.splice(0, stats.errors.length - 20);
}

function hideError() {
  $('error').hidden = true;
}

function ms(value, digits = 1) {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${value.toFixed(digits)} ms`;
}

/**
 * The sliders' ranges come from the server that served this page (GET /api/limits, VOICE_LIMITS in
 * src/voices/stage.ts: the one definition the protocol enforces). Applied before the saved settings, so
 * a saved or linked value is not clamped to a range the page guessed.
 */
async function applyVoiceLimits() {
  try {
    const { voice } = await fetchLimits('');
    for (const [name, input] of [['pitch', ui.pitch], ['formant', ui.formant]]) {
      if (!voice?.[name]) continue;
      input.min = String(voice[name].min);
      input.max = String(voice[name].max);
    }
  } catch (error) {
    showError('Voice ranges unknown', `GET /api/limits failed (${error.message}): the sliders keep the browser's default range.`);
  }
}

function loadSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}');
    if (saved.server) ui.server.value = saved.server;
    if (typeof saved.pitch === 'number') ui.pitch.value = String(saved.pitch);
    if (typeof saved.formant === 'number') ui.formant.value = String(saved.formant);
    if (typeof saved.jitter === 'number') ui.jitter.value = String(saved.jitter);
  } catch {}
  // URL parameters win (handy for links and tests): ?token=…&pitch=…&formant=…
  if (params.has('token')) ui.token.value = params.get('token');
  if (params.has('pitch')) ui.pitch.value = params.get('pitch');
  if (params.has('formant')) ui.formant.value = params.get('formant');
  if (params.has('server')) ui.server.value = params.get('server');
}

function saveSettings() {
  try {
    localStorage.setItem(
      STORAGE_KEY,
      JSON.stringify({ server: ui.server.value, pitch: Number(ui.pitch.value), formant: Number(ui.formant.value), jitter: Number(ui.jitter.value) }),
    );
  } catch {}
}

function currentVoice() {
  return { pitch: Number(ui.pitch.value), formant: Number(ui.formant.value) };
}

function showVoice(voice) {
  ui.pitchValue.textContent = `${voice.pitch > 0 ? '+' : ''}${voice.pitch} st`;
  ui.formantValue.textContent = `${Number(voice.formant).toFixed(2)}×`;
}

/** The block the server converts in now, ms (changes with the model): audio arrives one block at a time. */
function currentBlockMs() {
  return stats.modelLatency?.blockMs ?? connection?.ready?.latency?.blockMs ?? BLOCK_MS ?? 20;
}

function jitterSettings(blockMs = currentBlockMs()) {
  const targetMs = Number(ui.jitter.value);
  // Bounded: at most target + one block + 150 ms is held (older audio is dropped): a whole block
  // must fit on top of the target, or every block of a 200 ms neural voice loses its start. The
  // worklet also trims a buffer that stays above its target for a second, so bursts do not leave
  // the delay high.
  const settings = { targetMs, maxMs: targetMs + blockMs + 150, blockMs };
  stats.jitter = settings;
  return settings;
}

async function listInputs() {
  try {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const chosen = ui.inputDevice.value;
    const inputs = devices.filter((d) => d.kind === 'audioinput' && d.deviceId !== 'default');
    ui.inputDevice.replaceChildren(new Option('Default microphone', ''));
    inputs.forEach((d, i) => ui.inputDevice.add(new Option(d.label || `Microphone ${i + 1}`, d.deviceId)));
    ui.inputDevice.value = chosen;
  } catch {}
}

// ---- Latency: the parts a user can reason about ----
function updateLatency() {
  const ready = connection?.ready;
  const server = stats.server;
  const rate = stats.sampleRate || 48000;
  // The wait for the page's own capture chunk to fill (what it sends at a time, fixed at connect). A
  // model's larger block (320 ms) fills in the server's queue and comes out whole into the jitter
  // buffer: those two levels hold it on average, so it is not counted a second time (that over-reported
  // a 320 ms model by one block against a click measured through Chromium).
  // Only while a session is live: a dead session's chunk must not stay on the page.
  const blockMs = !ready ? null : ((stats.blockSamples || ready.blockSamples) / rate) * 1000;
  const delayMs = server?.latency?.delayMs ?? ready?.latency?.delayMs ?? null;
  // The median, not the mean: one slow block (a model's first) lifts the mean above the p95 shown beside it.
  const computeMs = server?.latency?.computeMsMedian ?? server?.latency?.computeMsMean ?? null;
  const inputMs = engine?.inputLatencyMs ?? null;
  const rttMs = stats.rttMs;
  const jitterMs = stats.jitterWaitMs ?? stats.bufferedMs;
  const outputMs = engine ? engine.outputLatencyMs : null;
  // What waits in the server's queue adds to the delay like any buffer (a model near its limit holds some).
  const queueMs = server?.queueMs ?? null;
  // End to end: block + look-ahead and crossfade (delay) + compute + server queue + network + jitter
  // buffer + the browser's input and output latency — the figure a click through the page measures.
  const parts = { blockMs, inputMs, rttMs, algorithmicMs: delayMs, computeMs, queueMs, jitterMs, outputMs };
  const totalMs = Object.values(parts).reduce((sum, v) => sum + (typeof v === 'number' ? v : 0), 0);
  stats.latency = { ...parts, serverAlgorithmicMs: server?.latency?.algorithmicMs ?? ready?.latency?.algorithmicMs ?? null, computeMsP95: server?.latency?.computeMsP95 ?? null, totalMs };
  $('lat-block').textContent = ms(blockMs);
  $('lat-input').textContent = inputMs === null ? (engine ? 'n/a' : '—') : ms(inputMs);
  $('lat-rtt').textContent = ms(rttMs);
  $('lat-algo').textContent = ms(delayMs);
  $('lat-compute').textContent = ms(computeMs, 2);
  $('lat-p95').textContent = ms(server?.latency?.computeMsP95 ?? null, 2);
  $('lat-queue').textContent = ms(queueMs);
  $('lat-jitter').textContent = ms(jitterMs);
  $('lat-output').textContent = ms(outputMs);
  ui.latencyTotal.textContent = connection?.ready ? `≈ ${totalMs.toFixed(0)} ms` : '—';
}

function updateCounters() {
  const rate = stats.sampleRate || 48000;
  ui.sent.textContent = `${(stats.sentSamples / rate).toFixed(1)} s`;
  ui.received.textContent = `${(stats.receivedSamples / rate).toFixed(1)} s`;
  ui.underruns.textContent = String(stats.underruns);
  const droppedMs = (stats.droppedSamples / rate) * 1000;
  const trimmedMs = (stats.trimmedSamples / rate) * 1000;
  ui.dropped.textContent = trimmedMs > 0 ? `${droppedMs.toFixed(0)} ms · trimmed ${trimmedMs.toFixed(0)} ms` : `${droppedMs.toFixed(0)} ms`;
  stats.outputRms = receivedEnergyCount > 0 ? Math.sqrt(receivedEnergy / receivedEnergyCount) : stats.outputRms;
  receivedEnergy = 0;
  receivedEnergyCount = 0;
  engine?.sampleInputLatency();
  engine?.trimInputBacklog();
  stats.inputResets = engine?.inputResets ?? 0;
  updateLatency();
}

// ---- Connect / disconnect ----
async function connect() {
  hideError();
  ui.connect.disabled = true;
  setStatus('connecting', 'Starting audio…');
  saveSettings();
  try {
    engine = new AudioEngine();
    let ctx = await engine.open();
    if (!SUPPORTED_RATES.includes(ctx.sampleRate)) {
      // The server streams at 8–48 kHz; let the browser resample a 96 kHz device to 48 kHz.
      await engine.close();
      engine = new AudioEngine();
      ctx = await engine.open({ sampleRate: 48000 });
    }
    const rate = ctx.sampleRate;
    stats.sampleRate = rate;

    setStatus('connecting', 'Connecting…');
    connection = new SvcConnection();
    const token = ui.token.value.trim();
    const hello = { type: 'hello', version: 1, role: 'convert', sampleRate: rate, format: 'f32', channels: 1, voice: currentVoice() };
    if (BLOCK_MS) hello.blockMs = BLOCK_MS;
    if (token) hello.token = token;
    wireConnection(connection);
    const ready = await connection.connect(serverUrl(ui.server.value, token), hello);
    if (ready.sampleRate !== rate || ready.channels !== 1) {
      throw new Error(`the server answered with ${ready.sampleRate} Hz, ${ready.channels} channel(s); this page streams ${rate} Hz mono`);
    }
    stats.sessionId = ready.sessionId;
    stats.voice = ready.voice;
    ui.sessionId.textContent = ready.sessionId;
    // The microphone is sent in chunks of the session's first block (the server re-blocks any size).
    const blockSamples = ready.blockSamples;
    stats.blockSamples = blockSamples;
    showFormat();
    showModel(ready.model ?? 'builtin', ready.controls, ready.latency);
    loadModels(token).then(() => {
      const wanted = params.get('model');
      if (wanted && wanted !== stats.model) switchModel(wanted);
    });
    const obs = new URL('/obs', location.href);
    obs.searchParams.set('session', ready.sessionId);
    if (token) obs.searchParams.set('token', token);
    if (ui.server.value.trim()) obs.searchParams.set('server', ui.server.value.trim());
    ui.obsUrl.value = obs.toString();
    ui.copyObs.disabled = false;

    const { targetMs, maxMs } = jitterSettings();
    engine.startPlayback({
      targetMs,
      maxMs,
      monitorGain: ui.monitor.checked ? Number(ui.volume.value) : 0,
      onStatus: (s) => {
        if (!engine) return; // after disconnect
        stats.underruns = s.underruns;
        stats.droppedSamples = s.droppedSamples;
        stats.trimmedSamples = s.trimmedSamples;
        stats.bufferedMs = (s.bufferedSamples / rate) * 1000;
        // What arriving audio waits (smoothed over ~1 s of reports); the level itself is a sawtooth a block high.
        if (s.arrivalWaitSamples !== null && s.arrivalWaitSamples !== undefined) {
          const waitMs = (s.arrivalWaitSamples / rate) * 1000;
          stats.jitterWaitMs = stats.jitterWaitMs === null ? waitMs : 0.9 * stats.jitterWaitMs + 0.1 * waitMs;
        }
        if (stats.jitter) stats.jitter.capacityMs = (s.capacitySamples / rate) * 1000;
        stats.playbackRms = s.rms;
        outputMeter.update(s.peak, s.rms);
      },
    });
    await engine.startCapture({
      blockSamples,
      deviceId: ui.inputDevice.value,
      onBlock: ({ samples, peak, rms }) => {
        stats.inputRms = rms;
        inputMeter.update(peak, rms);
        if (connection?.sendAudio(samples)) {
          stats.sentSamples += samples.length;
          stats.sentBlocks++;
        } else stats.droppedSendBlocks++;
      },
    });
    listInputs();
    setSpectrogramSource();
    spectrogram.start();
    statsTimer = setInterval(updateCounters, 250);
    ui.disconnect.disabled = false;
    enableSay(true);
    setStatus('live', `Live · ${engine.inputLabel || 'microphone'}`);
  } catch (error) {
    const title = error.code ? `Server refused (${error.code})` : 'Could not start';
    showError(title, error.message);
    await teardown('error');
  }
}

function wireConnection(conn) {
  conn.on('audio', (samples) => {
    stats.receivedSamples += samples.length;
    stats.receivedFrames++;
    let energy = 0;
    for (let i = 0; i < samples.length; i++) energy += samples[i] * samples[i];
    receivedEnergy += energy;
    receivedEnergyCount += samples.length;
    keepReceived(samples, stats.sampleRate);
    engine?.play(samples);
  });
  conn.on('stats', (message) => {
    if (conn !== connection) return; // a late message of a closed session
    stats.server = message;
  });
  conn.on('model', (message) => {
    ui.model.disabled = false;
    showModel(message.name, message.controls, message.latency);
    // Another model may convert in other blocks: size the jitter buffer for them.
    const { targetMs, maxMs } = jitterSettings();
    engine?.configureJitterBuffer(targetMs, maxMs);
    showFormat();
    ui.modelStatus.textContent = `Now converting with ${message.name}.`;
    updateLatency();
  });
  conn.on('voice', (message) => {
    stats.voice = { pitch: message.voice?.pitch ?? message.pitch, formant: message.voice?.formant ?? message.formant };
    showVoice(stats.voice);
  });
  conn.on('pong', (rtt) => {
    if (conn !== connection) return;
    stats.rttMs = stats.rttMs === null ? rtt : 0.7 * stats.rttMs + 0.3 * rtt;
  });
  conn.on('error', (error) => {
    if (error.code === 'MODEL_NOT_FOUND') {
      // The session keeps its voice: put the selector back.
      ui.model.disabled = !connection;
      ui.model.value = stats.model ?? 'builtin';
      ui.modelStatus.textContent = 'Switch refused; the voice did not change.';
    }
    showError(`Server error (${error.code})`, error.message);
    if (error.fatal) teardown('error');
  });
  conn.on('message', (message) => {
    if (message.type === 'say') showSay(message);
  });
  conn.on('close', ({ code, reason, byUser }) => {
    if (byUser) return;
    showError('Disconnected', `the server closed the connection (code ${code}${reason ? `: ${reason}` : ''})`);
    teardown('error');
  });
}

async function teardown(state = 'idle') {
  clearInterval(statsTimer);
  statsTimer = null;
  spectrogram.stop();
  spectrogram.setSource(null);
  const conn = connection;
  const eng = engine;
  connection = null;
  engine = null;
  conn?.close();
  await eng?.close();
  inputMeter.reset();
  outputMeter.reset();
  ui.connect.disabled = false;
  ui.disconnect.disabled = true;
  enableSay(false);
  ui.copyObs.disabled = true;
  ui.model.disabled = true;
  ui.formant.disabled = false;
  ui.modelStatus.textContent = '';
  ui.modelLatency.textContent = '—';
  stats.sessionId = null;
  // Figures of the closed session must not stay on screen as if they were current.
  stats.server = null;
  stats.rttMs = null;
  stats.bufferedMs = null;
  stats.jitterWaitMs = null;
  stats.modelLatency = null;
  ui.sessionId.textContent = '—';
  ui.obsUrl.value = '';
  updateLatency();
  if (state === 'error') setStatus('error', 'Stopped');
  else setStatus('idle', 'Disconnected');
}

// ---- Model selector ----
function modelLabel(entry, speaker) {
  if (entry.builtin) return 'builtin (DSP pitch + formant)';
  const rate = entry.sampleRate ? ` · ${entry.sampleRate / 1000} kHz` : '';
  const who = speaker === undefined ? '' : `:${speaker}`;
  const rvc = entry.type === 'rvc' ? ` · RVC${entry.f0 ? '' : ' no-f0'}${entry.index ? ' + index' : ''}` : '';
  // make-reference bundles have random weights: they test the pipeline, they do not sound like anyone.
  const reference = entry.randomWeights ? ' · test model (random weights)' : '';
  return `${entry.name}${who}${rate}${rvc}${reference}${entry.error ? ' — unusable' : ''}`;
}

/** Fills the selector from GET /api/models: builtin, then each model (one option per speaker when it has several). */
async function loadModels(token) {
  try {
    const list = await fetchModels(ui.server.value, token);
    stats.models = list.models ?? [];
  } catch (error) {
    stats.models = [{ name: 'builtin', builtin: true, speakers: [], controls: ['pitch', 'formant'] }];
    ui.modelStatus.textContent = `Could not list the server's models (${error.message}).`;
  }
  const options = [];
  for (const entry of stats.models) {
    const speakers = entry.speakers ?? [];
    if (speakers.length > 1) {
      for (const speaker of speakers) {
        const option = new Option(modelLabel(entry, speaker), `${entry.name}:${speaker}`);
        option.disabled = Boolean(entry.error);
        options.push(option);
      }
    } else {
      const option = new Option(modelLabel(entry), entry.name);
      option.disabled = Boolean(entry.error);
      if (entry.error) option.title = entry.error;
      options.push(option);
    }
  }
  // The current voice may be a name the list does not hold (e.g. a bundle path given to svc serve --model).
  if (stats.model && !options.some((o) => o.value === stats.model)) options.unshift(new Option(stats.model, stats.model));
  ui.model.replaceChildren(...options);
  ui.model.value = stats.model ?? 'builtin';
  ui.model.disabled = !connection;
  const usable = stats.models.filter((m) => !m.builtin && !m.error).length;
  ui.modelHint.firstChild.textContent = usable ? `${usable} model${usable > 1 ? 's' : ''} installed on the server. ` : 'No models installed on the server (svc models). ';
}

/** Asks the server for another voice; the answer is a `model` message or a MODEL_NOT_FOUND error. */
function switchModel(name) {
  if (!connection || !name) return;
  ui.model.value = name;
  ui.model.disabled = true; // one switch at a time: the server refuses a second while the first loads
  ui.modelStatus.textContent = `Loading ${name}…`;
  connection.setModel(name);
}

/** "48000 Hz · mono · float32 · 160 ms blocks": the block the server converts in now. */
function showFormat() {
  const rate = stats.sampleRate || 48000;
  const blockSamples = connection?.ready?.blockSamples;
  if (!blockSamples) return;
  ui.format.textContent = `${rate} Hz · mono · float32 · ${Math.round((blockSamples / rate) * 1000)} ms blocks`;
}

/** Shows the voice converting now: its name, its latency, and whether the formant control applies. */
function showModel(name, controls, latency) {
  stats.model = name;
  stats.controls = Array.isArray(controls) ? controls : ['pitch', 'formant'];
  ui.engine.textContent = name;
  if (![...ui.model.options].some((o) => o.value === name)) ui.model.add(new Option(name, name));
  ui.model.value = name;
  const formant = stats.controls.includes('formant');
  ui.formant.disabled = !formant;
  ui.formant.title = formant ? '' : `${name} keeps its speaker's timbre: only the pitch applies`;
  stats.modelLatency = latency ?? null;
  ui.modelLatency.textContent = latency ? `${latency.algorithmicMs.toFixed(0)} ms (signal delay ${latency.delayMs.toFixed(0)} ms)` : '—';
}

function setSpectrogramSource() {
  const source = document.querySelector('input[name="spec-source"]:checked')?.value ?? 'output';
  spectrogram.setSource(source === 'input' ? engine?.inputAnalyser : engine?.outputAnalyser);
}

// ---- Voice controls: send `set`, throttled to one message per 50 ms while dragging ----
let voiceTimer = null;
function voiceChanged() {
  const voice = currentVoice();
  showVoice(voice);
  saveSettings();
  if (voiceTimer) return;
  voiceTimer = setTimeout(() => {
    voiceTimer = null;
    connection?.setVoice(currentVoice());
  }, 50);
}

ui.pitch.addEventListener('input', voiceChanged);
ui.model.addEventListener('change', () => switchModel(ui.model.value));
ui.formant.addEventListener('input', voiceChanged);
for (const button of document.querySelectorAll('.presets button')) {
  button.addEventListener('click', () => {
    ui.pitch.value = button.dataset.pitch;
    ui.formant.value = button.dataset.formant;
    voiceChanged();
  });
}
function monitorChanged() {
  ui.volumeValue.textContent = `${Math.round(Number(ui.volume.value) * 100)}%`;
  engine?.setMonitorGain(ui.monitor.checked ? Number(ui.volume.value) : 0);
}
ui.monitor.addEventListener('change', monitorChanged);
ui.volume.addEventListener('input', monitorChanged);
ui.jitter.addEventListener('input', () => {
  ui.jitterValue.textContent = `${ui.jitter.value} ms`;
  const { targetMs, maxMs } = jitterSettings();
  engine?.configureJitterBuffer(targetMs, maxMs);
  saveSettings();
});
for (const radio of document.querySelectorAll('input[name="spec-source"]')) radio.addEventListener('change', setSpectrogramSource);

// ---- Say: typed text spoken into this session (protocol {"type":"say"}) ----
function enableSay(on) {
  $('say-text').disabled = !on;
  $('say-send').disabled = !on;
}

function showSay(message) {
  const what = { queued: `queued (${message.position} before it)`, speaking: `speaking (first audio after ${message.firstAudioMs} ms)`, done: 'done', stopped: 'stopped', failed: 'failed' }[message.state] ?? message.state;
  $('say-status').textContent = `Say ${message.id}: ${what}.`;
}

$('say-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = $('say-text').value.trim();
  if (!text || !connection) return;
  connection.send({ type: 'say', text });
  $('say-text').value = '';
});

ui.connect.addEventListener('click', connect);
ui.disconnect.addEventListener('click', () => teardown('idle'));
$('error-close').addEventListener('click', hideError);
ui.copyObs.addEventListener('click', async () => {
  try {
    await navigator.clipboard.writeText(ui.obsUrl.value);
  } catch {
    ui.obsUrl.select();
    document.execCommand('copy');
  }
  ui.copyObs.textContent = 'Copied';
  setTimeout(() => (ui.copyObs.textContent = 'Copy'), 1200);
});
window.addEventListener('beforeunload', () => connection?.close());

monitorChanged();
updateLatency();
applyVoiceLimits().then(() => {
  loadSettings();
  showVoice(currentVoice());
  ui.jitterValue.textContent = `${ui.jitter.value} ms`;
  if (params.has('autoconnect')) connect();
});
