// Click-to-output latency measured next to the latency svc reports, for `npm run bench -- --only latency`
// (bench/latency.bench.ts) and on its own:
//   node --import tsx bench/live-latency.ts [--model BUNDLE_OR_NAME] [--block-ms MS] [--latency-ms MS|off] [--probe click|pitch] [--pipewire | --virtual-mic]
//   node --import tsx bench/live-latency.ts --page [--model INSTALLED_NAME | --loopback]   (the web page in Chromium)
// The probe is a "click": a 40 ms voiced burst (150 Hz pulses through a 700 Hz resonance) once a second,
// which the DSP voice turns into a burst whose onset is clear; a random-weight model makes steady sound
// whatever the input level, so for it the probe is a pitch step (pitchSteps). Output events earlier than
// the voice's block and signal delay are never matched.
//  - `svc live` (measureLive): through a real (private) PulseAudio. One stereo null sink "bench" is the
//    common clock: the clicks play into its LEFT channel; svc live records the left channel (a remapped
//    source) and plays into the RIGHT channel (a remapped sink); parec records both channels of the sink's
//    monitor, so the delay between a click on the left and its converted copy on the right is what a
//    listener would measure. Reported: the median of svc live's own `latency.totalMs`.
//    `--pipewire` (measureLive({ pipeWire: true })): the same through a private PipeWire (pipewire-pulse),
//    with PipeWire's own links in place of remap modules (startBenchPipeWire).
//  - the server (measureServer): a protocol client sends the clicks at real-time pace in 128-sample frames
//    (what a browser AudioWorklet sends); each sample's capture time is when its frame is complete, each
//    output sample's time is its frame's arrival plus its position. Reported: `stats` latency.serverMs
//    (algorithmicMs + compute median + whole blocks of server queue).
//  - the page (measurePage): the web page in a real headless Chromium whose microphone and speakers are
//    the same private PulseAudio set-up as `svc live`'s. Reported: the page's own latency.totalMs at
//    each event (shownAtEvents). `--loopback`: the page's AudioEngine with its microphone wired to its
//    speakers (no server), against its input + output terms.
// parec and paplay run at nice -5 where allowed (root): a starved recorder loses audio and shrinks its
// timeline. `--nice N` runs svc live at another niceness.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import WebSocket from 'ws';
import { writeWav } from '../src/audio/io.js';
import { yinEstimate } from '../src/dsp/f0/yin.js';
import { makeTempDir, repoRoot } from '../test/helpers/index.js';
import { startPipeWire } from '../test/helpers/pipewire.js';
import { float32FromBytes, startPulseDaemon } from '../test/helpers/pulse.js';

export const CLICK_RATE = 48000;
const CLICKS = 8;

/** `clicks` 40 ms voiced bursts, one a second from 1 s on, at `rate`. */
export function clickTrain(rate = CLICK_RATE, clicks = CLICKS): Float32Array {
  const x = new Float32Array(rate * (clicks + 2));
  for (let k = 0; k < clicks; k++) {
    const start = rate * (k + 1);
    for (let i = 0; i < 0.04 * rate; i++) {
      const t = i / rate;
      const phase = (t * 150) % 1;
      x[start + i] = 0.6 * Math.exp(-phase * 30) * Math.sin(2 * Math.PI * 700 * t) * Math.min(1, i / 48);
    }
  }
  return x;
}

/**
 * Onsets: first samples whose 2 ms envelope exceeds `fraction` of the signal's peak envelope, ≥ 0.5 s
 * apart, from sample `from` on (what comes before, e.g. a model's start-up burst, sets no peak).
 */
export function onsets(x: Float32Array, rate: number, fraction = 0.3, from = 0): number[] {
  const win = Math.round(0.002 * rate);
  const env = new Float32Array(x.length);
  let acc = 0;
  for (let i = 0; i < x.length; i++) {
    acc += Math.abs(x[i]!) - (i >= win ? Math.abs(x[i - win]!) : 0);
    env[i] = acc / win;
  }
  let peak = 0;
  for (let i = from; i < env.length; i++) peak = Math.max(peak, env[i]!);
  const out: number[] = [];
  for (let i = Math.max(1, from); i < env.length; i++) if (env[i]! > fraction * peak && env[i - 1]! <= fraction * peak && (out.length === 0 || i - out.at(-1)! > 0.5 * rate)) out.push(i);
  return out;
}

