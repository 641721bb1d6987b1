// Live device I/O without hardware: the test builds a virtual ALSA microphone (reads a raw file of
// real speech) and speaker (writes a raw file) from scripts/virtual-audio/asoundrc.template, points
// ALSA_CONFIG_PATH at it, and runs the real `svc devices` / `svc live` through PortAudio on it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { ConsumptionClock, untakenEstimate } from '../src/audio/devices.js';
import { CaptureClock } from '../src/audio/captureClock.js';
import { AutoLatencyTarget, fadeInHead, fadeOutTail, LatencyHold, latencyFloorMs, QuietDetector, RecentPercentile } from '../src/audio/latencyHold.js';
import { makeTempDir, repoRoot, runSvc, shared } from './helpers/index.js';
import { medianF0, semitonesBetween } from './helpers/pitch.js';

const RATE = 48000;
const SECONDS = 3;
const speechPath = shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav');
const temp = makeTempDir('svc-live-');
const inPath = join(temp.dir, 'mic.raw');
const outPath = join(temp.dir, 'speaker.raw');
const configPath = join(temp.dir, 'asound.conf');
const noDevicesConfigPath = join(temp.dir, 'none.conf');
const discardConfigPath = join(temp.dir, 'discard.conf');
let input: Float32Array;

test('LatencyHold: nothing inside the dead band or for a one-block spike; silence up to the target when short, the block start cut when long', () => {
  const hold = new LatencyHold(400, 48000, 10, 3);
  assert.is(hold.correct(350, 960), 2400, 'the first block 50 ms short: 50 ms of silence');
  assert.is(hold.correct(405, 960), 0);
  assert.is(hold.correct(391, 960), 0);
  assert.is(hold.correct(900, 960), 0, 'one late block among three moves nothing');
  assert.is(hold.correct(402, 960), 0);
  assert.is(hold.correct(398, 960), 0);
  assert.is(hold.correct(440, 7680), 0, 'one block 40 ms long: not yet');
  assert.is(hold.correct(440, 7680), -1920, 'two in a row: 40 ms cut');
  assert.is(hold.correct(400, 960), 0, 'the cut moved the remembered delays too: no second cut');
  assert.is(hold.correct(1000, 960), 0);
  assert.is(hold.correct(1000, 960), -960, 'never more than the block');
  assert.equal(hold.counters, { pads: 1, padMs: 50, drops: 2, dropMs: 60, inVoice: 0 });
  const held = [400, 405, 391, 900, 402, 398, 440, 400, 400, 1000, 980];
  const mean = held.reduce((a, b) => a + b) / held.length;
  assert.ok(Math.abs(hold.heldMs()! - mean) < 1e-9);
  assert.ok(Math.abs(hold.heldMs()! - mean) < 1e-9, 'kept when no block came');
});

test('LatencyHold: a correction waits for a quiet block, at most maxDeferMs, and not beyond the hard tolerance', () => {
  // 20 ms blocks at 48 kHz, target 200 ± 20, median of 1 (each block decides), wait ≤ 100 ms, hard limit 60 ms.
  const hold = new LatencyHold(200, 48000, 20, 1, 100, 60);
  assert.is(hold.correct(240, 960, false), 0, '40 ms long inside the voice: waits');
  assert.is(hold.correct(240, 960, false), 0);
  assert.is(hold.correct(240, 960, true), -960, 'a pause: cut there (one block at most)');
  assert.is(hold.correct(220, 960, true), 0, 'the cut moved the delay back inside the band');
  assert.is(hold.correct(150, 960, false), 0, '50 ms short in the voice: waits');
  for (let i = 0; i < 4; i++) assert.is(hold.correct(150, 960, false), 0, `still waiting (${(i + 2) * 20} ms)`);
  assert.is(hold.correct(150, 960, false), 2400, 'no pause within 100 ms: padded inside the voice');
  assert.is(hold.correct(300, 960, false), -960, '100 ms long (beyond the 60 ms hard tolerance): cut at once');
  assert.equal(hold.counters, { pads: 1, padMs: 50, drops: 2, dropMs: 40, inVoice: 2 });
});

