// `svc live`: microphone → voice changer → speakers on this machine, through PortAudio.
//   input device ──(f32 frames)──► ConvertSession (the server's own session engine: resampling to the
//   voice's rate, the bounded pipeline, the voice, resampling back) ──► output device
// The voice is the built-in DSP voice or, with --model, a So-VITS model built by the same resolver as
// `svc serve --model`, so live and served conversion cannot drift apart. Without --block-ms a model's
// block is chosen from its measured speed at load (src/engine/blockChoice.ts). The pipeline's queue is
// bounded (behind-real-time policy, default silence: the real voice never goes out), and the output
// side bounds the queue for the sound card: --latency-ms holds the whole delay (src/audio/latencyHold.ts,
// on the sample clock below) at a given figure or, by default (auto), at one it finds (AutoLatencyTarget);
// with --latency-ms off blocks are dropped when more than --max-output-ms waits. Once a
// second it prints the latency (the sample clock: capture time to play time of each block, see delayOf)
// with its parts (time-averaged buffer levels, voice delay and compute) and counters; Ctrl-C (or
// --duration) stops cleanly.
// With --virtual-mic the output is a PulseAudio/PipeWire virtual microphone (src/audio/virtualMic.ts)
// instead of a sound card; it is removed again on every way out.
import type { Command } from 'commander';
import { Option } from 'commander';
import { AudioInputStream, AudioOutputStream, defaultDevice, findDevice, probeAudioDevices, type AudioDevice, type AudioSink, type DeviceStatusCounts, wedgedStreamCount } from '../../audio/devices.js';
import { CaptureClock } from '../../audio/captureClock.js';
import { AutoLatencyTarget, fadeInHead, fadeOutTail, HOLD_FADE_MS, LatencyHold, latencyFloorMs, QuietDetector, RecentPercentile } from '../../audio/latencyHold.js';
import { pactl } from '../../audio/pactl.js';
import { latenciesUnlisted, pulseStreams, soundServerName, type PulseStreams } from '../../audio/pulseLatency.js';
import { DEFAULT_VIRTUAL_MIC_NAME, VirtualMic } from '../../audio/virtualMic.js';
import { SvcError } from '../../errors.js';
import { BEHIND_POLICIES, DEFAULT_BEHIND_POLICY, type BehindPolicy } from '../../engine/pipeline.js';
import { chooseBlockMs, describeBlockChoice } from '../../engine/blockChoice.js';
import { F0_CHOICES, type F0Choice } from '../../dsp/f0/index.js';
import { loadBuiltinStageFactory } from '../../server/server.js';
import { ConvertSession } from '../../stream/session.js';
import { encodeFrame } from '../../stream/codec.js';
import { ModelResolver, modelDisplayName } from '../../voices/registry.js';
import { VOICE_LIMITS, type StageFactory } from '../../voices/stage.js';
import { numberArg, parseNumberOption, rightContextFramesOption } from '../options.js';

export interface LiveOptions {
  input?: number;
  output?: number;
  rate?: number;
  /** Block length; default 20 ms for the DSP voice, measured per model. */
  blockMs?: number;
  /** An installed So-VITS model or a bundle folder (as `svc serve --model`); default the DSP voice. */
  model?: string;
  speaker?: string;
  f0: F0Choice;
  rightContextFrames?: number;
  /**
   * Constant total latency (input to output): a target in ms; `auto` (the default) holds the smallest
   * delay the devices play without running dry (AutoLatencyTarget); `off` holds nothing and keeps the
   * output queue short (--max-output-ms).
   */
  latencyMs?: number | 'auto' | 'off';
  pitch: number;
  formant: number;
  outputChannels?: number;
  duration?: number;
  policy: BehindPolicy;
  maxQueueMs?: number;
  maxOutputMs: number;
  statsInterval: number;
  json: boolean;
  /** true (default name) or the virtual microphone's name; output goes there instead of a device. */
  virtualMic?: boolean | string;
}

function pickDevices(devices: AudioDevice[], options: LiveOptions): { input: AudioDevice; output: AudioDevice | null } {
  const input = options.input === undefined ? defaultDevice(devices, 'input') : findDevice(devices, options.input, 'input');
  if (options.virtualMic !== undefined && options.virtualMic !== false) return { input, output: null };
  const output = options.output === undefined ? defaultDevice(devices, 'output') : findDevice(devices, options.output, 'output');
  return { input, output };
}

/**
 * Time averages of the latency's varying parts between two status lines: queue levels sampled every
 * QUEUE_SAMPLE_MS (a period prime to usual block lengths, so the saw-tooth is sampled at all phases),
 * and each input chunk's lateness.
 */
class QueueAverages {
  private sums = new Map<string, { total: number; count: number }>();
  /** Last interval's means, kept when an interval saw no sample. */
  private last = new Map<string, number>();

  add(name: string, value: number): void {
    const s = this.sums.get(name) ?? { total: 0, count: 0 };
    s.total += value;
    s.count++;
    this.sums.set(name, s);
  }

  mean(name: string): number {
    const s = this.sums.get(name);
    if (s && s.count > 0) this.last.set(name, s.total / s.count);
    return this.last.get(name) ?? 0;
  }

  reset(): void {
    this.sums.clear();
  }
}

const QUEUE_SAMPLE_MS = 7;

/** Output underflows in the first 5 s (no --latency-ms) that make svc live say so. */
const UNDERFLOW_WARNING_COUNT = 3;

/** `--latency-ms`: a number of ms, `auto` or `off`. */
export function latencyArg(raw: string): number | 'auto' | 'off' {
  if (raw === 'auto' || raw === 'off') return raw;
  return parseNumberOption('--latency-ms', raw, { min: 5, max: 5000 });
}

/**
 * What `--latency-ms auto` adds to the floor on paper when the output is a PulseAudio stream, ms. The
 * sound server's requests, not the voice, set the queue it needs (DSP voice, floor on paper 90–150 ms:
 * held at 200 ms, no underflow; from the paper floor, rising 50 ms per run of underflows, the first
 * seconds ran dry 4–7 times and the delay read 60–85 ms high from then on, 143 measured / 204 shown:
 * the consumption clock cannot follow a device that is starved). Starting above it avoids that regime; a
 * raw ALSA device on a machine that also runs a sound server gets the margin too.
 */