/**
 * The probe for voices whose output level does not follow the input (a random-weight reference model
 * makes steady sound): a continuous voiced tone whose f0 steps 120 ↔ 240 Hz every second from 1 s on. The
 * model's source follows f0, so the step comes out; its time is the event.
 */
export function pitchSteps(rate = CLICK_RATE, steps = CLICKS): Float32Array {
  const x = new Float32Array(rate * (steps + 2));
  let phase = 0;
  for (let i = 0; i < x.length; i++) {
    const second = Math.floor(i / rate);
    const f0 = second >= 1 && second <= steps && second % 2 === 1 ? 240 : 120;
    phase = (phase + f0 / rate) % 1;
    const t = i / rate;
    x[i] = 0.3 * Math.exp(-phase * 8) * Math.sin(2 * Math.PI * 700 * t);
  }
  return x;
}

/**
 * Pitch-step events: the first of three 5 ms frames in a row whose YIN f0 (30 ms windows, time at the
 * centre) is on the other side of 170 Hz than before, ≥ 0.5 s apart, from sample `from` on.
 */
export function pitchStepEvents(x: Float32Array, rate: number, from = 0): number[] {
  const win = Math.round(0.03 * rate);
  const hop = Math.round(0.005 * rate);
  const side: Array<{ at: number; high: boolean }> = [];
  for (let start = from; start + win <= x.length; start += hop) {
    const { f0Hz } = yinEstimate(x.subarray(start, start + win), rate, 70, 500);
    if (f0Hz > 0) side.push({ at: start + (win >> 1), high: f0Hz > 170 });
  }
  const out: number[] = [];
  for (let k = 1; k + 2 < side.length; k++) {
    const changed = side[k]!.high !== side[k - 1]!.high && side[k + 1]!.high === side[k]!.high && side[k + 2]!.high === side[k]!.high;
    if (changed && (out.length === 0 || side[k]!.at - out.at(-1)! > 0.5 * rate)) out.push(side[k]!.at);
  }
  return out;
}

export type Probe = 'click' | 'pitch';
const probeSignal = (probe: Probe, rate = CLICK_RATE) => (probe === 'click' ? clickTrain(rate) : pitchSteps(rate));
const probeEvents = (probe: Probe, x: Float32Array, rate: number, from = 0) => (probe === 'click' ? onsets(x, rate, 0.3, from) : pitchStepEvents(x, rate, from));

/**
 * Delays (samples) from each input onset to the first output onset at least `minDelay` samples after it
 * (what the voice cannot beat: its block and signal delay) and within a second of that.
 */
export function matchOnsets(inOnsets: number[], outOnsets: number[], rate: number, minDelay = 1): number[] {
  return inOnsets.map((t) => outOnsets.find((u) => u >= t + minDelay && u - t < rate + minDelay)).flatMap((u, k) => (u === undefined ? [] : [u - inOnsets[k]!]));
}

/**
 * When a client plays each output sample, ms: its message's arrival plus its place in the message. The
 * server sends each block as one message, and a block plays over a block's time, so every sample of it
 * is as late as its first. (Counting each sample at its message's arrival put the standard model's
 * end-to-end median half a block low in bench/neural.bench.ts: 238 ms at 100 ms blocks, 298 played out,
 * 305 by the pitch probe. A player that never drops, each message queued behind the last, keeps the
 * run's latest block's lateness for good: 309 ms there, p90 309.)
 */
export function playoutTimesMs(lengths: number[], arrivalMs: number[], rate: number): Float64Array {
  const times = new Float64Array(lengths.reduce((n, x) => n + x, 0));
  let at = 0;
  lengths.forEach((length, k) => {
    for (let i = 0; i < length; i++) times[at++] = arrivalMs[k]! + (i * 1000) / rate;
  });
  return times;
}

export const median = (a: number[]): number => {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
};