test('CaptureClock.aheadOfRealTime: a clocked device keeps level with the wall clock, a clockless one runs far ahead', () => {
  const clocked = new CaptureClock(48000);
  const clockless = new CaptureClock(48000);
  assert.is(clocked.aheadOfRealTime(0), null, 'nothing before the first chunk');
  // 20 ms chunks: the clocked one every 20 ms (a 2 ms jitter), the clockless one every 0.5 ms.
  for (let k = 0; k < 30; k++) {
    clocked.arrived(960, 100 + 20 * k + (k % 2) * 2);
    clockless.arrived(960, 100 + 0.5 * k);
  }
  const real = clocked.aheadOfRealTime(100 + 20 * 29)!;
  assert.is(real.audioMs, 580, 'audio after the first chunk');
  assert.ok(Math.abs(real.aheadMs) < 5, `clocked: ${real.aheadMs} ms ahead`);
  const none = clockless.aheadOfRealTime(100 + 0.5 * 29)!;
  assert.ok(none.aheadMs > 500, `clockless: ${none.aheadMs} ms ahead`);
});

test('LatencyHold.raiseTarget: an urgent rise pads at once inside the voice, a plain one waits for a pause like any correction', () => {
  const hold = new LatencyHold(200, 48000, 20, 1, 100, 60);
  assert.is(hold.correct(200, 960, false), 0);
  hold.raiseTarget(230);
  assert.is(hold.targetMs, 230);
  assert.is(hold.correct(200, 960, false), 1440, 'urgent: 30 ms (inside the 20 ms band is no reason to wait either) at once');
  assert.is(hold.correct(230, 960, false), 0, 'then nothing');
  hold.raiseTarget(280, false);
  assert.is(hold.correct(230, 960, false), 0, 'a plain rise of 50 ms waits for a pause');
  assert.is(hold.correct(230, 960, true), 2400, 'and pads there');
  hold.raiseTarget(100);
  assert.is(hold.targetMs, 280, 'a target never falls');
  assert.is(hold.correct(280, 960, false), 0, 'and a lower one is no urgent correction');
  assert.equal(hold.counters, { pads: 2, padMs: 80, drops: 0, dropMs: 0, inVoice: 1 });
});

test('AutoLatencyTarget: rises by a step when the device runs dry twice within the window, not for hiccups spread out; never falls; capped', () => {
  const auto = new AutoLatencyTarget(190, 50, 390, 2, 3000);
  assert.is(auto.update(0, 0), null);
  assert.is(auto.update(1, 1000), null, 'one dry run: a hiccup');
  assert.is(auto.update(1, 3000), null);
  assert.is(auto.update(2, 4500), null, 'the second 3.5 s after the first: still hiccups');
  assert.is(auto.update(3, 5000), 240, 'two within 3 s: one step up');
  assert.is(auto.update(3, 5100), null, 'counted afresh after a rise');
  assert.is(auto.update(4, 5200), null);
  assert.is(auto.update(9, 5300), 290, 'a burst of five: one step (the burst is one hiccup of the device)');
  assert.is(auto.atLeast(250), null, 'a measured floor below the target changes nothing');
  assert.is(auto.atLeast(332.4), 333, 'a floor above it raises it');
  assert.is(auto.update(11, 6000), 383);
  assert.is(auto.update(13, 7000), 390, 'capped at maxMs');
  assert.is(auto.update(20, 8000), null, 'and stays there');
  assert.is(auto.targetMs, 390);
  assert.is(auto.raises, 4);
});

test('QuietDetector on real speech: the pauses between words are quiet, the words are not; fades go to zero at the splice', () => {
  const rate = 48000;
  const block = 960;
  const detector = new QuietDetector(rate);
  // Speech at a low gain with a noise floor: the decision is relative to the talker's level.
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 2e-4;
  const x = Float32Array.from(input, (v) => 0.1 * v + noise());
  const quiet: boolean[] = [];
  const level: number[] = [];
  for (let i = 0; i + block <= x.length; i += block) {
    const b = x.subarray(i, i + block);
    quiet.push(detector.isQuiet(b));
    level.push(10 * Math.log10(b.reduce((s, v) => s + v * v, 0) / block + 1e-12));
  }
  const loudest = Math.max(...level);
  const words = level.map((l, i) => [l, i] as const).filter(([l]) => l > loudest - 10).map(([, i]) => i);
  const silent = level.map((l, i) => [l, i] as const).filter(([l]) => l < loudest - 35).map(([, i]) => i);
  assert.ok(words.length > 20 && silent.length > 5, `the file has words and pauses: ${words.length} loud, ${silent.length} silent blocks`);
  assert.ok(words.every((i) => !quiet[i]), 'no word block is called quiet');
  assert.ok(silent.filter((i) => quiet[i]).length >= 0.9 * silent.length, `the pauses are quiet: ${silent.filter((i) => quiet[i]).length} of ${silent.length} blocks`);
  const faded = fadeOutTail(new Float32Array(480).fill(1), 240);
  assert.ok(faded[239]! === 1 && faded[479]! < 0.001 && faded[360]! > 0.4 && faded[360]! < 0.6);
  const rising = fadeInHead(new Float32Array(480).fill(1), 240);
  assert.ok(rising[0]! < 0.001 && rising[240]! === 1);
});

