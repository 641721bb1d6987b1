// The page's audio graph, on one AudioContext at the device's native rate:
//   microphone → capture worklet (blocks → onBlock) ──► silent sink → destination
//        └────► inputAnalyser                                  (meters/spectrogram of the input)
//   network → playback worklet (jitter buffer) → monitor gain → destination
//                      └────► outputAnalyser                   (meters/spectrogram of the output)
// The microphone is opened with echo cancellation, noise suppression and automatic gain control OFF:
// they colour the voice and add delay, and the converter wants the raw signal. Latency terms for the
// page's figure: inputLatencyMs, outputLatencyMs; trimInputBacklog keeps stalls from adding delay.

const here = new URL('.', import.meta.url);
const workletUrl = (name) => new URL(`../worklets/${name}`, here).toString();

/** Why the browser refused audio, in words a user can act on. */
export function describeMediaError(error) {
  const name = error?.name ?? '';
  if (!window.isSecureContext) {
    return 'the microphone needs a secure page: open svc over https, or as http://localhost (browsers block microphones on plain http from other hosts)';
  }
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'microphone permission was denied: allow it in the address bar (camera/microphone icon) and connect again';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'no microphone was found: plug one in or pick another input';
  if (name === 'NotReadableError') return 'the microphone is busy or failed to start (another program may hold it)';
  return `the microphone could not be opened: ${error?.message ?? error}`;
}

/** Lag of the audio graph behind real time (ms, since the last reset) beyond which trimInputBacklog acts. */
const INPUT_SLIP_LIMIT_MS = 30;

export class AudioEngine {
  constructor() {
    this.context = null;
    this.stream = null;
    this.source = null;
    this.captureNode = null;
    this.playbackNode = null;
    this.monitorGain = null;
    this.inputAnalyser = null;
    this.outputAnalyser = null;
    this.playbackStatus = null;
    /** Capture latency measured by the browser (track.stats), ms, smoothed; null until known. */
    this.measuredInputMs = null;
    this.captureStartedMs = 0;
    /** Real time minus the graph's clock at the last input reset, ms (see trimInputBacklog). */
    this.slipBaselineMs = null;
    this.lastInputResetMs = 0;
    /** Times the microphone's source node was re-created to drop audio piled up after stalls. */
    this.inputResets = 0;
  }

  /** Creates the context and loads the worklets. `sampleRate` null = the device's rate. */
  async open({ sampleRate = null } = {}) {
    if (typeof AudioWorkletNode === 'undefined') throw new Error('this browser has no AudioWorklet support (use a current Chrome, Edge, Firefox or Safari)');
    this.context = new AudioContext(sampleRate ? { sampleRate, latencyHint: 'interactive' } : { latencyHint: 'interactive' });
    await this.context.audioWorklet.addModule(workletUrl('capture-processor.js'));
    await this.context.audioWorklet.addModule(workletUrl('playback-processor.js'));
    // Not awaited: without a user gesture resume() stays pending forever (an ordinary tab opening the
    // OBS page); callers check `context.state` and ask for a click when it is still 'suspended'.
    if (this.context.state === 'suspended') this.context.resume().catch(() => {});
    return this.context;
  }

  get sampleRate() {
    return this.context?.sampleRate ?? 0;
  }

