// Sound-card I/O through naudiodon (PortAudio): list input/output devices and open mono-or-more
// float32 streams at a chosen rate and block size. Everything a user can get wrong (no devices,
// an id that does not exist, a device that refuses the rate) becomes SvcError('DEVICE_UNAVAILABLE').
//
// Three PortAudio/naudiodon quirks shape this module:
//  - naudiodon silently falls back to the default device for an unknown id, so ids are validated
//    here against the device list before a stream is opened;
//  - PortAudio's ALSA enumeration can abort the whole process (a C assert) on some ALSA configs,
//    and ALSA prints probing noise to stderr. `probeAudioDevices()` therefore enumerates in a child
//    process, which keeps the CLI's output clean and turns a native crash into a clear error;
//  - naudiodon reports PortAudio's status flags (under/overflow, priming) as stream errors when
//    `closeOnError` is set, as a plain string (so `error.message` is undefined), which destroys the
//    stream: one start-up underflow on PulseAudio/PipeWire killed `svc live`. Without `closeOnError`
//    it printf()s them onto stdout instead (breaking --json). So we keep `closeOnError` (statuses
//    reach JavaScript) and `tolerateStatusErrors()` turns them into counters; real errors still fail,
//    with PortAudio's own text.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { SvcError, errorMessage } from '../errors.js';

export type DeviceDirection = 'input' | 'output';

export interface AudioDevice {
  /** PortAudio device index: what `--input` / `--output` take. */
  id: number;
  name: string;
  hostApi: string;
  inputChannels: number;
  outputChannels: number;
  defaultSampleRate: number;
  /** PortAudio's suggested low latencies for interactive use, milliseconds (0 when unknown). */
  defaultLowInputLatencyMs: number;
  defaultLowOutputLatencyMs: number;
  isDefaultInput: boolean;
  isDefaultOutput: boolean;
}

/** The subset of naudiodon's API used here (its own typings are CommonJS-only). */
interface NaudiodonDeviceInfo {
  id: number;
  name: string;
  maxInputChannels: number;
  maxOutputChannels: number;
  defaultSampleRate: number;
  defaultLowInputLatency: number;
  defaultLowOutputLatency: number;
  hostAPIName: string;
}
interface NaudiodonHostApis {
  defaultHostAPI: number;
  HostAPIs: { id: number; name: string; defaultInput: number; defaultOutput: number }[];
}
interface NaudiodonStream extends NodeJS.EventEmitter {
  _write(chunk: Buffer, encoding: string, callback: (error?: unknown) => void): void;
  destroy(error?: unknown): unknown;
  push(chunk: Buffer | null): boolean;
  start(): void;
  quit(callback?: () => void): void;
  write(chunk: Buffer, callback?: (error?: Error | null) => void): boolean;
  writableLength: number;
  pause(): void;
  resume(): void;
}
interface NaudiodonOptions {
  deviceId: number;
  sampleRate: number;
  channelCount: number;
  sampleFormat: number;
  framesPerBuffer: number;
  maxQueue?: number;
  closeOnError: boolean;
  /** The readable side's read size, bytes: naudiodon reads exactly this much from its native queue each time. */
  highwaterMark?: number;
}
interface Naudiodon {
  getDevices(): NaudiodonDeviceInfo[];
  getHostAPIs(): NaudiodonHostApis;
  AudioIO(options: { inOptions?: NaudiodonOptions; outOptions?: NaudiodonOptions }): NaudiodonStream;
  SampleFormatFloat32: number;
}

const require = createRequire(import.meta.url);
let naudiodon: Naudiodon | undefined;

/** Loads PortAudio on first use only, so commands that never touch a sound card never load it. */
function loadNaudiodon(): Naudiodon {
  if (naudiodon) return naudiodon;
  try {
    naudiodon = require('naudiodon') as Naudiodon;
    return naudiodon;
  } catch (error) {
    throw new SvcError('DEVICE_UNAVAILABLE', `the audio device library (naudiodon/PortAudio) could not be loaded: ${errorMessage(error)}`, {
      hint: 'run `npm ci` so that naudiodon builds its native module (it needs libasound2 on Linux)',
      cause: error,
    });
  }
}

const NO_DEVICE = 4294967295; // paNoDevice as naudiodon reports it (unsigned -1)