test('latencyFloorMs and RecentPercentile: the floor is the p95 capture-to-queue time + one block + the band; a late tail of blocks raises it', () => {
  // Before audio flows: the DSP voice's 41 ms (block + delay) + 18 ms devices + 1 ms compute.
  assert.is(latencyFloorMs({ beforeQueueMs: 60, blockMs: 20, toleranceMs: 20 }), 100);
  const p = new RecentPercentile(100);
  assert.is(p.at(0.95), null);
  // 100 blocks 60–79 ms after capture, then 10 that came 200 ms late (an input burst): the p95 moves
  // to the tail, and the window forgets the oldest blocks.
  for (let i = 0; i < 100; i++) p.add(60 + (i % 20));
  assert.is(p.at(0.95), 79);
  assert.is(p.at(0.5), 70);
  for (let i = 0; i < 10; i++) p.add(200);
  assert.is(p.count, 100);
  assert.is(p.at(0.95), 200);
  assert.is(latencyFloorMs({ beforeQueueMs: p.at(0.95)!, blockMs: 20, toleranceMs: 20 }), 240);
});

test('ConsumptionClock: a device taking 20 ms pieces from a 4-deep queue; the queue follows its timeline, slips included', () => {
  const rate = 48000;
  const piece = 960; // 20 ms
  const clock = new ConsumptionClock(rate, 4, 2000);
  // The device takes piece k at takenMs(k); a write completes when piece n − 4 is taken, seen 0–3 ms
  // late by the event loop. The writer keeps 10 pieces written ahead (a backlog): every write waits.
  let slipMs = 0;
  const takenMs = (k: number) => 1000 + k * 20 + (k >= 200 ? slipMs : 0);
  for (let k = 0; k < 14; k++) clock.wrote(piece);
  let issuedAt = 1000;
  for (let n = 0; n < 400; n++) {
    if (n === 200) slipMs = 100; // an underrun: everything from piece 200 on plays 100 ms later
    const done = n < 4 ? issuedAt + 0.1 : takenMs(n - 4) + (n % 4);
    clock.completed(n, issuedAt, done);
    issuedAt = done;
    clock.wrote(piece);
    if (n === 150 || n === 399) {
      const now = done;
      const written = (n + 15) * piece;
      const taken = Math.floor((now - (n >= 200 ? 1100 : 1000)) / 20) * piece;
      const queued = clock.queuedFrames(now)!;
      // Within a piece of the truth (the event loop's lateness hides at most a few ms).
      assert.ok(Math.abs(queued - (written - taken)) <= piece, `at write ${n}: ${queued} frames queued, truly ${written - taken}`);
    }
  }
  assert.is(clock.queuedFrames(1e9), null, 'no recent bound: no figure');
});

test('untakenEstimate: the native queue counts as full only when the clock or waiting writes say so', () => {
  const piece = 960; // 20 ms at 48 kHz; a full 4-deep native queue holds 3840 frames
  const base = { nativeFullFrames: 4 * piece, pieceFrames: piece };
  // A burst of 5 blocks written in one tick while the device had nearly run dry (the clock: 1.2 blocks
  // beyond what Node holds): Node's backlog is no full native queue. (The old rule said 5 + 4 blocks,
  // 60 ms high, and the hold cut the device into underflows at --latency-ms 200.)
  assert.is(untakenEstimate({ ...base, clockFrames: 6 * piece + 200, waitingFrames: 5 * piece, waitedWritesInRow: 0 }), 6 * piece + 200);
  // The clock never says more than Node's share plus a full native queue.
  assert.is(untakenEstimate({ ...base, clockFrames: 20 * piece, waitingFrames: 5 * piece, waitedWritesInRow: 5 }), 9 * piece);
  // A clock below Node's share lost the device's timeline (a slip): it decides nothing.
  assert.is(untakenEstimate({ ...base, clockFrames: 0, waitingFrames: 5 * piece, waitedWritesInRow: 0 }), null);
  assert.is(untakenEstimate({ ...base, clockFrames: 2 * piece, waitingFrames: 5 * piece, waitedWritesInRow: 2 }), 9 * piece);
  // No clock: full only while writes keep waiting for a place (a device consuming slower than real time) ...
  assert.is(untakenEstimate({ ...base, clockFrames: null, waitingFrames: 3 * piece, waitedWritesInRow: 3 }), 7 * piece);
  // ... else nothing is known beyond Node's share, which the caller counts itself.
  assert.is(untakenEstimate({ ...base, clockFrames: null, waitingFrames: 3 * piece, waitedWritesInRow: 1 }), null);
  assert.is(untakenEstimate({ ...base, clockFrames: null, waitingFrames: piece, waitedWritesInRow: 9 }), null);
});