const PULSE_AUTO_MARGIN_MS = 100;
/**
 * naudiodon's native queue, in pieces of one device period (20 ms), while a latency is held. The hold's
 * clock knows how much audio waits for the device only while writes back up behind a full native queue
 * (each write that completes then marks the moment the device took a piece: ConsumptionClock); with
 * PulseAudio holding 60–70 ms of its own, a 190–200 ms target leaves about 60 ms for this process to queue,
 * under the 4 pieces (80 ms) of the default, so writes never backed up and the clock read 20–80 ms high
 * (DSP voice, auto: 110–161 ms measured for 190–205 held, load under 2). With 2 pieces (40 ms) the same
 * runs measured 185–200 ms for 190–201 held. A stall of this process is still bridged by the native
 * queue plus PulseAudio's buffer (100 ms or more).
 */
const HELD_NATIVE_QUEUE_PIECES = 2;

/** Half the latency hold's dead band, ms (LatencyHold.toleranceMs). */
const HOLD_TOLERANCE_MS = 20;

/** ", device glitches: …" when PortAudio reported any (counted, never fatal). */
function deviceGlitches(input: DeviceStatusCounts | undefined, output: DeviceStatusCounts): string {
  const parts: string[] = [];
  if (input?.inputOverflows) parts.push(`input overflows ${input.inputOverflows}`);
  if (input?.inputUnderflows) parts.push(`input underflows ${input.inputUnderflows}`);
  if (output.outputUnderflows) parts.push(`output underflows ${output.outputUnderflows}`);
  if (output.outputOverflows) parts.push(`output overflows ${output.outputOverflows}`);
  return parts.length ? `, device glitches: ${parts.join(', ')}` : '';
}

/** Copies mono samples to every channel of an interleaved buffer. */
export function interleaveMono(mono: Float32Array, channels: number): Float32Array {
  if (channels === 1) return mono;
  const out = new Float32Array(mono.length * channels);
  for (let i = 0; i < mono.length; i++) for (let c = 0; c < channels; c++) out[i * channels + c] = mono[i]!;
  return out;
}

