// A virtual microphone on Linux, through the PulseAudio API (PulseAudio itself, or PipeWire's
// pipewire-pulse): a null sink that svc plays the converted voice into, plus a remapped source on
// that sink's monitor. Apps (Discord, OBS, browsers) list remapped sources as ordinary microphones,
// while many hide "Monitor of …" sources, which is why the remap step is needed.
//
//   svc live ──PortAudio, ALSA `pulse` PCM, PULSE_SINK=<name>_out──► sink <name>_out ──monitor──►
//            (or pacat, float32 mono, where that PCM is missing)       module-remap-source <name>
//                                                                      └─ "svc virtual microphone (<name>)"
//
// Both modules are unloaded on dispose(), on process exit (also after an uncaught error), and stale
// ones left by a killed run (SIGKILL cannot be caught) are removed when the next run starts.
//
// PulseAudio's null sink renders max_latency (2 s) at a time whenever no stream asks for less: at once
// when it is created, and again each time our stream reconnects (ALSA's pulse plugin makes a new stream
// after an underrun). It then takes nothing for up to 2 s: the voice backs up, and a recorder gets 2 s
// of silence. So a silent anchor stream (pacat, never written) asks for 20 ms for as long as the sink
// exists (from settle() on, before our stream connects).
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { SvcError } from '../errors.js';
import { AudioOutputStream, emptyStatusCounts, listAudioDevices, PlayoutClock, type AudioDevice, type AudioSink, type DeviceStatusCounts } from './devices.js';
import { pactlSync as pactl } from './pactl.js';
import { parsePactlStreams, parseSinkLatencyMs } from './pulseLatency.js';

export const DEFAULT_VIRTUAL_MIC_NAME = 'svc_mic';

/** pacat's --latency-msec for the anchor: PulseAudio then asks the sink for 20 ms, what our own stream asks. */
const ANCHOR_LATENCY_MS = 80;

/** A sink whose latency is under this takes audio as it comes (the anchor asks 80 ms; at creation it is 2 s). */
const TAKING_LATENCY_MS = 150;

/** Names PulseAudio accepts for sinks/sources that we also put on a command line unquoted. */
const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,62}$/;

export interface VirtualMicOptions {
  /** Source name apps see (the sink is `<name>_out`). */
  name?: string;
  sampleRate: number;
  /** Environment for pactl/pacat (tests point PULSE_SERVER at their own daemon). Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Ids of loaded modules whose arguments name this sink or source (a killed earlier run's leftovers). */
export function staleModuleIds(listing: string, sinkName: string, sourceName: string): number[] {
  const ids: number[] = [];
  for (const line of listing.split('\n')) {
    const [id, module, args = ''] = line.split('\t');
    if (module !== 'module-null-sink' && module !== 'module-remap-source') continue;
    const mine = new RegExp(`(^|\\s)(sink_name=${sinkName}|source_name=${sourceName})(\\s|$)`);
    if (mine.test(args) && /^\d+$/.test(id ?? '')) ids.push(Number(id));
  }
  return ids;
}

export class VirtualMic {
  readonly sourceName: string;
  readonly sinkName: string;
  readonly description: string;
  readonly sampleRate: number;
  private readonly env: NodeJS.ProcessEnv;
  private moduleIds: number[] = [];
  private watcher: ChildProcessWithoutNullStreams | ChildProcess | null = null;
  private anchor: ChildProcess | null = null;
  private readonly onExit = (): void => this.unloadModules();