function writeConfig(): void {
  const template = readFileSync(join(repoRoot, 'scripts', 'virtual-audio', 'asoundrc.template'), 'utf8');
  writeFileSync(configPath, template.replaceAll('@IN@', inPath).replaceAll('@OUT@', outPath));
  // Same devices, but the speaker writes to /dev/null: for runs without --duration.
  writeFileSync(discardConfigPath, template.replaceAll('@IN@', inPath).replaceAll('@OUT@', '/dev/null'));
  // Only a default PCM pointing at a card that cannot exist: PortAudio finds no usable device.
  writeFileSync(noDevicesConfigPath, 'pcm.!default { type hw\n card 99 }\n');
}

const env = (config: string) => ({ ALSA_CONFIG_PATH: config });

function readFloat32(path: string): Float32Array {
  const bytes = readFileSync(path);
  const out = new Float32Array(bytes.length >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}

function rms(x: Float32Array): number {
  let e = 0;
  for (const v of x) e += v * v;
  return Math.sqrt(e / Math.max(1, x.length));
}

interface Device {
  id: number;
  name: string;
  inputChannels: number;
  outputChannels: number;
}
let devices: Device[] = [];

test.before(async () => {
  const speech = await readMono(speechPath);
  assert.is(speech.sampleRate, RATE, 'test speech is 48 kHz');
  input = speech.samples.slice(0, RATE * SECONDS);
  writeFileSync(inPath, Buffer.from(input.buffer, input.byteOffset, input.byteLength));
  writeConfig();
});

test.after(() => temp.cleanup());

test('svc devices lists the virtual microphone and speaker', async () => {
  const json = await runSvc(['devices', '--json'], { env: env(configPath) });
  assert.is(json.code, 0, json.stderr);
  devices = JSON.parse(json.stdout) as Device[];
  const mic = devices.find((d) => d.name === 'svc_mic');
  const speaker = devices.find((d) => d.name === 'svc_speaker');
  assert.ok(mic && mic.inputChannels >= 1, `svc_mic is an input: ${json.stdout}`);
  assert.ok(speaker && speaker.outputChannels >= 1, `svc_speaker is an output: ${json.stdout}`);

  const table = await runSvc(['devices'], { env: env(configPath) });
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /Inputs \(microphones\):[\s\S]*svc_mic/);
  assert.match(table.stdout, /Outputs \(speakers\):[\s\S]*svc_speaker/);
  // ALSA's probing chatter stays off the terminal (it is shown with --verbose).
  assert.not.match(table.stderr, /ALSA lib/);
});