  /** Opens the microphone and starts delivering blocks of `blockSamples` to onBlock({samples, peak, rms}). */
  async startCapture({ blockSamples, deviceId = '', onBlock }) {
    const audio = {
      echoCancellation: false,
      noiseSuppression: false,
      autoGainControl: false,
      channelCount: { ideal: 1 },
    };
    if (deviceId) audio.deviceId = { exact: deviceId };
    try {
      this.stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (error) {
      throw new Error(describeMediaError(error));
    }
    const ctx = this.context;
    this.captureStartedMs = performance.now();
    this.source = ctx.createMediaStreamSource(this.stream);
    this.captureNode = new AudioWorkletNode(ctx, 'svc-capture', {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { blockSamples },
    });
    this.captureNode.port.onmessage = (event) => {
      if (event.data?.type === 'block') onBlock(event.data);
    };
    const sink = ctx.createGain();
    sink.gain.value = 0;
    this.source.connect(this.captureNode).connect(sink).connect(ctx.destination);
    this.inputAnalyser = ctx.createAnalyser();
    this.inputAnalyser.fftSize = 2048;
    this.inputAnalyser.smoothingTimeConstant = 0;
    this.source.connect(this.inputAnalyser);
  }

  /**
   * The capture side's latency in ms, or null when the browser reports none: the delay from the
   * microphone to the track's sinks, measured (track.stats, Chrome ≥ 125: averaged since the last
   * sampleInputLatency) or else the track's nominal setting (its buffer: Chrome reports 1024 frames
   * whatever the device does), plus one render buffer (baseLatency): captured audio waits in the
   * MediaStream → Web Audio FIFO until the next render call pulls it. Measured through a real
   * PulseAudio (bench/live-latency.ts --page --loopback), the nominal figure alone missed 13–29 ms of
   * the microphone → speakers path on a quiet machine. What piles up in that FIFO when the audio
   * thread stalls is not counted (no API shows its level reliably: delivered − consumed frames from
   * track.stats over-reported it by 400 ms in some runs); trimInputBacklog drops it instead.
   */
  get inputLatencyMs() {
    if (!this.context) return null;
    const track = this.stream?.getAudioTracks()[0];
    const nominal = track?.getSettings?.().latency;
    const captureMs = this.measuredInputMs ?? (typeof nominal === 'number' ? nominal * 1000 : null);
    return captureMs === null ? null : captureMs + (this.context.baseLatency || 0) * 1000;
  }

  /**
   * Drops audio piled up in Chromium's MediaStream → Web Audio FIFO. When the page's audio thread
   * stalls (a loaded machine), the graph's clock falls behind real time while the microphone keeps
   * delivering: the FIFO keeps that audio for good, so every stall adds to the delay (measured through
   * PulseAudio: 80 → 180 ms within 8 s at load 7, and no API shows the FIFO's level). The graph's lag
   * is visible (getOutputTimestamp: real time minus context time at the sample being played); once it
   * grew by INPUT_SLIP_LIMIT_MS since the last reset, a fresh source node replaces the old one (a
   * new, empty FIFO), like the jitter buffer's trim on the way back. At most once a second.
   */
  trimInputBacklog() {
    const ctx = this.context;
    const t = ctx?.getOutputTimestamp?.();
    if (!ctx || !this.source || !this.captureNode || !t || !(t.performanceTime > 0)) return;
    const slipMs = t.performanceTime - t.contextTime * 1000;
    if (this.slipBaselineMs === null || slipMs < this.slipBaselineMs) {
      this.slipBaselineMs = slipMs;
      return;
    }
    const now = performance.now();
    if (slipMs - this.slipBaselineMs < INPUT_SLIP_LIMIT_MS || now - this.lastInputResetMs < 1000) return;
    const fresh = ctx.createMediaStreamSource(this.stream);
    fresh.connect(this.captureNode);
    fresh.connect(this.inputAnalyser);
    this.source.disconnect();
    this.source = fresh;
    this.slipBaselineMs = slipMs;
    this.lastInputResetMs = now;
    this.inputResets++;
  }

  /**
   * Reads the track's measured capture latency over the time since the last call (nothing from the
   * capture's first 2 s: its start-up delivers with 200–550 ms of latency) and smooths it; call it a
   * few times a second.
   */
  sampleInputLatency() {
    const stats = this.stream?.getAudioTracks()[0]?.stats;
    if (!stats || typeof stats.averageLatency !== 'number' || typeof stats.resetLatency !== 'function') return;
    const ms = stats.averageLatency;
    stats.resetLatency();
    if (performance.now() - this.captureStartedMs < 2000) return;
    if (!(ms > 0)) return; // nothing delivered since the last call (or no figure yet)
    this.measuredInputMs = this.measuredInputMs === null ? ms : 0.8 * this.measuredInputMs + 0.2 * ms;
  }

  get inputLabel() {
    return this.stream?.getAudioTracks()[0]?.label ?? '';
  }

  /** Creates the playback path. Jitter buffer: start at targetMs, never hold more than maxMs. */
  startPlayback({ targetMs, maxMs, monitorGain = 1, onStatus }) {
    const ctx = this.context;
    const rate = ctx.sampleRate;
    this.playbackNode = new AudioWorkletNode(ctx, 'svc-playback', {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [2],
      processorOptions: { targetSamples: Math.round((targetMs * rate) / 1000), capacitySamples: Math.round((maxMs * rate) / 1000) },
    });
    this.playbackNode.port.onmessage = (event) => {
      if (event.data?.type === 'status') {
        this.playbackStatus = event.data;
        onStatus?.(event.data);
      }
    };
    this.monitorGain = ctx.createGain();
    this.monitorGain.gain.value = monitorGain;
    this.playbackNode.connect(this.monitorGain).connect(ctx.destination);
    this.outputAnalyser = ctx.createAnalyser();
    this.outputAnalyser.fftSize = 2048;
    this.outputAnalyser.smoothingTimeConstant = 0;
    this.playbackNode.connect(this.outputAnalyser);
  }

  configureJitterBuffer(targetMs, maxMs) {
    const rate = this.sampleRate;
    this.playbackNode?.port.postMessage({ type: 'configure', targetSamples: Math.round((targetMs * rate) / 1000), capacitySamples: Math.round((maxMs * rate) / 1000) });
  }

  /** Hands received samples to the playback worklet (transferring the buffer). */
  play(samples) {
    if (!this.playbackNode) return;
    this.playbackNode.port.postMessage({ type: 'samples', samples }, [samples.buffer]);
  }

  setMonitorGain(gain) {
    if (this.monitorGain) this.monitorGain.gain.setTargetAtTime(gain, this.context.currentTime, 0.02);
  }

  /** AudioContext processing + output latency in ms (what the browser adds after the jitter buffer). */
  get outputLatencyMs() {
    if (!this.context) return 0;
    return ((this.context.baseLatency || 0) + (this.context.outputLatency || 0)) * 1000;
  }

  async close() {
    try {
      this.captureNode?.port.postMessage({ type: 'enable', enabled: false });
      for (const track of this.stream?.getTracks() ?? []) track.stop();
      this.source?.disconnect();
      this.captureNode?.disconnect();
      this.playbackNode?.disconnect();
      this.monitorGain?.disconnect();
    } finally {
      const ctx = this.context;
      this.context = null;
      this.stream = null;
      this.captureNode = null;
      this.playbackNode = null;
      this.inputAnalyser = null;
      this.outputAnalyser = null;
      if (ctx && ctx.state !== 'closed') await ctx.close().catch(() => {});
    }
  }
}

/** Peak and RMS → dBFS, floored at -90. */
export function toDecibels(linear) {
  return linear > 0 ? Math.max(-90, 20 * Math.log10(linear)) : -90;
}