export interface LatencyMeasurement {
  what: string;
  /** Click-to-output delays, ms, one per click that came back. */
  measuredMs: number[];
  /** What the tool reported, ms (one figure per status line). */
  reportedMs: number[];
  clicks: number;
  /** The reported figure's parts (medians), and block counts. */
  detail: Record<string, unknown>;
}

/** A private PulseAudio with the stereo "bench" sink: left = the probe, right = what comes back. */
async function startBenchPulse(dir: string) {
  return startPulseDaemon(dir, {
    modules: [
      `module-null-sink sink_name=bench rate=${CLICK_RATE} channels=2`,
      'module-remap-source source_name=bench_left master=bench.monitor channels=1 master_channel_map=front-left channel_map=mono',
      'module-remap-sink sink_name=bench_right master=bench channels=1 master_channel_map=front-right channel_map=mono',
    ],
    alsaPcms: { svc_in: 'bench_left', svc_out: 'bench_right' },
  });
}

/**
 * The same through a private PipeWire (pipewire-pulse; test/helpers/pipewire.ts). PipeWire runs remap
 * modules as loopbacks with buffers of their own, which would be measured too; so svc's microphone is the
 * monitor of a mono null sink "probe_in" (the probe plays into it), svc plays into a mono null sink
 * "probe_out", and PipeWire's own links join both monitors to the two channels of "bench" (links in one
 * graph give both channels the same delay), which parec records.
 */