  /** Creates the sink and the remapped source; throws DEVICE_UNAVAILABLE with the reason if it cannot. */
  constructor(options: VirtualMicOptions) {
    const name = options.name ?? DEFAULT_VIRTUAL_MIC_NAME;
    if (!NAME_PATTERN.test(name)) {
      throw new SvcError('INVALID_ARGUMENT', `virtual microphone name must be a letter followed by letters, digits, '_', '.' or '-' (at most 63), got "${name}"`, {
        hint: `e.g. --virtual-mic ${DEFAULT_VIRTUAL_MIC_NAME}`,
      });
    }
    if (process.platform !== 'linux') {
      throw new SvcError('DEVICE_UNAVAILABLE', `--virtual-mic needs PulseAudio or PipeWire, which svc uses on Linux only (this is ${process.platform})`, {
        hint: 'on macOS install BlackHole, on Windows VB-CABLE, and pass its id to `svc live --output`',
      });
    }
    this.env = options.env ?? process.env;
    this.sourceName = name;
    this.sinkName = `${name}_out`;
    this.description = `svc virtual microphone (${name})`;
    this.sampleRate = options.sampleRate;

    const info = pactl(['info'], this.env);
    if (info.error || info.status !== 0) {
      const why = info.error ? `pactl could not run (${info.error.message})` : `pactl info failed: ${info.stderr || `exit ${info.status}`}`;
      throw new SvcError('DEVICE_UNAVAILABLE', `--virtual-mic needs a running PulseAudio or PipeWire (pipewire-pulse) server: ${why}`, {
        hint: 'install pulseaudio-utils (for pactl and pacat) and start your desktop\'s sound server (`pulseaudio --start`, or `systemctl --user start pipewire-pulse`)',
      });
    }
    const listing = pactl(['list', 'short', 'modules'], this.env);
    for (const id of staleModuleIds(listing.stdout, this.sinkName, this.sourceName)) pactl(['unload-module', String(id)], this.env);

    process.on('exit', this.onExit);
    try {
      this.load([
        'module-null-sink',
        `sink_name=${this.sinkName}`,
        `rate=${this.sampleRate}`,
        'channels=1',
        `sink_properties="device.description='svc voice output (${name})'"`,
      ]);
      this.load([
        'module-remap-source',
        `master=${this.sinkName}.monitor`,
        `source_name=${this.sourceName}`,
        `source_properties="device.description='${this.description}'"`,
      ]);
    } catch (error) {
      this.dispose();
      throw error;
    }
    const anchor = spawn('pacat', ['--playback', `--device=${this.sinkName}`, '--raw', '--format=float32le', `--rate=${this.sampleRate}`, '--channels=1', `--latency-msec=${ANCHOR_LATENCY_MS}`, '--client-name=svc', '--stream-name=svc virtual microphone clock'], {
      env: this.env,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    // Its stdin is never written and closes with this process, however it ends (SIGKILL too): pacat then exits.
    anchor.on('error', () => (this.anchor = null));
    anchor.stdin.on('error', () => {});
    this.anchor = anchor;
  }

  /**
   * Waits (at most `timeoutMs`) until the anchor stream is on the sink, so that it is there before ours.
   * The 2 s the sink rendered ahead when it was created still play out at the start: our stream waits
   * that long once, and input is read only after it (awaitTaking). Two ways to skip that were measured
   * and not kept: suspending and resuming the sink (restarts its clock at once), or waiting until its
   * latency fell under 25–100 ms before opening our stream. Both made svc's stream run dry in its first
   * second (the DSP voice's `auto` rose to 240–340 ms, 2 runs each; 190–201 ms measured, 203–205 printed
   * without, and no rise).
   */
  async settle(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.anchor?.pid !== undefined && Date.now() < deadline) {
      const sink = this.sinkIndex();
      if (sink !== undefined && parsePactlStreams(pactl(['list', 'sink-inputs'], this.env).stdout, this.anchor.pid).some((x) => x.deviceIndex === sink)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Waits (at most `timeoutMs`) until the sink takes audio as it comes: its latency (pactl) under
   * TAKING_LATENCY_MS. Called once svc's stream is open and primed, before any input is read. The 2 s
   * the sink rendered ahead at its creation (before the anchor) otherwise still played out after svc
   * said the microphone was ready: the voice spoken then backed up and the latency hold cut it (0.4–0.8 s
   * of the first 1.5 s of speech lost in the virtual-microphone test, its pitch check then failing).
   * PipeWire's null sink lists 0 µs and passes at once.
   */
  async awaitTaking(timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const latencyMs = parseSinkLatencyMs(pactl(['list', 'sinks'], this.env).stdout, this.sinkName);
      if (latencyMs === null || latencyMs < TAKING_LATENCY_MS) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private sinkIndex(): number | undefined {
    const index = pactl(['list', 'short', 'sinks'], this.env).stdout.split('\n').map((l) => l.split('\t')).find((f) => f[1] === this.sinkName)?.[0];
    return index === undefined ? undefined : Number(index);
  }

  private load(args: string[]): void {
    const r = pactl(['load-module', ...args], this.env);
    const id = Number(r.stdout.trim());
    if (r.status !== 0 || !Number.isInteger(id)) {
      throw new SvcError('DEVICE_UNAVAILABLE', `could not create the virtual microphone: pactl load-module ${args[0]} failed: ${r.stderr || r.stdout.trim() || `exit ${r.status}`}`, {
        hint: 'is the name already used by another device? pick another with --virtual-mic NAME',
      });
    }
    this.moduleIds.push(id);
  }

  /** What to tell the user to pick in the other app. */
  get instructions(): string {
    return `virtual microphone "${this.description}" (source ${this.sourceName}): pick it as the microphone in Discord, OBS or the browser`;
  }

  /**
   * The virtual microphone's playback as an ordinary PortAudio output: ALSA's `pulse` PCM (or `default`,
   * which is PulseAudio's where a sound server runs) opened with PULSE_SINK naming our sink, which libpulse
   * takes as the stream's sink. Preferred to pacat: naudiodon's bounded native queue and its consumption
   * clock see what waits for the sink, and PulseAudio lists the stream under this process, so the latency
   * hold works as for a sound card. Through pacat a stall of the sink (its 2 s render ahead, before the
   * anchor stream existed) piled up in pacat's stdin pipe and Node's write buffer, out of the wall clock's
   * sight: 1.3–1.8 s measured by clicks while 140–350 ms was printed (286–423 ms without a stall). Null when
   * there is no such device or the stream did not land on our sink (then the voice would go elsewhere).
   */
  openDeviceSink(options: { channels: number; framesPerBuffer: number; maxQueueBlocks?: number; onError: (error: SvcError) => void }): { stream: AudioOutputStream; device: AudioDevice } | null {
    let devices: AudioDevice[];
    try {
      devices = listAudioDevices();
    } catch {
      return null;
    }
    const device = ['pulse', 'default'].map((name) => devices.find((d) => d.name === name && d.outputChannels >= options.channels)).find((d) => d !== undefined);
    if (!device) return null;
    const previous = process.env.PULSE_SINK;
    process.env.PULSE_SINK = this.sinkName;
    let stream: AudioOutputStream;
    try {
      stream = new AudioOutputStream({ deviceId: device.id, device, sampleRate: this.sampleRate, channels: options.channels, framesPerBuffer: options.framesPerBuffer, maxQueueBlocks: options.maxQueueBlocks }, options.onError);
    } catch {
      return null;
    } finally {
      if (previous === undefined) delete process.env.PULSE_SINK;
      else process.env.PULSE_SINK = previous;
    }
    // The ALSA plugin connects its stream when the device opens: every playback stream of this process must
    // be on our sink (a `default` PCM that is not PulseAudio's, or a server that ignores PULSE_SINK, would
    // play the voice on the speakers).
    const sink = this.sinkIndex();
    const ours = parsePactlStreams(pactl(['list', 'sink-inputs'], this.env).stdout, process.pid);
    if (sink === undefined || ours.length === 0 || ours.some((x) => x.deviceIndex !== sink)) {
      void stream.stop();
      return null;
    }
    return { stream, device };
  }

  /** A sink that plays interleaved float32 into the virtual microphone (a pacat child process). */
  openSink(options: { channels?: number; latencyMs?: number; onError: (error: SvcError) => void }): PacatSink {
    return new PacatSink({ device: this.sinkName, sampleRate: this.sampleRate, channels: options.channels ?? 1, latencyMs: options.latencyMs ?? 20, env: this.env, onError: options.onError });
  }

  /**
   * Calls `onLost` if the sound server removes the sink or the source under us (its restart, a user's
   * `pactl unload-module`): PulseAudio would otherwise move our playback to another sink, maybe the
   * real speakers or the microphone's own sink (a feedback loop). Uses `pactl subscribe`.
   */
  watch(onLost: (error: SvcError) => void): void {
    const indexOf = (kind: 'sinks' | 'sources', name: string): string | undefined =>
      pactl(['list', 'short', kind], this.env).stdout.split('\n').map((l) => l.split('\t')).find((f) => f[1] === name)?.[0];
    const sink = indexOf('sinks', this.sinkName);
    const source = indexOf('sources', this.sourceName);
    const watcher = spawn('pactl', ['subscribe'], { env: this.env, stdio: ['ignore', 'pipe', 'ignore'] });
    this.watcher = watcher;
    let pending = '';
    watcher.stdout.on('data', (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const m = /^Event 'remove' on (sink|source) #(\d+)$/.exec(line.trim());
        if (m && ((m[1] === 'sink' && m[2] === sink) || (m[1] === 'source' && m[2] === source)) && this.watcher) {
          this.stopWatching();
          onLost(new SvcError('DEVICE_UNAVAILABLE', `the virtual microphone's ${m[1]} was removed by the sound server (or another program)`, { hint: 'start svc live --virtual-mic again' }));
        }
      }
    });
  }

  private stopWatching(): void {
    this.watcher?.kill('SIGTERM');
    this.watcher = null;
  }

  private unloadModules(): void {
    // Source first: it depends on the sink's monitor.
    for (const id of this.moduleIds.reverse()) pactl(['unload-module', String(id)], this.env);
    this.moduleIds = [];
  }

  /** Removes the source and the sink. Safe to call twice. */
  dispose(): void {
    this.stopWatching();
    this.anchor?.kill('SIGTERM');
    this.anchor = null;
    this.unloadModules();
    process.off('exit', this.onExit);
  }
}

/**
 * Playback into a PulseAudio sink through `pacat` (pulseaudio-utils): float32 mono or more, with a
 * requested server-side latency. The queue this process cannot see is estimated from the clock:
 * written frames minus the frames the sink has played since start.
 */
export class PacatSink implements AudioSink {
  readonly sampleRate: number;
  readonly channels: number;
  readonly status: DeviceStatusCounts = emptyStatusCounts();
  readonly latencyMs: number;
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly clock: PlayoutClock;
  private stderr = '';
  private stopped = false;

  constructor(private readonly o: { device: string; sampleRate: number; channels: number; latencyMs: number; env: NodeJS.ProcessEnv; onError: (error: SvcError) => void }) {
    this.sampleRate = o.sampleRate;
    this.channels = o.channels;
    this.latencyMs = o.latencyMs;
    this.clock = new PlayoutClock(o.sampleRate);
  }

  start(): void {
    const args = [
      '--playback',
      `--device=${this.o.device}`,
      '--format=float32le',
      `--rate=${this.sampleRate}`,
      `--channels=${this.channels}`,
      `--latency-msec=${Math.max(1, Math.round(this.latencyMs))}`,
      '--client-name=svc',
      '--stream-name=svc voice',
      '--raw',
    ];
    const child = spawn('pacat', args, { env: this.o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    child.stdin.on('error', () => {}); // EPIPE after pacat died: reported by 'exit' below
    child.on('error', (error) => {
      if (!this.stopped) this.o.onError(new SvcError('DEVICE_UNAVAILABLE', `could not start pacat for the virtual microphone: ${error.message}`, { hint: 'install pulseaudio-utils', cause: error }));
    });
    child.on('exit', (code, signal) => {
      if (!this.stopped) {
        this.o.onError(new SvcError('DEVICE_UNAVAILABLE', `the virtual microphone's playback (pacat) stopped: ${this.stderr.trim() || (signal ? `killed by ${signal}` : `exit ${code}`)}`, {
          hint: 'is the sound server still running? (`pactl info`)',
        }));
      }
    });
    this.clock.start();
  }

  get queuedFrames(): number {
    if (!this.child) return 0;
    // What Node still holds is known exactly: when the sink stalls (the sound server busy), pacat stops
    // reading and the writes back up here, which the wall clock cannot see. What waits in the pipe
    // between (up to its capacity) stays unseen: openDeviceSink is preferred for that reason.
    const waitingFrames = Math.floor(this.child.stdin.writableLength / 4 / this.channels);
    return Math.max(this.clock.queuedFrames, waitingFrames);
  }

  write(interleaved: Float32Array): void {
    if (this.stopped || !this.child) return;
    // Once the sink ran dry (an underrun) playing restarts from now: the clock estimate follows.
    this.clock.wrote(interleaved.length / this.channels);
    this.status.outputUnderflows = this.clock.underruns;
    this.child.stdin.write(Buffer.from(interleaved.buffer.slice(interleaved.byteOffset, interleaved.byteOffset + interleaved.byteLength)));
  }

  async stop(drainMs = 0): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (drainMs > 0) {
      child.stdin.end(); // pacat plays what it has, then exits
      await Promise.race([exited, new Promise((r) => setTimeout(r, drainMs + (this.queuedFrames * 1000) / this.sampleRate))]);
    }
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
    }
  }
}