function toAudioDevices(infos: NaudiodonDeviceInfo[], hostApis: NaudiodonHostApis): AudioDevice[] {
  const defaults = new Set<number>();
  const defaultOutputs = new Set<number>();
  const host = hostApis.HostAPIs[hostApis.defaultHostAPI];
  if (host && host.defaultInput !== NO_DEVICE && host.defaultInput >= 0) defaults.add(host.defaultInput);
  if (host && host.defaultOutput !== NO_DEVICE && host.defaultOutput >= 0) defaultOutputs.add(host.defaultOutput);
  return infos.map((d) => ({
    id: d.id,
    name: d.name,
    hostApi: d.hostAPIName,
    inputChannels: d.maxInputChannels,
    outputChannels: d.maxOutputChannels,
    defaultSampleRate: d.defaultSampleRate,
    defaultLowInputLatencyMs: d.defaultLowInputLatency * 1000,
    defaultLowOutputLatencyMs: d.defaultLowOutputLatency * 1000,
    isDefaultInput: defaults.has(d.id),
    isDefaultOutput: defaultOutputs.has(d.id),
  }));
}

/** Lists devices in this process (loads PortAudio here; ALSA may print probing noise on stderr). */
export function listAudioDevices(): AudioDevice[] {
  const lib = loadNaudiodon();
  return toAudioDevices(lib.getDevices(), lib.getHostAPIs());
}

const PROBE_MARKER = '@@svc-devices@@';

/**
 * Lists devices in a child process: safe against PortAudio aborting on odd ALSA setups, and keeps
 * ALSA's probing messages off the terminal. `diagnostics` holds the child's stderr (for --verbose).
 */
export function probeAudioDevices(options: { timeoutMs?: number } = {}): { devices: AudioDevice[]; diagnostics: string } {
  let modulePath: string;
  try {
    modulePath = require.resolve('naudiodon');
  } catch (error) {
    throw new SvcError('DEVICE_UNAVAILABLE', 'the audio device library naudiodon is not installed', { hint: 'run `npm ci`', cause: error });
  }
  const script = `const p = require(${JSON.stringify(modulePath)});
const out = { devices: p.getDevices(), hostApis: p.getHostAPIs() };
process.stdout.write(${JSON.stringify(PROBE_MARKER)} + JSON.stringify(out) + '\\n');`;
  const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: options.timeoutMs ?? 20_000 });
  const diagnostics = (result.stderr ?? '').trim();
  const line = (result.stdout ?? '').split('\n').find((l) => l.startsWith(PROBE_MARKER));
  if (result.status !== 0 || !line) {
    const lastLines = diagnostics.split('\n').filter((l) => !/^ALSA lib /.test(l)).slice(-3).join(' | ');
    throw new SvcError(
      'DEVICE_UNAVAILABLE',
      `listing audio devices failed (PortAudio ${result.signal ? `was killed by ${result.signal}` : `exited with ${result.status}`}${lastLines ? `: ${lastLines}` : ''})`,
      {
        hint: 'check the ALSA configuration (~/.asoundrc or $ALSA_CONFIG_PATH); a config that defines PCMs but no `pcm.!default` makes PortAudio abort, add one',
      },
    );
  }
  const parsed = JSON.parse(line.slice(PROBE_MARKER.length)) as { devices: NaudiodonDeviceInfo[]; hostApis: NaudiodonHostApis };
  return { devices: toAudioDevices(parsed.devices, parsed.hostApis), diagnostics };
}

/** The device with this id that can work in this direction, or a DEVICE_UNAVAILABLE error listing the ones that can. */
export function findDevice(devices: AudioDevice[], id: number, direction: DeviceDirection): AudioDevice {
  const usable = devices.filter((d) => (direction === 'input' ? d.inputChannels : d.outputChannels) > 0);
  if (usable.length === 0) {
    throw new SvcError('DEVICE_UNAVAILABLE', `no audio ${direction} devices found (PortAudio sees ${devices.length} device(s) in total)`, {
      hint:
        direction === 'input'
          ? 'plug in a microphone or check that ALSA/PulseAudio can see it (`arecord -l`); in containers, define a virtual device in ~/.asoundrc (see scripts/virtual-audio/)'
          : 'connect speakers/headphones or check `aplay -l`; in containers, define a virtual device in ~/.asoundrc (see scripts/virtual-audio/)',
    });
  }
  const device = devices.find((d) => d.id === id);
  const choices = usable.map((d) => `${d.id} (${d.name})`).join(', ');
  if (!device) {
    throw new SvcError('DEVICE_UNAVAILABLE', `audio ${direction} device ${id} does not exist; ${direction} devices are: ${choices}`, {
      hint: 'run `svc devices` to list devices and pass one of their ids',
    });
  }
  if ((direction === 'input' ? device.inputChannels : device.outputChannels) === 0) {
    throw new SvcError('DEVICE_UNAVAILABLE', `audio device ${id} (${device.name}) has no ${direction} channels; ${direction} devices are: ${choices}`, {
      hint: 'run `svc devices` to see which devices can record and which can play',
    });
  }
  return device;
}