async function startBenchPipeWire(dir: string) {
  const server = await startPipeWire(dir, { alsaPcms: { svc_in: 'probe_in.monitor', svc_out: 'probe_out' } });
  try {
    for (const sink of ['probe_in', 'probe_out']) server.pactl('load-module', 'module-null-sink', `sink_name=${sink}`, `rate=${CLICK_RATE}`, 'channels=1', 'channel_map=mono');
    server.pactl('load-module', 'module-null-sink', 'sink_name=bench', `rate=${CLICK_RATE}`, 'channels=2');
    for (const [from, to] of [['probe_in:monitor_MONO', 'bench:playback_FL'], ['probe_out:monitor_MONO', 'bench:playback_FR']]) {
      for (let tries = 0; ; tries++) {
        const link = spawnSync('pw-link', [from!, to!], { env: server.env, encoding: 'utf8' });
        if (link.status === 0) break;
        if (tries > 50) throw new Error(`pw-link ${from} ${to}: ${link.stderr}`);
        await new Promise((r) => setTimeout(r, 100)); // the ports appear once the session manager saw the sinks
      }
    }
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Plays `probe` into the bench sink's left channel (or, `probeSink`, into that mono sink) while parec
 * records both channels of the bench sink; returns the delays, ms, of output events at least
 * `minDelayMs()` (asked once recording is done) after their input events.
 */
async function playAndRecord(env: NodeJS.ProcessEnv, dir: string, probe: Probe, minDelayMs: () => number = () => 0, probeSink = 'bench'): Promise<{ measuredMs: number[]; events: number; outputAtMs: number[] }> {
  const file = join(dir, `${probe}.wav`);
  const left = probeSignal(probe);
  await writeWav(file, { sampleRate: CLICK_RATE, channels: probeSink === 'bench' ? [left, new Float32Array(left.length)] : [left] }, { format: 'float32' });
  // The recorder runs ahead of everything else where it may (root): on a loaded machine a starved parec
  // loses audio and its timeline shrinks (measured delays below the voice's own minimum).
  const parec = spawn('nice', ['-n', '-5', 'parec', '-d', 'bench.monitor', '--format=float32le', `--rate=${CLICK_RATE}`, '--channels=2', '--raw'], { env });
  const chunks: Buffer[] = [];
  // Wall-clock time of the recording's first sample (≈ its first data: parec sends as it records).
  let recordStartMs = 0;
  parec.stdout.on('data', (d: Buffer) => {
    if (chunks.length === 0) recordStartMs = Date.now() - (d.length / 8 / CLICK_RATE) * 1000;
    chunks.push(d);
  });
  await new Promise((r) => spawn('nice', ['-n', '-5', 'paplay', '-d', probeSink, file], { env }).on('close', r));
  await new Promise((r) => setTimeout(r, 1500));
  parec.kill('SIGTERM');
  const both = float32FromBytes(Buffer.concat(chunks));
  const l = both.filter((_, i) => i % 2 === 0);
  const r = both.filter((_, i) => i % 2 === 1);
  // What came out before the first event went in (a model starting up) is not an event.
  const inEvents = probeEvents(probe, l, CLICK_RATE);
  const minDelay = Math.max(1, Math.round((minDelayMs() * CLICK_RATE) / 1000));
  const outEvents = probeEvents(probe, r, CLICK_RATE, inEvents[0] ?? 0);
  const measuredMs: number[] = [];
  const outputAtMs: number[] = [];
  for (const t of inEvents) {
    const u = outEvents.find((x) => x >= t + minDelay && x - t < CLICK_RATE + minDelay);
    if (u === undefined) continue;
    measuredMs.push(((u - t) * 1000) / CLICK_RATE);
    outputAtMs.push(recordStartMs + (u * 1000) / CLICK_RATE);
  }
  return { measuredMs, events: inEvents.length, outputAtMs };
}

/** What module-loopback is asked to hold when it carries the virtual microphone back to the bench sink, ms. */
const LOOPBACK_MS = 60;

/**
 * `svc live` through a private PulseAudio (needs pulseaudio, pactl, paplay, parec). `virtualMic`: svc live
 * plays into its virtual microphone (`--virtual-mic svc_bench`) instead of an output device, and what a
 * recorder of that microphone hears comes back to the bench sink's right channel through module-loopback
 * (the way OBS or Discord would record it), attached after svc live started as a recorder would be; the
 * loopback's own delay, measured alone on the same daemon before svc starts, is subtracted. (Clicks are
 * 1 s apart: a delay over 1 s would alias; the number of clicks that came back shows it.)
 */
export async function measureLive(options: { model?: string; blockMs?: number; latencyMs?: number | 'off'; env?: NodeJS.ProcessEnv; probe?: Probe; nice?: number; virtualMic?: boolean; pipeWire?: boolean } = {}): Promise<LatencyMeasurement> {
  const probe = options.probe ?? 'click';
  if (options.pipeWire && options.virtualMic) throw new Error('measureLive: the PipeWire rig has no virtual-microphone variant');
  const temp = makeTempDir('svc-click-');
  const pulse = options.pipeWire ? await startBenchPipeWire(temp.dir) : await startBenchPulse(temp.dir);
  const probeSink = options.pipeWire ? 'probe_in' : 'bench';
  const env = { ...pulse.env, ...options.env };
  try {
    let loopbackMs = 0;
    if (options.virtualMic) {
      const module = pulse.pactl('load-module', 'module-loopback', 'source=bench_left', 'sink=bench_right', `latency_msec=${LOOPBACK_MS}`).trim();
      await new Promise((r) => setTimeout(r, 1500));
      loopbackMs = median((await playAndRecord(env, temp.dir, 'click')).measuredMs);
      pulse.pactl('unload-module', module);
    }
    const svcArgs = ['live', '--rate', String(CLICK_RATE), '--json', '--stats-interval', '1', '--duration', String(CLICKS + (options.virtualMic ? 9 : 6))];
    if (options.model) svcArgs.push('--model', options.model);
    if (options.blockMs) svcArgs.push('--block-ms', String(options.blockMs));
    if (options.latencyMs) svcArgs.push('--latency-ms', String(options.latencyMs));
    const devices = await new Promise<string>((resolve) => {
      const c = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'devices', '--json'], { env });
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('close', () => resolve(out));
    });
    const list = JSON.parse(devices) as { id: number; name: string }[];
    svcArgs.push('--input', String(list.find((d) => d.name === 'svc_in')!.id));
    if (options.virtualMic) svcArgs.push('--virtual-mic', 'svc_bench');
    else svcArgs.push('--output', String(list.find((d) => d.name === 'svc_out')!.id), '--output-channels', '1');
    const svc = spawn('nice', ['-n', String(options.nice ?? 0), process.execPath, '--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...svcArgs], { env });
    let stdout = '';
    let stderr = '';
    // When each status line came (wall clock, as the clicks' output times): under `auto` the target may
    // rise within a run, so each click is compared with the target and the figure printed around it.
    const statsAtMs: number[] = [];
    let scannedTo = 0;
    svc.stdout.on('data', (d) => {
      stdout += d;
      const end = stdout.lastIndexOf('\n') + 1;
      for (const line of stdout.slice(scannedTo, end).split('\n')) if (line.startsWith('{"type":"stats"')) statsAtMs.push(Date.now());
      scannedTo = end;
    });
    svc.stderr.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    const closed = new Promise((r) => svc.on('close', r));
    while (!/"type":"stats"/.test(stdout)) {
      if (svc.exitCode !== null) throw new Error(`svc live exited: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // An event out earlier than the voice's block and signal delay is not this input's (a random-weight
    // model's own pitch wobble): the stats lines give both.
    const voiceMinimumMs = () => {
      const line = stdout.split('\n').find((x) => x.startsWith('{"type":"stats"'));
      const l = line ? JSON.parse(line).latency : null;
      return l ? l.blockMs + l.voiceMs : 0;
    };
    if (options.virtualMic) {
      pulse.pactl('load-module', 'module-loopback', 'source=svc_bench', 'sink=bench_right', `latency_msec=${LOOPBACK_MS}`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    const recorded = await playAndRecord(env, temp.dir, probe, () => voiceMinimumMs() + loopbackMs, probeSink);
    const { events, outputAtMs } = recorded;
    const measuredMs = recorded.measuredMs.map((ms) => ms - loopbackMs);
    await closed;
    const stats = stdout.split('\n').filter((x) => x.startsWith('{')).map((x) => JSON.parse(x));
    const lines = stats.filter((x) => x.type === 'stats');
    const parts = Object.fromEntries(
      Object.keys(lines[0]?.latency ?? {})
        .filter((k) => typeof lines[0].latency[k] === 'number')
        .map((k) => [k, Math.round(median(lines.map((x) => x.latency[k] as number)) * 10) / 10]),
    );
    return {
      what: `svc live${options.virtualMic ? ' --virtual-mic' : ''}${options.pipeWire ? ' through PipeWire' : ''}, ${options.model ?? 'builtin DSP'}${options.latencyMs ? `, --latency-ms ${options.latencyMs}` : ', --latency-ms auto (default)'}, ${probe} probe`,
      measuredMs,
      reportedMs: lines.map((x) => x.latency.totalMs as number),
      clicks: events,
      detail: { parts, blocks: stats.find((x) => x.type === 'summary')?.blocks, device: lines.at(-1)?.device, latencyControl: lines.at(-1)?.latencyControl, dropped: lines.at(-1)?.dropped, latencyFloorMs: lines.at(-1)?.latencyFloorMs, warnings: stats.filter((x) => x.type === 'warning').map((x) => x.message), notices: stats.filter((x) => x.type === 'notice').map((x) => x.message), targetsMs: lines.map((x) => x.latencyTargetMs as number | null), ...aroundClicks(lines, statsAtMs, outputAtMs), deviceLatencyFrom: lines.at(-1)?.latency.deviceLatencyFrom, ...(options.virtualMic ? { loopbackMs } : {}) },
    };
  } finally {
    await pulse.stop();
    temp.cleanup();
  }
}

/**
 * For each click that came back (its output time, wall clock): the latency target held around it and the
 * figure svc live printed for that second, from the first status line after it (each line describes the
 * second before it; the start-up line before any block, not). The target is null where the line before
 * the click held another (a rise in between: which one the click met is not known).
 */
export function aroundClicks(lines: { latencyTargetMs?: number | null; latency: { totalMs: number } }[], statsAtMs: number[], outputAtMs: number[]): { clickTargetsMs: (number | null)[]; clickReportedMs: (number | null)[] } {
  const clickTargetsMs: (number | null)[] = [];
  const clickReportedMs: (number | null)[] = [];
  for (const at of outputAtMs) {
    const after = statsAtMs.findIndex((t, i) => i > 0 && t > at);
    const line = after > 0 ? lines[after] : undefined;
    const before = after > 0 ? lines[after - 1] : undefined;
    const target = line?.latencyTargetMs ?? null;
    clickTargetsMs.push(target !== null && before?.latencyTargetMs === target ? target : null);
    clickReportedMs.push(line ? line.latency.totalMs : null);
  }
  return { clickTargetsMs, clickReportedMs };
}

/** A figure the page showed and when (wall clock, ms). */
interface Shown {
  atMs: number;
  totalMs: number;
}

/**
 * What the page showed when each event came out: the mean of its figures within 0.4 s of it, so that
 * both figures describe the same moments (under load the jitter buffer's level, and with it the real
 * delay, moves within a run; a median over the whole run would compare different moments).
 */
function shownAtEvents(shown: Shown[], outputAtMs: number[]): number[] {
  return outputAtMs.flatMap((at) => {
    const near = shown.filter((x) => Math.abs(x.atMs - at) <= 400).map((x) => x.totalMs);
    return near.length ? [near.reduce((a, b) => a + b, 0) / near.length] : [];
  });
}

/**
 * The web page in a real (headless) Chromium through a running server at `url`, with a private
 * PulseAudio as the browser's sound devices: its default source is the bench sink's left channel (the
 * probe), its default sink the right channel, so parec hears the probe and the page's output on one
 * clock, as for `svc live`. Reported: the page's own total (window.svcStats.latency.totalMs: block,
 * microphone, voice delay, compute, server queue, network, jitter buffer and audio output) when each
 * event came out. `loopback`: no server; the page's AudioEngine plays its microphone straight to its
 * speakers, reported = its input + output terms (what Chromium's own path holds, against what the page
 * counts for it).
 */
export async function measurePage(url: string, options: { model?: string; probe?: Probe; loopback?: boolean } = {}): Promise<LatencyMeasurement> {
  const { chromium } = await import('playwright-core');
  const probe = options.probe ?? 'click';
  const temp = makeTempDir('svc-click-page-');
  const pulse = await startBenchPulse(temp.dir);
  try {
    pulse.pactl('set-default-source', 'bench_left');
    pulse.pactl('set-default-sink', 'bench_right');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      headless: true,
      env: pulse.env as Record<string, string>,
      // Playwright mutes audio by default; the page's output is what is measured.
      ignoreDefaultArgs: ['--mute-audio'],
      args: ['--no-sandbox', '--disable-gpu', '--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required', '--no-first-run'],
    });
    try {
      const page = await browser.newPage();
      if (options.loopback) {
        // The page's own AudioEngine with its microphone wired straight to its speakers: its input and
        // output terms against the measured path, no server.
        await page.goto(`${url}/`);
        // A string, not a function: tsx's helpers (__name) do not exist in the page.
        await page.evaluate(`(async () => {
          const { AudioEngine } = await import('/js/audio-engine.js');
          const engine = new AudioEngine();
          const ctx = await engine.open();
          await engine.startCapture({ blockSamples: 960, onBlock() {} });
          engine.inputAnalyser.connect(ctx.destination); // (analysers pass their input through)
          await ctx.resume();
          window.loopback = engine;
        })()`);
        const terms = () =>
          page.evaluate(() => {
            const engine = (window as any).loopback;
            engine.sampleInputLatency?.(); // (an older page has none)
            engine.trimInputBacklog?.();
            return { inputMs: engine.inputLatencyMs as number | null, outputMs: engine.outputLatencyMs as number, inputResets: engine.inputResets as number | undefined };
          });
        const shown: Shown[] = [];
        let last: { inputMs: number | null; outputMs: number; inputResets?: number } = { inputMs: null, outputMs: 0 };
        const poll = setInterval(() => {
          terms()
            .then((t) => {
              last = t;
              shown.push({ atMs: Date.now(), totalMs: (t.inputMs ?? 0) + t.outputMs });
            })
            .catch(() => {});
        }, 250);
        const { measuredMs, events, outputAtMs } = await playAndRecord(pulse.env, temp.dir, probe);
        clearInterval(poll);
        const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
        return { what: 'page loopback (its microphone → its speakers, no server)', measuredMs, reportedMs: shownAtEvents(shown, outputAtMs), clicks: events, detail: { parts: { inputMs: round(last.inputMs), outputMs: round(last.outputMs) }, inputResets: last.inputResets } };
      }
      await page.goto(`${url}/?autoconnect${options.model ? `&model=${encodeURIComponent(options.model)}` : ''}`);
      const stats = () => page.evaluate(() => (window as unknown as { svcStats: Record<string, any> }).svcStats);
      const deadline = Date.now() + 120_000; // a model is timed when it loads (slow on a busy machine)
      for (;;) {
        const s = await stats();
        if (s.state === 'live' && s.receivedSamples > s.sampleRate && (!options.model || s.model === options.model)) break;
        if (Date.now() > deadline) throw new Error(`the page did not go live: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const shown: Shown[] = [];
      let last: Record<string, any> = {};
      const poll = setInterval(() => {
        stats()
          .then((s) => {
            last = s;
            if (typeof s.latency?.totalMs === 'number') shown.push({ atMs: Date.now(), totalMs: s.latency.totalMs });
          })
          .catch(() => {}); // a poll still in flight when the browser closes
      }, 250);
      // No output event can come before the block and the voice's delay (the page's latency parts).
      const voiceMinimumMs = () => (last.latency?.blockMs ?? 0) + (last.latency?.algorithmicMs ?? 0);
      const { measuredMs, events, outputAtMs } = await playAndRecord(pulse.env, temp.dir, probe, voiceMinimumMs);
      clearInterval(poll);
      const reported = shownAtEvents(shown, outputAtMs);
      const parts = Object.fromEntries(Object.entries(last.latency ?? {}).filter(([, v]) => typeof v === 'number').map(([k, v]) => [k, Math.round((v as number) * 10) / 10]));
      return {
        what: `page (Chromium), ${options.model ?? 'builtin DSP'}, ${probe} probe`,
        measuredMs,
        reportedMs: reported,
        clicks: events,
        detail: { parts, jitterLevelMs: Math.round(last.bufferedMs ?? NaN), underruns: last.underruns, droppedSamples: last.droppedSamples, inputResets: last.inputResets },
      };
    } finally {
      await browser.close();
    }
  } finally {
    await pulse.stop();
    temp.cleanup();
  }
}

/** A protocol client through a running server at `url` (optionally switching to `model` first). */
export async function measureServer(url: string, options: { model?: string; blockMs?: number; probe?: Probe } = {}): Promise<LatencyMeasurement> {
  const probe = options.probe ?? 'click';
  const rate = CLICK_RATE;
  const frame = 128;
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/ws`, { perMessageDeflate: false });
  const messages: Array<Record<string, any>> = [];
  const output: Float32Array[] = [];
  const arrivalMs: number[] = [];
  const waitFor = (type: string, timeoutMs = 120_000) =>
    new Promise<Record<string, any>>((resolve, reject) => {
      const started = Date.now();
      const poll = () => {
        const m = messages.find((x) => x.type === type || (x.type === 'error' && x.code !== 'RATE_LIMITED'));
        if (m) {
          messages.splice(messages.indexOf(m), 1);
          if (m.type === 'error') reject(new Error(`${m.code}: ${m.message}`));
          else resolve(m);
        } else if (Date.now() - started > timeoutMs) reject(new Error(`no ${type} message`));
        else setTimeout(poll, 20);
      };
      poll();
    });
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      const b = data as Buffer;
      output.push(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
      arrivalMs.push(performance.now());
    } else messages.push(JSON.parse(data.toString()));
  });
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  try {
    ws.send(JSON.stringify({ type: 'hello', version: 1, sampleRate: rate, ...(options.blockMs ? { blockMs: options.blockMs } : {}) }));
    let ready = await waitFor('ready');
    if (options.model) {
      ws.send(JSON.stringify({ type: 'model', name: options.model }));
      const switched = await waitFor('model');
      ready = { ...ready, latency: switched.latency, blockSamples: switched.blockSamples };
    }
    output.length = 0;
    arrivalMs.length = 0;
    messages.length = 0;
    const input = probeSignal(probe, rate);
    const captureMs = new Float64Array(input.length);
    const startMs = performance.now();
    const statsSeen: Array<Record<string, any>> = [];
    for (let f = 0; f * frame < input.length; f++) {
      const due = startMs + ((f + 1) * frame * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const now = performance.now();
      const chunk = input.subarray(f * frame, (f + 1) * frame);
      // A sample is captured when it is; its frame is sent when its last sample is.
      for (let i = 0; i < chunk.length; i++) captureMs[f * frame + i] = now - ((chunk.length - 1 - i) * 1000) / rate;
      ws.send(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      if (f % 375 === 374) ws.send(JSON.stringify({ type: 'stats' }));
    }
    await new Promise((r) => setTimeout(r, 1500));
    ws.send(JSON.stringify({ type: 'stats' }));
    await new Promise((r) => setTimeout(r, 300));
    for (const m of messages) if (m.type === 'stats') statsSeen.push(m);
    // Each output sample's time: its frame's arrival plus its position in the frame (played in order).
    const total = output.reduce((n, x) => n + x.length, 0);
    const out = new Float32Array(total);
    let at = 0;
    for (const x of output) {
      out.set(x, at);
      at += x.length;
    }
    const outMs = playoutTimesMs(output.map((x) => x.length), arrivalMs, rate);
    const inOnsets = probeEvents(probe, input, rate);
    // Output that arrived before the first click was captured is the voice starting up, not a click.
    const firstClickMs = captureMs[inOnsets[0] ?? 0]!;
    let from = 0;
    while (from < out.length && outMs[from]! < firstClickMs) from++;
    const outOnsets = probeEvents(probe, out, rate, from);
    const measuredMs: number[] = [];
    for (const t of inOnsets) {
      // The output onset whose time is the first after the input onset's capture, within a second.
      // Not before the voice's block and signal delay (a random-weight model's own pitch wobble).
      const u = outOnsets.find((k) => outMs[k]! - captureMs[t]! >= ready.latency.algorithmicMs && outMs[k]! - captureMs[t]! < 1500 + ready.latency.algorithmicMs);
      if (u !== undefined) measuredMs.push(outMs[u]! - captureMs[t]!);
    }
    const reported = statsSeen.map((s) => s.latency.serverMs as number);
    const last = statsSeen.at(-1);
    return {
      what: `server (protocol client), ${options.model ?? 'builtin DSP'}, ${probe} probe`,
      measuredMs,
      reportedMs: reported,
      clicks: inOnsets.length,
      detail: { blockMs: ready.latency.blockMs, algorithmicMs: ready.latency.algorithmicMs, computeMsMedian: last?.latency.computeMsMedian, queueMs: last?.queueMs, blocks: last?.blocks },
    };
  } finally {
    ws.close();
  }
}

// Run on its own: svc live only, one configuration, one JSON line.
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  if (process.argv.includes('--page')) {
    // `svc serve` as a user runs it (installed models from SVC_MODELS_DIR are selectable by name).
    const { startChildServer } = await import('./stream.bench.js');
    const server = await startChildServer([], { pin: false });
    try {
      const model = arg('--model');
      const m = await measurePage(server.url, { loopback: process.argv.includes('--loopback'), model, probe: (arg('--probe') as Probe | undefined) ?? (model ? 'pitch' : 'click') });
      console.log(JSON.stringify({ ...m, measuredMedianMs: median(m.measuredMs), reportedMedianMs: median(m.reportedMs) }));
    } finally {
      await server.stop();
    }
    process.exit(0);
  }
  const m = await measureLive({ pipeWire: process.argv.includes('--pipewire'), virtualMic: process.argv.includes('--virtual-mic'), nice: arg('--nice') ? Number(arg('--nice')) : undefined, probe: (arg('--probe') as Probe | undefined) ?? (arg('--model') ? 'pitch' : 'click'), model: arg('--model'), blockMs: arg('--block-ms') ? Number(arg('--block-ms')) : undefined, latencyMs: arg('--latency-ms') === 'off' ? 'off' : arg('--latency-ms') ? Number(arg('--latency-ms')) : undefined });
  console.log(JSON.stringify({ ...m, measuredMedianMs: median(m.measuredMs), reportedMedianMs: median(m.reportedMs) }));
}