test('svc live turns the microphone file into pitch-shifted speech on the speaker', async () => {
  const mic = devices.find((d) => d.name === 'svc_mic')!;
  const speaker = devices.find((d) => d.name === 'svc_speaker')!;
  const args = ['live', '--input', String(mic.id), '--output', String(speaker.id), '--rate', String(RATE), '--pitch', '5', '--duration', String(SECONDS), '--output-channels', '1'];
  // The virtual devices have no clock, so audio arrives in bursts: allow deeper queues than a real card
  // needs, so that a busy test machine cannot push blocks onto the behind-real-time (dry) path. The
  // default latency hold sees that and holds nothing (it cut 2.5 s of the 3 before it did); the hold
  // itself is tested through PulseAudio (live-latency.test.ts).
  const result = await runSvc([...args, '--max-queue-ms', '5000', '--max-output-ms', '5000'], { env: env(configPath), timeoutMs: 120_000 });
  assert.is(result.code, 0, result.stderr + result.stdout);
  assert.match(result.stdout, /svc live: the audio devices have no clock \(\d\.\d s of input came in \d+ ms: a virtual device\?\), so no latency is held/);
  assert.match(result.stdout, /svc live: "svc_mic" \(#\d+\) → "svc_speaker"/);
  assert.match(result.stdout, /done: in 3\.0 s, out \d\.\d s \| latency ≈ \d+ ms .*behind 0 block\(s\)/);
  assert.ok(existsSync(outPath), 'the speaker file was written');

  const output = readFloat32(outPath);
  // Everything that went in came out (block rounding and the voice's delay aside).
  assert.ok(Math.abs(output.length - input.length) <= 0.1 * RATE, `output ${output.length / RATE} s for ${SECONDS} s of input`);
  const inLevel = rms(input);
  const outLevel = rms(output);
  assert.ok(outLevel > 0.3 * inLevel && outLevel < 3 * inLevel, `output RMS ${outLevel.toFixed(4)} vs input ${inLevel.toFixed(4)}`);

  const f0In = medianF0(input, RATE);
  const f0Out = medianF0(output, RATE);
  assert.ok(f0In.frames > 30 && f0Out.frames > 30, `voiced frames in ${f0In.frames}, out ${f0Out.frames}`);
  const semitones = semitonesBetween(f0In.hz, f0Out.hz);
  assert.ok(Math.abs(semitones - 5) < 0.6, `pitch moved ${semitones.toFixed(2)} semitones (${f0In.hz.toFixed(1)} → ${f0Out.hz.toFixed(1)} Hz), asked 5`);
});

test('Ctrl-C stops svc live cleanly with a summary', async () => {
  const mic = devices.find((d) => d.name === 'svc_mic')!;
  const speaker = devices.find((d) => d.name === 'svc_speaker')!;
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), 'live', '--input', String(mic.id), '--output', String(speaker.id), '--stats-interval', '0.3'], {
    cwd: repoRoot,
    env: { ...process.env, ALSA_CONFIG_PATH: discardConfigPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolvePromise) => child.on('close', (code) => resolvePromise(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  try {
    // Wait for the first status line, then press "Ctrl-C".
    while (!/^live: in /m.test(stdout) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGINT');
    const code = await exited;
    assert.is(code, 0, stderr);
    assert.match(stdout, /Ctrl-C to stop/);
    assert.match(stdout, /^done: in \d+\.\d s, out \d+\.\d s \| latency ≈ \d+ ms/m);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('svc live with a device id that does not exist fails clearly', async () => {
  const result = await runSvc(['live', '--input', '999', '--duration', '1'], { env: env(configPath) });
  assert.is(result.code, 1);
  assert.match(result.stderr, /svc: audio input device 999 does not exist; input devices are: .*svc_mic/);
  assert.match(result.stderr, /svc devices/);
});

test('svc live --latency-ms below the voice\'s floor fails before any audio, naming the floor with its measured compute', async () => {
  const mic = devices.find((d) => d.name === 'svc_mic')!;
  const speaker = devices.find((d) => d.name === 'svc_speaker')!;
  const result = await runSvc(['live', '--input', String(mic.id), '--output', String(speaker.id), '--rate', String(RATE), '--latency-ms', '30', '--duration', '1'], { env: env(configPath) });
  assert.is(result.code, 1, result.stdout);
  const m = /--latency-ms 30 is below what this voice and these devices need: at least (\d+) ms \((\d+) ms fixed \+ (\d+) ms compute \(p95, measured now\) \+ one 20 ms block of output queue \+ 20 ms hold band\)/.exec(result.stderr);
  assert.ok(m, result.stderr);
  const [floor, fixed, compute] = [Number(m![1]), Number(m![2]), Number(m![3])];
  // The DSP voice's 20 ms block + its delay and the devices: at least 40 ms fixed; the floor adds the rest.
  assert.ok(fixed >= 40 && Math.abs(floor - (fixed + compute + 40)) <= 2, result.stderr);
  assert.match(result.stderr, /use --latency-ms \d+ or more/);
});

test('svc live without any audio device says so and exits non-zero', async () => {
  const result = await runSvc(['live', '--duration', '1'], { env: env(noDevicesConfigPath) });
  assert.is(result.code, 1);
  assert.match(result.stderr, /svc: no audio devices found/);
  assert.not.match(result.stderr, /at .*\.ts:\d+/, 'no stack trace');
  const listing = await runSvc(['devices'], { env: env(noDevicesConfigPath) });
  assert.match(listing.stdout, /No audio devices found/);
});

test('svc devices turns a PortAudio crash on a broken ALSA config into an error', async () => {
  // PCMs but no default: PortAudio's ALSA enumeration asserts and aborts the process.
  const broken = join(temp.dir, 'broken.conf');
  writeFileSync(broken, `pcm.only_one { type file\n slave.pcm "n"\n file "${join(temp.dir, 'x.raw')}" }\npcm.n { type null }\n`);
  const result = await runSvc(['devices'], { env: env(broken) });
  assert.is(result.code, 1);
  assert.match(result.stderr, /svc: listing audio devices failed .*pcm\.!default/);
});

test.run();