/** The default device for a direction: the host's default, else the first usable one. */
export function defaultDevice(devices: AudioDevice[], direction: DeviceDirection): AudioDevice {
  const usable = devices.filter((d) => (direction === 'input' ? d.inputChannels : d.outputChannels) > 0);
  const preferred = usable.find((d) => (direction === 'input' ? d.isDefaultInput : d.isDefaultOutput)) ?? usable[0];
  if (!preferred) return findDevice(devices, -1, direction); // throws the "no devices" error
  return preferred;
}

export interface DeviceStreamOptions {
  deviceId: number;
  sampleRate: number;
  channels: number;
  framesPerBuffer: number;
  /** Blocks PortAudio may queue inside naudiodon (default 4). */
  maxQueueBlocks?: number;
  /** The device as listed (e.g. by probeAudioDevices); saves enumerating again in this process. */
  device?: AudioDevice;
}

function validateStreamOptions(options: DeviceStreamOptions, direction: DeviceDirection): void {
  const { sampleRate, channels, framesPerBuffer } = options;
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 192000) {
    throw new SvcError('INVALID_ARGUMENT', `${direction} sample rate must be an integer 8000..192000 Hz, got ${sampleRate}`);
  }
  if (!Number.isInteger(channels) || channels < 1) throw new SvcError('INVALID_ARGUMENT', `${direction} channels must be >= 1, got ${channels}`);
  if (!Number.isInteger(framesPerBuffer) || framesPerBuffer < 16) {
    throw new SvcError('INVALID_ARGUMENT', `${direction} frames per buffer must be an integer >= 16, got ${framesPerBuffer}`);
  }
}

function openStream(options: DeviceStreamOptions, direction: DeviceDirection, counts: DeviceStatusCounts): NaudiodonStream {
  validateStreamOptions(options, direction);
  const lib = loadNaudiodon();
  const device = options.device?.id === options.deviceId ? options.device : findDevice(listAudioDevices(), options.deviceId, direction);
  const max = direction === 'input' ? device.inputChannels : device.outputChannels;
  if (options.channels > max) {
    throw new SvcError('DEVICE_UNAVAILABLE', `audio ${direction} device ${device.id} (${device.name}) has ${max} channel(s), ${options.channels} were asked for`, {
      hint: `ask for at most ${max} channel(s)`,
    });
  }
  const streamOptions: NaudiodonOptions = {
    deviceId: options.deviceId,
    sampleRate: options.sampleRate,
    channelCount: options.channels,
    sampleFormat: lib.SampleFormatFloat32,
    framesPerBuffer: options.framesPerBuffer,
    maxQueue: options.maxQueueBlocks ?? 4,
    closeOnError: true,
    // Input: one buffer per read. naudiodon reads its stream's highWaterMark at a time and waits until that
    // much was recorded: at its default (16 KiB) a mono float32 stream came in 4096-frame chunks (85 ms
    // at 48 kHz, four 20 ms blocks at once), which delayed every sample by up to 85 ms and made
    // the output queue bridge the gaps (svc live --latency-ms 200 underflowed 45 times in 14 s).
    ...(direction === 'input' ? { highwaterMark: options.framesPerBuffer * options.channels * 4 } : {}),
  };
  try {
    const stream = lib.AudioIO(direction === 'input' ? { inOptions: streamOptions } : { outOptions: streamOptions });
    // naudiodon logs every error with console.error itself; ours are reported once, by the caller.
    stream.removeAllListeners('error');
    tolerateStatusErrors(stream, direction, counts);
    return stream;
  } catch (error) {
    throw new SvcError(
      'DEVICE_UNAVAILABLE',
      `could not open audio ${direction} device ${device.id} (${device.name}) at ${options.sampleRate} Hz, ${options.channels} channel(s): ${portAudioErrorText(error)}`,
      { hint: `try the device's default rate (${device.defaultSampleRate} Hz) with --rate, or another device; is it busy in another program?`, cause: error },
    );
  }
}