export async function runLive(options: LiveOptions, log: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<void> {
  const { devices } = probeAudioDevices();
  if (devices.length === 0) {
    throw new SvcError('DEVICE_UNAVAILABLE', 'no audio devices found: PortAudio sees no microphone and no speakers', {
      hint: 'check `svc devices`, `arecord -l` and `aplay -l`; without a sound card, define a virtual device (scripts/virtual-audio/README.md)',
    });
  }
  if (options.virtualMic && options.output !== undefined) {
    throw new SvcError('INVALID_ARGUMENT', '--virtual-mic and --output both choose where the voice goes; give one', { hint: 'drop --output to play into the virtual microphone' });
  }
  const { input, output } = pickDevices(devices, options);
  const rate = options.rate ?? (input.defaultSampleRate > 0 ? Math.round(input.defaultSampleRate) : 48000);
  if (rate < 8000 || rate > 96000) throw new SvcError('INVALID_ARGUMENT', `--rate must be 8000..96000 Hz, got ${rate}`);
  const outputChannels = options.outputChannels ?? (output ? Math.min(2, output.outputChannels) : 1);
  if (output && outputChannels > output.outputChannels) {
    throw new SvcError('DEVICE_UNAVAILABLE', `output device ${output.id} (${output.name}) has ${output.outputChannels} channel(s), --output-channels asked for ${outputChannels}`);
  }
  const durationSamples = options.duration === undefined ? Infinity : Math.round(options.duration * rate);
  const voice = { pitch: options.pitch, formant: options.formant };

  // The voice, exactly as `svc serve` builds it: the DSP voice, or a model through the server's resolver.
  const models = new ModelResolver({ builtin: loadBuiltinStageFactory, f0Method: options.f0, rightContextFrames: options.rightContextFrames });
  let session: ConvertSession | null = null;
  let inStream: AudioInputStream | null = null;
  let outStream: AudioSink | null = null;
  let virtualMic: VirtualMic | null = null;
  let statsTimer: NodeJS.Timeout | null = null;
  let sampleQueues: NodeJS.Timeout | null = null;
  let pulseTimer: NodeJS.Timeout | null = null;
  const counters = { inputSamples: 0, outputSamples: 0, outputBlocksDropped: 0, inputPauses: 0 };
  let stopping = false;
  const startedMs = Date.now();
  let finish: (error?: SvcError) => void = () => {};
  const finished = new Promise<SvcError | undefined>((resolvePromise) => (finish = resolvePromise));
  const onSignal = (): void => finish();
  // A warning or notice, once: a line of text, or with --json an object with a stable code.
  const tell = (type: 'warning' | 'notice', code: string, message: string, fields: Record<string, unknown> = {}): void =>
    log(options.json ? JSON.stringify({ type, code, message, ...fields }) : `svc live: ${type === 'warning' ? 'warning: ' : ''}${message}`);

  try {
    const stageFactory: StageFactory = options.model === undefined ? await loadBuiltinStageFactory() : await models.defaultFactory(options.model, options.speaker);
    const modelName = options.model === undefined ? 'builtin' : modelDisplayName(options.model) + (options.speaker === undefined ? '' : `:${options.speaker}`);
    let blockMs = options.blockMs ?? 20;
    // The voice's compute per block (p95, timed here at start): part of a latency target's floor.
    let computeMsP95 = 0;
    if (options.blockMs === undefined && options.model !== undefined) {
      const choice = await chooseBlockMs(stageFactory, { sampleRate: rate, voice });
      blockMs = choice.blockMs;
      computeMsP95 = choice.measured.at(-1)!.computeMsP95;
      log(`svc live: ${modelName} ${describeBlockChoice(choice)} (--block-ms overrides)`);
    } else if (options.latencyMs !== 'off') {
      computeMsP95 = (await chooseBlockMs(stageFactory, { sampleRate: rate, voice, candidatesMs: [blockMs] })).measured[0]!.computeMsP95;
    }
    const blockSamples = Math.max(16, Math.round((rate * blockMs) / 1000));
    await ConvertSession.ready();
    session = new ConvertSession({
      id: 'live',
      sampleRate: rate,
      format: 'f32',
      channels: 1,
      blockMs,
      voice,
      stageFactory,
      policy: options.policy,
      maxQueueMs: options.maxQueueMs,
      modelName,
    });
    const live = session;
    const sink = live.attachSink({ sampleRate: rate, format: 'f32', channels: 1 });
    const latency = sink.latency();
    // What a latency target cannot go below (latencyFloorMs): before audio flows, the voice's block and
    // delay, the devices' nominal latency, the compute measured above, one block of output queue and the
    // hold's band; once it flows, measured per block (floorCheck below: input bursts and load included).
    const fixedMs = latency.algorithmicMs + input.defaultLowInputLatencyMs + (output ? output.defaultLowOutputLatencyMs : 0);
    const startFloorMs = Math.ceil(latencyFloorMs({ beforeQueueMs: fixedMs + computeMsP95, blockMs: latency.blockMs, toleranceMs: HOLD_TOLERANCE_MS }));
    const latencyMode = options.latencyMs === undefined || options.latencyMs === 'auto' ? 'auto' : options.latencyMs === 'off' ? 'off' : 'fixed';
    // auto: from the floor on paper (rounded up to 10 ms), plus PulseAudio's own need when a sound server
    // answers and the output is a device (its ALSA devices are then its streams) or the virtual microphone
    // (a stream of that server), rising when the device keeps running dry. The margin goes in before
    // audio flows: the output is primed to it.
    const soundServer = latencyMode === 'auto' && (output !== null || Boolean(options.virtualMic)) && (await pactl(['info'])).status === 0;
    const autoTarget = latencyMode === 'auto' ? new AutoLatencyTarget(Math.ceil(startFloorMs / 10) * 10 + (soundServer ? PULSE_AUTO_MARGIN_MS : 0)) : null;
    // The target the hold starts at (undefined: no hold).
    const targetMs = typeof options.latencyMs === 'number' ? options.latencyMs : autoTarget?.targetMs;
    if (latencyMode === 'fixed' && targetMs !== undefined && targetMs < startFloorMs) {
      throw new SvcError(
        'INVALID_ARGUMENT',
        `--latency-ms ${targetMs} is below what this voice and these devices need: at least ${startFloorMs} ms (${fixedMs.toFixed(0)} ms fixed + ${computeMsP95.toFixed(0)} ms compute (p95, measured now) + one ${latency.blockMs} ms block of output queue + ${HOLD_TOLERANCE_MS} ms hold band), more when the input comes in bursts`,
        { hint: `use --latency-ms ${Math.ceil(startFloorMs + 3 * latency.blockMs)} or more, or a smaller --block-ms` },
      );
    }
    const wantedQueueFrames = targetMs === undefined ? 0 : Math.round(((targetMs - fixedMs) * rate) / 1000);
    // At least two blocks: the output gets a whole block at a time (320 ms for a slow model).
    const unheldMaxOutputFrames = Math.round((Math.max(options.maxOutputMs, 2 * blockMs) * rate) / 1000);
    let maxOutputFrames = targetMs !== undefined ? wantedQueueFrames + blockSamples : unheldMaxOutputFrames;

    // With a latency target the device's period is at most 20 ms whatever the block, and audio goes to
    // naudiodon in pieces of one period (AudioOutputStream.write), HELD_NATIVE_QUEUE_PIECES at most in its
    // native queue: the delay is held in the queue this process measures, the device's consumption clock
    // (devices.ts) gets a bound every 20 ms, and no 160 ms chunk half played hides in between (the tiny
    // model's 160 ms blocks swung the clock by up to a block).
    const framesPerBuffer = targetMs === undefined ? blockSamples : Math.min(blockSamples, Math.round(rate / 50));
    const maxQueueBlocks = targetMs === undefined ? undefined : HELD_NATIVE_QUEUE_PIECES;
    // The PortAudio device the voice plays through: the output, or the virtual microphone's PulseAudio
    // stream (VirtualMic.openDeviceSink); null when that goes through pacat.
    let playbackDevice: AudioDevice | null = output;
    if (output) {
      outStream = new AudioOutputStream({ deviceId: output.id, device: output, sampleRate: rate, channels: outputChannels, framesPerBuffer, maxQueueBlocks }, (error) => finish(error));
    } else {
      virtualMic = new VirtualMic({ name: typeof options.virtualMic === 'string' ? options.virtualMic : DEFAULT_VIRTUAL_MIC_NAME, sampleRate: rate });
      await virtualMic.settle();
      const viaDevice = virtualMic.openDeviceSink({ channels: outputChannels, framesPerBuffer, maxQueueBlocks, onError: (error) => finish(error) });
      if (viaDevice) {
        outStream = viaDevice.stream;
        playbackDevice = viaDevice.device;
      } else {
        // The sound server's own buffer: with a latency target, what the output queue will hold (robust to
        // this process stalling); else one block, at least 40 ms (pacat must get the CPU in time).
        const serverBufferMs = Math.max(40, targetMs !== undefined ? (wantedQueueFrames * 1000) / rate : blockMs);
        outStream = virtualMic.openSink({ channels: outputChannels, latencyMs: serverBufferMs, onError: (error) => finish(error) });
        tell(
          'notice',
          'VIRTUAL_MIC_VIA_PACAT',
          `the virtual microphone plays through pacat: ALSA's "pulse" device was not found or did not reach ${virtualMic.sinkName}, and through pacat a stall of the sound server can add delay that the latency shown does not include`,
          { hint: 'install ALSA\'s PulseAudio plugin (Debian/Ubuntu: libasound2-plugins)' },
        );
      }
      virtualMic.watch((error) => finish(error));
    }
    const out = outStream;
    const outputName = output ? `"${output.name}" (#${output.id})` : `virtual microphone "${virtualMic!.sourceName}"`;
    const outputDeviceMs = playbackDevice ? playbackDevice.defaultLowOutputLatencyMs : 0;

    // The sound server's share, when the devices are PulseAudio's (ALSA's pulse plugin): what its
    // capture stream holds (recorded, not yet read), its source's and sink's own latency (the playback
    // stream's buffer is in the output queue, timed by the clock). Polled with each status line;
    // PortAudio's figures otherwise.
    let pulse: PulseStreams | null = null;
    // The playback stream's buffer swings between 0 and its target (PulseAudio's tlength) from one poll
    // to the next: the clock below uses its running mean.
    // The sink's latency reads high while the stream starts (over a second in the first poll): the
    // means start once output has flowed for half a second.
    const pulsePlayback = { bufferMs: null as number | null, deviceMs: null as number | null };
    let pulsePolls = 0;
    const mean = (previous: number | null, value: number): number => (previous === null ? value : 0.8 * previous + 0.2 * value);
    // PipeWire's PulseAudio server lists 0 µs for every stream (latenciesUnlisted): the figure then leaves
    // the sound server's share out, which is said once, when output has flowed (the streams are all up).
    let serverChecked = false;
    const checkServer = (p: PulseStreams): void => {
      serverChecked = true;
      void soundServerName().then((server) => {
        if (!latenciesUnlisted(server, p)) return;
        const message = `${server} lists no latency for svc's streams (0 µs), so the latency shown leaves out the sound server's own buffers (70–100 ms more measured through PipeWire 0.3.65), and a delay held with --latency-ms is that much longer`;
        tell('notice', 'SOUND_SERVER_LATENCY_UNLISTED', message, { soundServer: server });
      });
    };
    const pollPulse = (): void =>
      void pulseStreams().then((p) => {
        pulse = p;
        pulsePolls++;
        if (p && !serverChecked && counters.outputSamples > rate / 2) checkServer(p);
        const playback = playbackDevice ? p?.playback[0] : undefined;
        if (playback && counters.outputSamples > rate / 2) {
          pulsePlayback.bufferMs = mean(pulsePlayback.bufferMs, playback.bufferMs);
          pulsePlayback.deviceMs = mean(pulsePlayback.deviceMs, playback.deviceMs);
        }
      });

    // The parts of the latency, by Little's law (the figure reported is the sample clock's, delayOf
    // below; the parts are its breakdown): the time-averaged content of
    // every buffer it passes (ms of audio) plus the voice's signal delay and the compute that holds a
    // block. The block itself is not a separate term: waiting for a block to fill is what the input
    // queues hold on average (and the output queue's saw-tooth, one block at a time). Averaging the
    // queues over time matters: sampled once a second they swing by a block (160 ms for a model), and a
    // sum of instants counted the block two or three times (1017 ms reported for 735 ms measured).
    const queues = new QueueAverages();
    // A long window: the capture side never loses audio to a stalled reader here (PortAudio's thread
    // blocks on naudiodon's queue and the sound server keeps seconds), while event-loop stalls of a second
    // on a loaded machine made a 1 s window lose the early arrivals that set the clock (500 ms errors).
    const capture = new CaptureClock(rate, 10_000);
    sampleQueues = setInterval(() => {
      queues.add('pipelineQueueMs', (live.pipeline.stats().queueSamples * 1000) / live.stage.sampleRate);
      queues.add('outputQueueMs', (out.queuedFrames * 1000) / rate);
    }, QUEUE_SAMPLE_MS);
    sampleQueues.unref();
    const latencyParts = (): { totalMs: number; text: string; parts: Record<string, number> } => {
      const p = live.pipeline.stats();
      const captured = pulse?.capture[0];
      const playback = playbackDevice ? pulse?.playback[0] : undefined;
      const parts = {
        voiceMs: latency.delayMs,
        computeMs: p.compute.meanMs,
        inputDeviceMs: captured ? captured.bufferMs + captured.deviceMs : input.defaultLowInputLatencyMs,
        inputLateMs: queues.mean('inputLateMs'),
        pipelineQueueMs: queues.mean('pipelineQueueMs'),
        outputQueueMs: queues.mean('outputQueueMs'),
        outputDeviceMs: playback ? playback.deviceMs : outputDeviceMs,
      };
      queues.reset();
      const sumMs = Object.values(parts).reduce((a, b) => a + b, 0);
      // The sample clock's figure (delayOf): the mean delay of the blocks written since the last line (the
      // last line's when none was). It is what is reported: it counts the time a device that ran slower
      // than real time added (underflows), which no buffer level shows. With a target, the figure is the
      // delay held (the blocks' delays after correction). The parts' sum stays as a breakdown.
      if (clockDelays.length) lastClockMs = clockDelays.reduce((a, b) => a + b, 0) / clockDelays.length;
      clockDelays.length = 0;
      const clockMs = lastClockMs ?? NaN;
      const totalMs = hold?.heldMs() ?? lastClockMs ?? sumMs;
      const text =
        (hold ? `held at ${hold.targetMs} ms${autoTarget ? ' (auto)' : ''}; ` : '') +
        `sample clock; parts: voice ${parts.voiceMs.toFixed(1)} + compute ${parts.computeMs.toFixed(1)} + device in ${parts.inputDeviceMs.toFixed(1)}${pulse ? ' (PulseAudio)' : ''}` +
        ` + late input ${parts.inputLateMs.toFixed(1)} + queues ${(parts.pipelineQueueMs + parts.outputQueueMs).toFixed(1)} (blocks of ${latency.blockMs.toFixed(0)}) + device out ${parts.outputDeviceMs.toFixed(1)} = ${sumMs.toFixed(0)}`;
      return { totalMs, text, parts: { blockMs: latency.blockMs, ...parts, sumMs, clockMs } };
    };

    let chunksLost = 0;
    let inputPaused = false;
    let resumeTimer: NodeJS.Timeout | null = null;
    const resumeWhenDrained = (): void => {
      // Back-pressure: pull input again once the output queue is down to half its bound.
      if (out.queuedFrames <= maxOutputFrames / 2 || stopping) {
        inputPaused = false;
        resumeTimer = null;
        inStream?.resume();
      } else resumeTimer = setTimeout(resumeWhenDrained, 5);
    };
    // Constant latency (--latency-ms): everything but the output queue is close to fixed, so the queue is
    // primed to the rest and held there. A stall upstream needs no padding: it moves audio from the output
    // queue to the input side and the burst that follows refills it, the total unchanged. Only an
    // underrun (the device played silence) adds delay; the queue then exceeds its level by that much and
    // the blocks above it are dropped, restoring the target. (A controller that also padded to the
    // measured total oscillated on a loaded machine: the parts swing by tens of ms from second to second.)
    // It decides on the median delay of the last 400 ms of blocks (at least 5): single blocks' delays swing
    // by tens of ms with the event loop's lateness at load, and a 5-block median padded and cut 0.5–1.7 s
    // of 14 s at --latency-ms 400 with 0–1 output underflows (0.2–0.5 s with 400 ms).
    let hold = targetMs === undefined ? null : new LatencyHold(targetMs, rate, HOLD_TOLERANCE_MS, Math.max(5, Math.round(400 / blockMs)));
    const latencyControl = hold?.counters ?? null;
    const quietness = new QuietDetector(rate);
    let fadeInNext = false;
    // Whether the devices run on a clock. Virtual ALSA devices on the null plugin (scripts/virtual-audio)
    // have none: they deliver and take audio as fast as the program goes (3 s of input in a fraction of
    // a second), so a delay measured against the wall clock means nothing, and a hold cut 2.5 s of 3 s
    // as "late". Decided from 1 s of input on (the output is primed to the target until then, and nothing
    // is held): more than 250 ms ahead of the wall clock is no real device (PulseAudio's capture burst at
    // start is one 20 ms period; only a stall at the start puts a real device ahead, by its length), then
    // nothing is held; under 100 ms ahead it is one; between, it waits for more input (at most 5 s).
    // Those virtual devices go only as fast as svc reads them: 1.7–2.5× real time on this 2-core machine,
    // 1.3× when both cores were busy. A one-shot check after 0.5 s (208–295 ms ahead there) once called one
    // real on a busy CI machine, and the hold cut its input as late; after 1 s it was 612–654 ms ahead in
    // 4 runs beside two busy loops, and 244 in the fifth.
    let deviceClock: 'unknown' | 'real' | 'none' = 'unknown';
    const checkDeviceClock = (arrivedMs: number): void => {
      const ahead = deviceClock === 'unknown' ? capture.aheadOfRealTime(arrivedMs) : null;
      if (ahead === null || ahead.audioMs < 1000) return;
      if (ahead.aheadMs >= 100 && ahead.aheadMs <= 250 && ahead.audioMs < 5000) return;
      deviceClock = ahead.aheadMs > 250 ? 'none' : 'real';
      if (deviceClock === 'real' || !hold) return;
      hold = null;
      maxOutputFrames = unheldMaxOutputFrames;
      const message = `the audio devices have no clock (${(ahead.audioMs / 1000).toFixed(1)} s of input came in ${ahead.wallMs.toFixed(0)} ms: a virtual device?), so no latency is held`;
      tell('notice', 'NO_DEVICE_CLOCK', message);
    };
    // The delay of each output block's first sample, sample by sample: when the input sample it carries
    // was captured (the capture clock, less the input device's own latency) to when the device will play
    // it (now, plus what is queued ahead of it by the later of the wall-clock and consumption clocks, plus
    // the sound server's buffer and the output device's latency). Output sample k carries input sample
    // k − the voice's delay; blocks the pipeline skipped and input chunks PortAudio lost are counted too.
    let sessionSamples = 0;
    const clockDelays: number[] = [];
    let lastClockMs: number | null = null;
    const delayOf = (sessionIndex: number): number | null => {
      // Input that never comes out: blocks the policy skipped, samples a full ring buffer discarded.
      const p = live.pipeline.stats();
      const vanishedSamples = Math.round(((p.blocksSkipped * live.pipeline.blockSamples + p.overflowSamples) * rate) / live.stage.sampleRate);
      const captured = capture.timeOf(sessionIndex - latency.delaySamples + vanishedSamples + chunksLost * blockSamples);
      if (captured === null) return null;
      const captureDevice = pulse?.capture[0];
      // The source's latency and the capture stream's buffer: even the earliest chunk, which sets the capture
      // clock's origin, left PulseAudio's buffer at its level (20 ms here, one device period now that input
      // is read a block at a time), so without it the clock read that much short. Measured with the DSP voice
      // and clicks, load 0.4–0.7 (bench/live-latency.ts): --latency-ms 200 held 236 ms printing 212 without
      // it, 200–220 printing 210 with it; 400: 437 / 413 against 415–435 / 410.
      const inputDeviceMs = captureDevice ? captureDevice.deviceMs + captureDevice.bufferMs : input.defaultLowInputLatencyMs;
      const untaken = out.untakenFrames?.() ?? null;
      // What waits for the device: where the sound server's buffer is known (PulseAudio, polled) and the
      // consumption clock has a bound, those two alone. The wall-clock estimate (part of queuedFrames) is
      // left out there: after PulseAudio's stream runs dry it drops the audio that comes late, and the wall
      // clock, which counts every write, then reads high for good (auto with the DSP voice: 240 ms printed,
      // 138 measured; without it 219 / 230, and --latency-ms 200 the same as with it: 212 / 195–215).
      const aheadFrames =
        untaken !== null && pulsePlayback.bufferMs !== null
          ? untaken + (pulsePlayback.bufferMs * rate) / 1000
          : Math.max(out.queuedFrames, untaken === null ? 0 : untaken + ((pulsePlayback.bufferMs ?? 0) * rate) / 1000);
      const nowMs = performance.now();
      const beforeQueueMs = nowMs - captured + inputDeviceMs + (pulsePlayback.deviceMs ?? outputDeviceMs);
      if (counters.inputSamples >= rate) beforeQueue.add(beforeQueueMs);
      return beforeQueueMs + (aheadFrames * 1000) / rate;
    };
    // PulseAudio's share of the delay (its stream's buffer and its sink's latency, 60–70 ms here) is known
    // only from the polls that start once output has flowed for half a second. A hold that corrected
    // before then padded the output to the target without that share (about 100 ms of silence) and then
    // cut it back in 20 ms steps, and each cut that left naudiodon's native queue part empty left the
    // clock reading 10–20 ms high: `auto` measured 158–171 ms for 196–214 held. So the hold waits for
    // those figures (at most 2 s of output; the primed queue holds the start meanwhile).
    const awaitingServerFigures = (): boolean =>
      playbackDevice !== null && counters.outputSamples < 2 * rate && (pulsePolls === 0 || ((pulse?.playback.length ?? 0) > 0 && pulsePlayback.bufferMs === null));
    sink.frames$.subscribe((frame) => {
      let block = new Float32Array(frame.byteLength >> 2);
      new Uint8Array(block.buffer).set(frame.subarray(0, block.length * 4));
      const sessionIndex = sessionSamples;
      sessionSamples += block.length;
      const delayMs = delayOf(sessionIndex);
      if (delayMs !== null) clockDelays.push(delayMs);
      if (hold && deviceClock === 'real' && !awaitingServerFigures()) {
        // Constant latency: silence added when the delay is short, audio cut when long, in a pause when
        // one comes in time (LatencyHold). Before anything played the silence goes first (the start);
        // later it follows the block, whose end fades out, and the next block fades in.
        const quiet = quietness.isQuiet(block);
        const frames = delayMs === null ? 0 : hold.correct(delayMs, block.length, quiet);
        const fadeFrames = Math.round((HOLD_FADE_MS * rate) / 1000);
        if (fadeInNext) fadeInHead(block, fadeFrames);
        fadeInNext = frames !== 0 && counters.outputSamples > 0;
        if (frames > 0 && counters.outputSamples === 0) out.write(new Float32Array(frames * outputChannels));
        else if (frames > 0) {
          counters.outputSamples += block.length;
          out.write(interleaveMono(fadeOutTail(block, fadeFrames), outputChannels));
          out.write(new Float32Array(frames * outputChannels));
          return;
        } else if (frames < 0) block = fadeOutTail(block.subarray(0, block.length + frames), fadeFrames);
        if (block.length === 0) return;
      } else if (!hold && out.queuedFrames > maxOutputFrames) {
        // Bounded output: if the card is not taking audio as fast as it comes, drop this block ...
        counters.outputBlocksDropped++;
        return;
      }
      counters.outputSamples += block.length;
      out.write(interleaveMono(block, outputChannels));
      // ... and before that happens, stop pulling input (an input device running faster than the
      // output device, e.g. two cards with different clocks, then drops at the input side instead).
      if (!hold && !inputPaused && out.queuedFrames > maxOutputFrames / 2) {
        inputPaused = true;
        counters.inputPauses++;
        inStream?.pause();
        resumeTimer = setTimeout(resumeWhenDrained, 5);
      }
    });
    // Each block's time from capture to the output queue plus the device's output latency (delayOf),
    // p90 over the run after its first second (start-up): with one block of queue, the smallest target
    // that holds here (latencyFloorMs; the band is left out: the median the hold decides on is below the
    // p90). The p95 with the band said 264 ms at load 5.4 for a run that held 200 (196–208 measured),
    // event-loop jitter at load being what sets the tail. Checked once, after 5 s of input: a target
    // below it is said plainly, with the target that can be held, and the run goes on (the hold then
    // cuts what the underflows add).
    const beforeQueue = new RecentPercentile();
    let floorMs = startFloorMs;
    let floorChecked = false;
    const floorCheck = (): void => {
      const p90 = beforeQueue.at(0.9);
      if (floorChecked || counters.inputSamples < 5 * rate || p90 === null) return;
      floorChecked = true;
      floorMs = Math.max(startFloorMs, Math.ceil(latencyFloorMs({ beforeQueueMs: p90, blockMs: latency.blockMs, toleranceMs: 0 })));
      if (autoTarget) {
        // The sound server's need sits above the measured floor as above the one on paper.
        const raised = autoTarget.atLeast(floorMs + (soundServer ? PULSE_AUTO_MARGIN_MS : 0));
        if (raised !== null) hold?.raiseTarget(raised, false);
        return;
      }
      if (targetMs === undefined || targetMs >= floorMs) return;
      const message = `--latency-ms ${targetMs} cannot be held here: blocks reach the output ${p90.toFixed(0)} ms after capture (p90: the voice's delay, input bursts, compute ${computeMsP95.toFixed(0)} ms, devices, the machine's load), so the output queue runs dry; it needs at least ${floorMs} ms (try --latency-ms ${floorMs})`;
      tell('warning', 'LATENCY_TARGET_TOO_LOW', message, { latencyFloorMs: floorMs });
    };
    // auto: each time the device ran dry, a higher target (AutoLatencyTarget), said once per rise.
    const autoCheck = (nowMs: number): void => {
      const raised = autoTarget?.update(out.status.outputUnderflows, nowMs) ?? null;
      if (raised === null) return;
      hold?.raiseTarget(raised);
      const message = `the output device ran dry: latency held at ${raised} ms from now on${raised >= autoTarget!.maxMs ? ' (the most auto goes to)' : ''}`;
      tell('notice', 'LATENCY_RAISED', message, { latencyTargetMs: raised });
    };
    // With --latency-ms off the output queue is kept short, and on PulseAudio (ALSA's pulse plugin) it runs dry
    // again and again even on a quiet machine: 12–41 output underflows in 14 s with the DSP voice (load
    // 0.5–2), each a gap you can hear, after which PulseAudio plays on from later audio, so the delay
    // falls (79 ms measured) while the sample clock, which counts what was written, reads high (167 ms
    // printed). --latency-ms 200 held 209–215 ms with none. Said once, after 5 s, with a target to try.
    let underflowsChecked = false;
    const underflowCheck = (): void => {
      if (underflowsChecked || targetMs !== undefined || counters.inputSamples < 5 * rate) return;
      underflowsChecked = true;
      const underflows = out.status.outputUnderflows;
      if (underflows < UNDERFLOW_WARNING_COUNT) return;
      const suggestMs = Math.ceil((floorMs + 100) / 10) * 10;
      const message = `the output device ran dry ${underflows} times in the first 5 s: you may hear crackles, and the latency shown reads high (the sound server plays on from later audio after each); hold the delay instead: leave out --latency-ms off (auto finds the delay that plays cleanly) or give --latency-ms ${suggestMs} (or more)`;
      tell('warning', 'OUTPUT_UNDERFLOWS', message, { outputUnderflows: underflows, suggestedLatencyMs: suggestMs });
    };
    inStream = new AudioInputStream(
      { deviceId: input.id, device: input, sampleRate: rate, channels: 1, framesPerBuffer: blockSamples },
      (samples) => {
        const arrivedMs = performance.now();
        // Chunks naudiodon dropped with a status report were recorded all the same: the count moves on.
        const lostNow = (inStream?.status.inputChunksLost ?? 0) - chunksLost;
        if (lostNow > 0) capture.lost(lostNow * blockSamples);
        chunksLost += lostNow;
        queues.add('inputLateMs', capture.arrived(samples.length, arrivedMs));
        checkDeviceClock(arrivedMs);
        floorCheck();
        underflowCheck();
        if (counters.inputSamples >= durationSamples) return;
        // (Not once the input is over: the output then runs dry by design.)
        autoCheck(arrivedMs);
        const take = Math.min(samples.length, durationSamples - counters.inputSamples);
        counters.inputSamples += take;
        live.acceptFrame(encodeFrame(take === samples.length ? samples : samples.subarray(0, take), 'f32', 1));
        if (counters.inputSamples >= durationSamples) finish();
      },
      (error) => finish(error),
    );

    const printStats = (final = false): void => {
      const p = live.pipeline.stats();
      const latency = latencyParts();
      if (options.json) {
        log(
          JSON.stringify({
            type: final ? 'summary' : 'stats',
            elapsedS: (Date.now() - startedMs) / 1000,
            inputS: counters.inputSamples / rate,
            outputS: counters.outputSamples / rate,
            latency: { totalMs: latency.totalMs, ...latency.parts, computeMsP95: p.compute.p95Ms, deviceLatencyFrom: pulse ? 'pulseaudio' : 'portaudio', inputDeviceFrom: pulse?.capture[0] ? 'pulseaudio' : 'portaudio' },
            inputPauses: counters.inputPauses,
            model: modelName,
            blocks: { converted: p.blocksConverted, notConverted: p.blocksSkipped + p.blocksDry + p.blocksSilenced + p.stageErrors },
            latencyMode,
            latencyTargetMs: hold?.targetMs ?? null,
            latencyFloorMs: floorMs,
            latencyControl: latencyControl && { ...latencyControl, autoRaises: autoTarget?.raises ?? 0 },
            device: { input: inStream?.status, output: out.status },
            dropped: { outputBlocks: counters.outputBlocksDropped, skippedBlocks: p.blocksSkipped, dryBlocks: p.blocksDry, silencedBlocks: p.blocksSilenced, overflowSamples: p.overflowSamples },
          }),
        );
        return;
      }
      const behind = p.blocksSkipped + p.blocksDry + p.blocksSilenced + p.stageErrors;
      log(
        `${final ? 'done' : 'live'}: in ${(counters.inputSamples / rate).toFixed(1)} s, out ${(counters.outputSamples / rate).toFixed(1)} s | ` +
          `latency ≈ ${latency.totalMs.toFixed(0)} ms (${latency.text}) | compute p95 ${p.compute.p95Ms.toFixed(2)} ms | ` +
          `behind ${behind} block(s) (${options.policy}), output dropped ${counters.outputBlocksDropped}, input pauses ${counters.inputPauses}` +
          (latencyControl ? `, hold corrections: padded ${latencyControl.padMs.toFixed(0)} ms (${latencyControl.pads}×), cut ${latencyControl.dropMs.toFixed(0)} ms (${latencyControl.drops}×), ${latencyControl.inVoice} of them inside the voice` : '') +
          deviceGlitches(inStream?.status, out.status),
      );
    };

    log(
      `svc live: "${input.name}" (#${input.id}) → ${outputName} at ${rate} Hz, voice ${modelName}, ${blockMs} ms blocks, ` +
        `pitch ${options.pitch} st${live.controls().includes('formant') ? `, formant ${options.formant}×` : ''}` +
        `${latencyMode === 'fixed' ? `, constant latency ${targetMs} ms` : latencyMode === 'auto' ? `, constant latency (auto: from ${targetMs} ms, higher if the output runs dry)` : ''}${options.duration === undefined ? ' — Ctrl-C to stop' : `, for ${options.duration} s of input`}`,
    );
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    outStream.start();
    // With a latency target the output starts at its level.
    if (targetMs !== undefined) out.write(new Float32Array(Math.max(0, wantedQueueFrames - out.queuedFrames) * outputChannels));
    // A new null sink takes nothing for up to 2 s (VirtualMic.awaitTaking): input is read, and the
    // microphone said to be ready, only once it takes audio, so no word spoken then is cut.
    if (virtualMic) {
      await virtualMic.awaitTaking();
      log(`svc live: ${virtualMic.instructions}`);
    }
    inStream.start();
    pollPulse();
    // A held latency uses the sound server's figures every block: poll them twice a second.
    const pollMs = targetMs === undefined ? options.statsInterval * 1000 : Math.min(500, options.statsInterval * 1000);
    pulseTimer = setInterval(pollPulse, pollMs);
    statsTimer = setInterval(() => printStats(false), options.statsInterval * 1000);
    const error = await finished;
    stopping = true;
    if (resumeTimer) clearTimeout(resumeTimer);
    clearInterval(statsTimer);
    statsTimer = null;
    if (pulseTimer) clearInterval(pulseTimer);
    await inStream.stop();
    await live.pipeline.drain();
    if (error) throw error;
    // Let what is queued play out when the run ended on its own (--duration); Ctrl-C cuts it.
    await outStream.stop(options.duration !== undefined ? 2000 : 0);
    printStats(true);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (statsTimer) clearInterval(statsTimer);
    if (sampleQueues) clearInterval(sampleQueues);
    if (pulseTimer) clearInterval(pulseTimer);
    await inStream?.stop();
    await outStream?.stop();
    virtualMic?.dispose();
    session?.dispose();
    await models.close();
  }
}

export function register(program: Command): void {
  program
    .command('live')
    .description('Change your voice live on this machine: microphone → built-in DSP voice or a model (--model) → speakers or a virtual microphone (sound cards via PortAudio; ids from `svc devices`)')
    .option('-i, --input <id>', 'input (microphone) device id from `svc devices` (default: the system default input)', numberArg('--input', { integer: true, min: 0 }))
    .option('-o, --output <id>', 'output (speaker) device id from `svc devices` (default: the system default output)', numberArg('--output', { integer: true, min: 0 }))
    .option('-r, --rate <hz>', "sample rate for both devices, in Hz (default: the input device's default rate)", numberArg('--rate', { integer: true, min: 8000, max: 96000 }))
    .option('-m, --model <name|path>', 'voice: an installed So-VITS model (`svc models`) or a bundle folder, converted exactly as `svc serve --model` does (default: the built-in DSP voice)')
    .option('--speaker <name|id>', 'speaker of --model (default: its first speaker)')
    .addOption(new Option('--f0 <method>', 'f0 estimator of --model, in its low-latency mode (as `svc serve --f0`)').choices([...F0_CHOICES]).default('dsp'))
    .addOption(rightContextFramesOption())
    .option('-b, --block-ms <ms>', 'block length in milliseconds: smaller = lower latency, more CPU (default: 20 for the DSP voice; for --model the smallest block it converts in time here, measured at start)', numberArg('--block-ms', { min: 2.5, max: 500 }))
    .option(
      '--latency-ms <ms|auto|off>',
      "hold the total delay (input device to output device) constant, measured sample by sample: silence is added when it is short and audio is cut when it is long (±20 ms), in a pause between words when one comes within 2 s. A number: that delay, for streamers syncing voice to video; fails at start if below what the voice and its compute need, warns after 5 s with the figure that holds on this machine. auto: start at what the voice and devices need on paper and rise each time the output runs dry (never falling). off: hold nothing, keep the output queue under --max-output-ms (lowest delay, but PulseAudio may crackle and the figure shown reads high)",
      latencyArg,
      'auto',
    )
    .option('-p, --pitch <semitones>', `pitch change in semitones, ${VOICE_LIMITS.pitch.min}..${VOICE_LIMITS.pitch.max} (12 = one octave up)`, numberArg('--pitch', VOICE_LIMITS.pitch), 0)
    .option('-f, --formant <ratio>', `formant (timbre) scale, ${VOICE_LIMITS.formant.min}..${VOICE_LIMITS.formant.max} (1 = unchanged, >1 = smaller/brighter voice)`, numberArg('--formant', VOICE_LIMITS.formant), 1)
    .option('--output-channels <n>', 'output channels; the mono voice is copied to each (default: 2, or 1 for mono devices)', numberArg('--output-channels', { integer: true, min: 1, max: 32 }))
    .option('-d, --duration <seconds>', 'stop after this many seconds of input audio (default: run until Ctrl-C)', numberArg('--duration', { min: 0.01 }))
    .addOption(
      new Option('--policy <policy>', 'when conversion falls behind real time: silence the late blocks (never your real voice), skip them, or play them dry (unconverted: your own voice is heard)')
        .choices(BEHIND_POLICIES)
        .default(DEFAULT_BEHIND_POLICY),
    )
    .option('--max-queue-ms <ms>', 'input waiting for the voice beyond which --policy applies, in ms (default: the larger of 4 blocks and 200 ms)', numberArg('--max-queue-ms', { min: 20, max: 10000 }))
    .option('--max-output-ms <ms>', 'with --latency-ms off: most audio allowed to wait for the output device before new blocks are dropped, in ms', numberArg('--max-output-ms', { min: 10, max: 5000 }), 200)
    .option(
      '--virtual-mic [name]',
      `Linux: play the voice into a new PulseAudio/PipeWire virtual microphone (default name ${DEFAULT_VIRTUAL_MIC_NAME}) that Discord, OBS or a browser can pick; removed on exit. Instead of --output`,
    )
    .option('--stats-interval <seconds>', 'seconds between status lines', numberArg('--stats-interval', { min: 0.1 }), 1)
    .option('--json', 'print status lines as JSON objects (one per line) instead of text; PortAudio\'s own start-up lines (not JSON) may come first', false)
    .action(async (options: LiveOptions) => {
      try {
        await runLive(options);
      } finally {
        // A stream whose PortAudio thread died under it (its device removed) never finishes naudiodon's
        // quit() or its pending write: those threads block Node's exit, process.exit() included (it joins
        // them; seen with gdb, 1 run in 8 at load 4 after `pactl unload-module` of the virtual mic's sink).
        // Once the error is printed and the devices are removed, the process ends itself: SIGKILL is the
        // one exit that does not wait for them (the status is then 137, not 1). The timer is unref'd: it
        // fires only if something holds the process open.
        if (wedgedStreamCount() > 0) {
          setTimeout(() => {
            console.error('svc live: the audio device\'s thread did not stop (its device was removed under it): ending the process');
            process.kill(process.pid, 'SIGKILL');
          }, 1000).unref();
        }
      }
    });
}