/** PortAudio's text for whatever naudiodon threw or emitted (it uses plain strings as often as Errors). */
export function portAudioErrorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'message' in error) return String((error as { message: unknown }).message);
  return String(error);
}

/** Under/overflows a device reported; counted, never fatal (a real card glitches, a stream must not die). */
export interface DeviceStatusCounts {
  inputOverflows: number;
  inputUnderflows: number;
  outputUnderflows: number;
  outputOverflows: number;
  /** Input chunks naudiodon discarded along with a status report. */
  inputChunksLost: number;
}

export function emptyStatusCounts(): DeviceStatusCounts {
  return { inputOverflows: 0, inputUnderflows: 0, outputUnderflows: 0, outputOverflows: 0, inputChunksLost: 0 };
}

const STATUS_PREFIX = 'portAudio status - ';

/** Adds the flags of one naudiodon status string ("portAudio status - output underflow ") to `counts`; false if it is not one. */
export function countStatus(text: string, counts: DeviceStatusCounts): boolean {
  if (!text.startsWith(STATUS_PREFIX)) return false;
  const flags = text.slice(STATUS_PREFIX.length);
  if (flags.includes('input overflow')) counts.inputOverflows++;
  if (flags.includes('input underflow')) counts.inputUnderflows++;
  if (flags.includes('output underflow')) counts.outputUnderflows++;
  if (flags.includes('output overflow')) counts.outputOverflows++;
  return true;
}

/**
 * Makes status reports non-fatal on a naudiodon stream opened with closeOnError. Output: the write
 * callback gets the status string after the chunk was queued, so the callback is simply told "ok".
 * Input: naudiodon calls destroy(status) instead of pushing the chunk it pulled; that chunk is lost
 * (counted), and an empty push lets the stream read on.
 */
function tolerateStatusErrors(stream: NaudiodonStream, direction: DeviceDirection, counts: DeviceStatusCounts): void {
  if (direction === 'output') {
    const write = stream._write.bind(stream);
    stream._write = (chunk, encoding, callback) =>
      write(chunk, encoding, (error?: unknown) => callback(typeof error === 'string' && countStatus(error, counts) ? undefined : error));
    return;
  }
  const destroy = stream.destroy.bind(stream);
  stream.destroy = (error?: unknown) => {
    if (typeof error === 'string' && countStatus(error, counts)) {
      counts.inputChunksLost++;
      stream.push(Buffer.alloc(0));
      return stream;
    }
    return destroy(error);
  };
}

/** Float32 interleaved bytes from PortAudio → a Float32Array view-safe copy. */
function bufferToFloat32(chunk: Buffer): Float32Array {
  const out = new Float32Array(chunk.length >> 2);
  new Uint8Array(out.buffer).set(chunk.subarray(0, out.length * 4));
  return out;
}

// Streams whose quit() did not return within 2 s: PortAudio's thread is stuck in the driver (seen after
// the sound server removed the device under an ALSA pulse stream) and keeps Node from exiting.
let wedged = 0;

/** How many streams did not stop: the command then ends the process itself (see `svc live`). */
export function wedgedStreamCount(): number {
  return wedged;
}

/** A capture stream delivering interleaved float32 chunks (any length; callers re-block). */
export class AudioInputStream {
  readonly options: DeviceStreamOptions;
  /** Over/underflows PortAudio reported on this stream. */
  readonly status: DeviceStatusCounts = emptyStatusCounts();
  private readonly stream: NaudiodonStream;
  private stopped = false;

  constructor(options: DeviceStreamOptions, onSamples: (interleaved: Float32Array) => void, onError: (error: SvcError) => void) {
    this.options = options;
    this.stream = openStream(options, 'input', this.status);
    this.stream.on('data', (chunk: Buffer) => {
      if (!this.stopped) onSamples(bufferToFloat32(chunk));
    });
    this.stream.on('error', (error: Error) => {
      if (!this.stopped) onError(new SvcError('DEVICE_UNAVAILABLE', `audio input device ${options.deviceId} failed: ${portAudioErrorText(error)}`, { cause: error }));
    });
  }

  start(): void {
    try {
      this.stream.start();
    } catch (error) {
      throw new SvcError('DEVICE_UNAVAILABLE', `could not start audio input device ${this.options.deviceId}: ${portAudioErrorText(error)}`, { cause: error });
    }
  }

  /**
   * Stops pulling audio from the device (back-pressure): PortAudio's own small queue fills and the
   * device then drops input. Used when the output side is backed up.
   */
  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    if (!this.stopped) this.stream.resume();
  }

  /** Stops capture; resolves once PortAudio has closed the stream. Safe to call twice. */
  stop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    // naudiodon's abort() is broken (it calls the native quit with two arguments), so quit() it is.
    return new Promise((resolvePromise) => {
      const timer = setTimeout(() => {
        wedged++;
        resolvePromise();
      }, 2000); // a wedged driver must not hang Ctrl-C
      this.stream.quit(() => {
        clearTimeout(timer);
        resolvePromise();
      });
    });
  }
}

/** Where live output goes: a PortAudio device, or a PulseAudio sink (the virtual microphone). */
export interface AudioSink {
  readonly sampleRate: number;
  readonly channels: number;
  readonly status: DeviceStatusCounts;
  start(): void;
  /** Frames written but not yet played (as far as this process can tell). */
  readonly queuedFrames: number;
  /**
   * Frames written and not yet taken by the device, from when it really took them (ConsumptionClock),
   * or null when there is no such clock or no recent bound. What the device took may still wait in a
   * sound server's buffer (PulseAudio's playback stream): the caller adds that.
   */
  untakenFrames?(): number | null;
  write(interleaved: Float32Array): void;
  stop(drainMs?: number): Promise<void>;
}

/**
 * Frames written to a device and not yet played, from the wall clock: written minus (time since start ×
 * rate). This sees every buffer between this process and the device's play point — naudiodon's native
 * chunk queue, PortAudio's and ALSA's buffers, a sound server's stream buffer (PulseAudio through ALSA's
 * pulse plugin held 40–60 ms that nothing else reported) — which no API here exposes. When the device ran
 * dry (written < played: it played silence, an underrun) playing restarts from now.
 */
export class PlayoutClock {
  private startedMs: number | null = null;
  private writtenFrames = 0;
  /** Times the clock found the device run dry. */
  underruns = 0;

  constructor(readonly sampleRate: number) {}

  start(): void {
    this.startedMs = performance.now();
  }

  private playedFrames(): number {
    return this.startedMs === null ? 0 : ((performance.now() - this.startedMs) * this.sampleRate) / 1000;
  }

  /** Notes `frames` written now. */
  wrote(frames: number): void {
    const played = this.playedFrames();
    if (this.startedMs !== null && this.writtenFrames < played) {
      if (this.writtenFrames > 0) this.underruns++;
      this.writtenFrames = Math.round(played);
    }
    this.writtenFrames += frames;
  }

  get queuedFrames(): number {
    return Math.max(0, Math.round(this.writtenFrames - this.playedFrames()));
  }
}

/**
 * When the device really takes written frames, from naudiodon's write completions. naudiodon queues at
 * most `maxQueue` chunks natively and a write completes when its chunk got a place, so write n completing
 * at time t means chunk n − maxQueue had been taken by PortAudio's callback by t: the device's origin
 * (time − frame / rate of that chunk's first frame) is at most t − start / rate. A completion is a tight
 * bound only when the write had to wait for that place (the native queue was full, the Node side backed
 * up); the smallest bound in a sliding window is then the device's timeline, late by nothing but the
 * event loop's delay. This is what sees a device that consumes slower than real time: a sound server
 * whose stream underran because PortAudio's thread did not get the CPU on a loaded machine (32 PortAudio
 * underflows in 15 s at load 5, the wall-clock estimate then 100–300 ms short of the delay measured).
 */
export class ConsumptionClock {
  /** First frame of each write not yet known to be taken by the device (index = write number − base). */
  private readonly starts: number[] = [];
  private base = 0;
  private written = 0;
  private readonly window: Array<{ atMs: number; originMs: number }> = [];

  constructor(
    readonly sampleRate: number,
    readonly maxQueue: number,
    /** How long a tight bound keeps setting the origin; a slip (the device falling behind) shows after it. */
    readonly windowMs = 2000,
    /** A write that took longer than this to complete waited for a place in the native queue. */
    readonly waitedMs = 1,
  ) {}

  /** Notes a write of `frames`; returns its number (for completed). */
  wrote(frames: number): number {
    this.starts.push(this.written);
    this.written += frames;
    return this.base + this.starts.length - 1;
  }

  /** Write `n`, handed to naudiodon's native side at `issuedMs` (Node calls _write one write at a time), completed at `nowMs`. */
  completed(n: number, issuedMs: number, nowMs = performance.now()): void {
    const taken = n - this.maxQueue;
    // Writes before `taken` were taken by the device: their starts are no longer needed.
    while (this.base < taken) {
      this.starts.shift();
      this.base++;
    }
    if (nowMs - issuedMs < this.waitedMs || taken < this.base) return;
    const originMs = nowMs - (this.starts[taken - this.base]! * 1000) / this.sampleRate;
    while (this.window.length > 0 && this.window.at(-1)!.originMs >= originMs) this.window.pop();
    this.window.push({ atMs: nowMs, originMs });
    while (this.window.length > 1 && this.window[0]!.atMs < nowMs - this.windowMs) this.window.shift();
  }

  /**
   * Frames in naudiodon's native queue when it is full (the Node side backed up): the last maxQueue
   * writes handed over.
   */
  nativeQueueFrames(completedWrites: number): number {
    let frames = 0;
    for (let n = Math.max(this.base, completedWrites - this.maxQueue); n < completedWrites; n++) {
      const start = this.starts[n - this.base];
      const end = n + 1 - this.base < this.starts.length ? this.starts[n + 1 - this.base]! : this.written;
      if (start !== undefined) frames += end - start;
    }
    return frames;
  }

  /** Frames written and not yet taken by the device at `nowMs`, or null without a recent tight bound. */
  queuedFrames(nowMs = performance.now()): number | null {
    const first = this.window[0];
    if (!first || first.atMs < nowMs - 3 * this.windowMs) return null;
    return Math.max(0, Math.round(this.written - ((nowMs - first.originMs) * this.sampleRate) / 1000));
  }
}

/**
 * Frames written to a device and not yet taken by it: what waits in Node (exact) plus what waits in
 * naudiodon's native queue (0 to `nativeFullFrames`, the last maxQueue writes; never observed directly).
 * The consumption clock places the native share within those bounds when it has the device's timeline;
 * otherwise the queue counts as full only while writes keep waiting for a place in it. (Counting it full whenever Node held a
 * backlog read 60–80 ms high at small targets: a burst of blocks written in one tick is a backlog in
 * Node while the native queue is nearly empty, and the hold then cut until the device underflowed.)
 */
export function untakenEstimate(q: {
  /** ConsumptionClock.queuedFrames: written and not yet taken, or null without a recent tight bound. */
  clockFrames: number | null;
  /** Frames Node still holds (the stream's writableLength), the write naudiodon is busy with included. */
  waitingFrames: number;
  /** What the native queue holds when full. */
  nativeFullFrames: number;
  /** Writes in a row that waited for a place in the native queue. */
  waitedWritesInRow: number;
  pieceFrames: number;
}): number | null {
  // A clock below what Node holds has lost the device's timeline (it slipped: the device waited on an
  // empty queue); it says nothing then.
  if (q.clockFrames !== null && q.clockFrames >= q.waitingFrames) return Math.min(q.clockFrames, q.waitingFrames + q.nativeFullFrames);
  const blocked = q.waitedWritesInRow >= 2 && q.waitingFrames > q.pieceFrames;
  return blocked ? q.waitingFrames + q.nativeFullFrames : null;
}

/** A playback stream taking interleaved float32 blocks; reports how much is queued. */
export class AudioOutputStream implements AudioSink {
  readonly options: DeviceStreamOptions;
  readonly sampleRate: number;
  readonly channels: number;
  /** Over/underflows PortAudio reported on this stream. */
  readonly status: DeviceStatusCounts = emptyStatusCounts();
  private readonly stream: NaudiodonStream;
  private readonly clock: PlayoutClock;
  private readonly consumed: ConsumptionClock;
  private completedWrites = 0;
  /** Writes in a row that waited half a period or more for a place in naudiodon's native queue. */
  private waitedWritesInRow = 0;
  private readonly waitedMs: number;
  private stopped = false;

  constructor(options: DeviceStreamOptions, onError: (error: SvcError) => void) {
    this.options = options;
    this.clock = new PlayoutClock(options.sampleRate);
    this.consumed = new ConsumptionClock(options.sampleRate, options.maxQueueBlocks ?? 4);
    this.sampleRate = options.sampleRate;
    this.channels = options.channels;
    this.waitedMs = (500 * options.framesPerBuffer) / options.sampleRate;
    this.stream = openStream(options, 'output', this.status);
    // Node hands writes to naudiodon one at a time, in order: the n-th _write call is write n.
    const write = this.stream._write.bind(this.stream);
    let issued = 0;
    this.stream._write = (chunk, encoding, callback) => {
      const n = issued++;
      const issuedMs = performance.now();
      write(chunk, encoding, (error?: unknown) => {
        // A write that waited half a period or more found the native queue full (or the event loop was late).
        const waited = performance.now() - issuedMs >= this.waitedMs;
        this.waitedWritesInRow = waited ? this.waitedWritesInRow + 1 : 0;
        this.completedWrites = n + 1;
        this.consumed.completed(n, issuedMs);
        callback(error);
      });
    };
    this.stream.on('error', (error: unknown) => {
      if (!this.stopped) onError(new SvcError('DEVICE_UNAVAILABLE', `audio output device ${options.deviceId} failed: ${portAudioErrorText(error)}`, { cause: error }));
    });
  }

  /**
   * Starts playback primed with `primeFrames` of silence (default: two device buffers): naudiodon's
   * callback blocks until data arrives, so a device started empty underflows before the first block.
   * The priming is latency the output adds, and `queuedFrames` counts it.
   */
  start(primeFrames = 2 * this.options.framesPerBuffer): void {
    if (primeFrames > 0) this.write(new Float32Array(primeFrames * this.channels));
    try {
      this.stream.start();
      this.clock.start();
    } catch (error) {
      throw new SvcError('DEVICE_UNAVAILABLE', `could not start audio output device ${this.options.deviceId}: ${portAudioErrorText(error)}`, { cause: error });
    }
  }

  /**
   * Frames written but not yet played: the wall-clock estimate (PlayoutClock: every buffer down to the
   * device), or more where the device took them later than real time (ConsumptionClock), never less
   * than what still waits in Node.
   */
  get queuedFrames(): number {
    return Math.max(Math.floor(this.stream.writableLength / 4 / this.options.channels), this.clock.queuedFrames, this.untakenFrames() ?? 0);
  }

  untakenFrames(): number | null {
    // Only with short pieces (a period of at most 25 ms): with a 160 ms block per chunk a "full" native
    // queue holds anything from 0 to 640 ms, and the bounds below said seconds for a model's stream.
    const piece = this.options.framesPerBuffer;
    if (piece > this.sampleRate / 40) return null;
    return untakenEstimate({
      clockFrames: this.consumed.queuedFrames(),
      waitingFrames: Math.floor(this.stream.writableLength / 4 / this.options.channels),
      nativeFullFrames: this.consumed.nativeQueueFrames(this.completedWrites),
      waitedWritesInRow: this.waitedWritesInRow,
      pieceFrames: piece,
    });
  }

  /**
   * Queues interleaved samples (length = frames × channels), in pieces of at most one device period:
   * naudiodon's native queue counts chunks, so small pieces keep what waits there (and the consumption
   * clock's step) to a few periods whatever the caller's block.
   */
  write(interleaved: Float32Array): void {
    if (this.stopped) return;
    const piece = this.options.framesPerBuffer * this.channels;
    for (let at = 0; at < interleaved.length; at += piece) {
      const part = interleaved.subarray(at, Math.min(interleaved.length, at + piece));
      this.clock.wrote(part.length / this.channels);
      this.consumed.wrote(part.length / this.channels);
      this.stream.write(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
    }
  }

  /**
   * Stops playback. `drainMs` > 0 first waits (up to that long) for the Node-side queue to reach the
   * device, so the end of the audio is played. Safe to call twice.
   */
  async stop(drainMs = 0): Promise<void> {
    if (this.stopped) return;
    const deadline = Date.now() + drainMs;
    while (drainMs > 0 && this.stream.writableLength > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    this.stopped = true;
    // naudiodon's abort() is broken (it calls the native quit with two arguments), so quit() it is.
    await new Promise<void>((resolvePromise) => {
      const timer = setTimeout(() => {
        wedged++;
        resolvePromise();
      }, 2000); // a wedged driver must not hang Ctrl-C
      this.stream.quit(() => {
        clearTimeout(timer);
        resolvePromise();
      });
    });
  }
}
