// `svc live --virtual-mic` against a real PulseAudio daemon that this test starts: svc's microphone is
// the monitor of a null sink "feed" (reached through ALSA's pulse plugin, so PortAudio-on-PulseAudio
// is exercised too); paplay plays real speech into "feed"; parec records the virtual microphone the
// way Discord or OBS would; the test checks the pitch, and that the devices disappear again on
// Ctrl-C, when the sound server pulls the sink away (a device crash), and after a killed run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMono, writeWav } from '../src/audio/io.js';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { makeTempDir, runSvc, shared, startSvcProcess, waitForOutput, type RunningSvc } from './helpers/index.js';
import { medianF0, semitonesBetween } from './helpers/pitch.js';
import { float32FromBytes, startPulseDaemon, type PulseDaemon } from './helpers/pulse.js';
import { parsePactlStreams, parseSinkLatencyMs } from '../src/audio/pulseLatency.js';

const RATE = 48000;
const temp = makeTempDir('svc-vmic-');
const speechPath = join(temp.dir, 'speech.wav');
let speech: Float32Array;
let pulse: PulseDaemon;
let feedId = -1;

const startSvc = (args: string[], env: NodeJS.ProcessEnv = pulse.env): RunningSvc => startSvcProcess(args, env);

const svcModules = (name: string) => pulse.pactl('list', 'short', 'modules').split('\n').filter((l) => l.includes(`=${name}`));

test.before(async () => {
  const mono = await readMono(shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  assert.is(mono.sampleRate, RATE);
  speech = mono.samples;
  await writeWav(speechPath, mono, { format: 'float32' });
  pulse = await startPulseDaemon(temp.dir, { modules: [`module-null-sink sink_name=feed rate=${RATE} channels=1`], alsaPcms: { svc_feed: 'feed.monitor' } });
  const listing = await runSvc(['devices', '--json'], { env: pulse.env });
  assert.is(listing.code, 0, listing.stderr);
  const feed = (JSON.parse(listing.stdout) as { id: number; name: string }[]).find((d) => d.name === 'svc_feed');
  assert.ok(feed, `PortAudio lists the PulseAudio feed: ${listing.stdout}`);
  feedId = feed.id;
});

test.after(async () => {
  await pulse?.stop();
  temp.cleanup();
});

test('the virtual microphone carries the converted voice (pitch +5 st) and is removed on Ctrl-C', async () => {
  // A constant 400 ms latency and a deep queue: this shared 2-core machine may stall svc for a few
  // hundred ms, which would otherwise tear holes into what the virtual microphone carries.
  const run = startSvc(['live', '--input', String(feedId), '--rate', String(RATE), '--virtual-mic', 'svc_test', '--pitch', '5', '--stats-interval', '0.5', '--latency-ms', '400', '--max-queue-ms', '1000']);
  let parec: ChildProcess | undefined;
  try {
    await waitForOutput(run, /virtual microphone "svc virtual microphone \(svc_test\)" \(source svc_test\): pick it/);
    // Announced only once its sink takes audio: a new null sink first renders 2 s ahead and takes nothing
    // meanwhile, and svc, reading input already, cut what piled up (the first words: 51–90 of the 104 voiced
    // frames came through then). svc now waits for the sink's latency to fall before it says so.
    const announcedMs = parseSinkLatencyMs(pulse.pactl('list', 'sinks'), 'svc_test_out');
    assert.ok(announcedMs !== null && announcedMs < 200, `the sink's latency when the microphone was announced: ${announcedMs} ms`);
    const sources = pulse.pactl('list', 'sources');
    assert.match(sources, /Name: svc_test\n[\s\S]*?device\.description = "svc virtual microphone \(svc_test\)"/);
    assert.not.match(pulse.pactl('list', 'short', 'sources'), /^\d+\s+svc_test\s.*monitor/m, 'a real source, not a monitor');

    // Record the virtual microphone as another app would, while the speech plays into svc's input.
    parec = spawn('parec', ['-d', 'svc_test', '--format=float32le', `--rate=${RATE}`, '--channels=1', '--raw'], { env: pulse.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const recorded: Buffer[] = [];
    parec.stdout!.on('data', (d: Buffer) => recorded.push(d));
    const played = spawn('paplay', ['-d', 'feed', speechPath], { env: pulse.env, stdio: 'ignore' });
    assert.is(await new Promise((r) => played.on('close', r)), 0, 'paplay played the speech');
    // The sink takes the voice as it comes. A null sink that no stream asks a latency of renders 2 s
    // ahead and then takes nothing for that long: at its creation (the start, cut by the hold), and each
    // time svc's stream reconnects after an underrun, unless svc's anchor stream is on it (1.4–1.8 s read
    // here then, and the voice was cut). The anchor itself is listed under its name.
    assert.match(pulse.pactl('list', 'sink-inputs'), /media\.name = "svc virtual microphone clock"/);
    const sinkLatenciesMs: number[] = [];
    for (let i = 0; i < 5; i++, await new Promise((r) => setTimeout(r, 200))) {
      const latencyMs = parseSinkLatencyMs(pulse.pactl('list', 'sinks'), 'svc_test_out');
      assert.ok(latencyMs !== null, 'the sink svc_test_out lists its latency');
      sinkLatenciesMs.push(latencyMs);
    }
    assert.ok(Math.max(...sinkLatenciesMs) < 200, `the sink's latency: ${sinkLatenciesMs.map((x) => x.toFixed(0)).join(', ')} ms`);
    await new Promise((r) => setTimeout(r, 200)); // the voice's delay and the queues (with the second above)
    parec.kill('SIGTERM');
    await new Promise((r) => parec!.on('close', r));

    run.child.kill('SIGINT');
    assert.is(await run.exited, 0, run.stderr());
    assert.match(run.stdout(), /^done: in \d+\.\d s/m);
    assert.equal(svcModules('svc_test'), [], 'sink and source removed on Ctrl-C');

    const output = float32FromBytes(Buffer.concat(recorded));
    assert.ok(output.length > 2 * RATE, `recorded ${output.length / RATE} s`);
    const f0In = medianF0(speech, RATE);
    const f0Out = medianF0(output, RATE);
    // The voice came through (most of it: on a busy machine the constant delay is held by cutting 20 ms
    // pieces after stalls, in the voice when no pause comes: 77–98 of the 104 voiced frames arrived with
    // two or three busy loops beside the test, 93–100 on a quiet machine).
    assert.ok(f0Out.frames >= 0.6 * f0In.frames, `voiced frames on the virtual mic: ${f0Out.frames} of the ${f0In.frames} played`);
    const semitones = semitonesBetween(f0In.hz, f0Out.hz);
    assert.ok(Math.abs(semitones - 5) < 0.6, `pitch moved ${semitones.toFixed(2)} st (${f0In.hz.toFixed(1)} → ${f0Out.hz.toFixed(1)} Hz), asked 5`);
  } finally {
    parec?.kill('SIGKILL');
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('svc live --model (the tiny reference) converts ≥ 99 % of blocks live into the virtual microphone', async () => {
  const bundle = join(temp.dir, 'tiny');
  await makeReference('tiny', bundle, { seed: 7 });
  // The speech plays for about 3.8 s; --duration counts input seconds (the monitor delivers silence too).
  const run = startSvc(['live', '--input', String(feedId), '--rate', String(RATE), '--model', bundle, '--virtual-mic', 'svc_neural', '--duration', '8', '--json', '--stats-interval', '1']);
  try {
    await waitForOutput(run, /pick it as the microphone/);
    const played = spawn('paplay', ['-d', 'feed', speechPath], { env: pulse.env, stdio: 'ignore' });
    await new Promise((r) => played.on('close', r));
    assert.is(await run.exited, 0, run.stderr());
    assert.match(run.stdout(), /svc live: tiny computes .* per block \(p95\) here/);
    const summary = JSON.parse(run.stdout().split('\n').find((l) => l.startsWith('{"type":"summary"'))!);
    assert.is(summary.model, 'tiny');
    const total = summary.blocks.converted + summary.blocks.notConverted;
    assert.ok(total > 10, `blocks ${JSON.stringify(summary.blocks)}`);
    assert.ok(summary.blocks.converted >= 0.99 * total, `converted ${summary.blocks.converted} of ${total}`);
    assert.is(summary.dropped.dryBlocks, 0);
    assert.equal(svcModules('svc_neural'), []);
    // The microphone is a PulseAudio stream (ALSA's pulse plugin): its buffer, which PortAudio cannot
    // see, is asked from the sound server and counted in the reported latency. (Its level is 0–20 ms at any
    // instant, often 0: found, not its size, is what holds on any machine.)
    const lines = run.stdout().split('\n').filter((l) => l.startsWith('{"type":"stats"')).map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.latency.deviceLatencyFrom === 'pulseaudio' && l.latency.inputDeviceFrom === 'pulseaudio'), `device latency: ${JSON.stringify(lines.map((l) => [l.latency.deviceLatencyFrom, l.latency.inputDeviceFrom, l.latency.inputDeviceMs]))}`);
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('pactl stream listings: this process\'s streams with their buffer, device latency and device', () => {
  // A sink input as pulseaudio 16 lists it (trimmed), and another process's stream, which is not ours.
  const listing = [
    'Sink Input #3\n\tDriver: protocol-native.c\n\tSink: 2\n\tBuffer Latency: 40000 usec\n\tSink Latency: 11086 usec\n\tProperties:\n\t\tmedia.name = "ALSA Playback"\n\t\tapplication.process.id = "4242"\n',
    'Sink Input #4\n\tBuffer Latency: 5000 usec\n\tSink Latency: 9000 usec\n\tProperties:\n\t\tapplication.process.id = "42"\n',
  ].join('\n');
  assert.equal(parsePactlStreams(listing, 4242), [{ bufferMs: 40, deviceMs: 11.086, deviceIndex: 2 }]);
  assert.equal(parsePactlStreams(listing, 1), []);
  // A sink's own latency, found by its exact name (not a sink whose name merely starts the same).
  const sinks = 'Sink #1\n\tName: svc_test_out_2\n\tLatency: 900 usec, configured 2000000 usec\n\nSink #2\n\tState: RUNNING\n\tName: svc_test_out\n\tLatency: 1834000 usec, configured 2000000 usec\n';
  assert.is(parseSinkLatencyMs(sinks, 'svc_test_out'), 1834);
  assert.is(parseSinkLatencyMs(sinks, 'svc_other'), null);
});

test('where ALSA\'s default device is not PulseAudio\'s, the voice still reaches the virtual microphone (through pacat), never that device, and svc live says so', async () => {
  // The default PCM is ALSA's null plugin: PULSE_SINK means nothing to it, so the stream opened there must
  // be refused (VirtualMic.openDeviceSink finds no stream of this process on its sink) and pacat used.
  const alsa = join(temp.dir, 'not-pulse.conf');
  writeFileSync(alsa, 'pcm.!default { type null }\nctl.!default { type hw\n card 0 }\npcm.svc_feed { type pulse\n device "feed.monitor" }\n');
  const env = { ...pulse.env, ALSA_CONFIG_PATH: alsa };
  const listing = await runSvc(['devices', '--json'], { env });
  const feed = (JSON.parse(listing.stdout) as { id: number; name: string }[]).find((d) => d.name === 'svc_feed');
  assert.ok(feed, listing.stdout);
  const run = startSvc(['live', '--input', String(feed.id), '--rate', String(RATE), '--virtual-mic', 'svc_nopulse', '--json', '--duration', '6'], env);
  let recorder: ChildProcess | undefined;
  try {
    await waitForOutput(run, /pick it as the microphone/);
    const recorded: Buffer[] = [];
    recorder = spawn('parec', ['-d', 'svc_nopulse', '--format=float32le', `--rate=${RATE}`, '--channels=1', '--raw'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    recorder.stdout!.on('data', (d: Buffer) => recorded.push(d));
    const played = spawn('paplay', ['-d', 'feed', speechPath], { env, stdio: 'ignore' });
    await new Promise((r) => played.on('close', r));
    await new Promise((r) => setTimeout(r, 800));
    recorder.kill('SIGTERM');
    assert.is(await run.exited, 0, run.stderr());
    const stdout = run.stdout();
    const notice = stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l)).find((l) => l.code === 'VIRTUAL_MIC_VIA_PACAT');
    assert.ok(notice, `the pacat notice: ${stdout.slice(0, 2000)}`);
    const output = float32FromBytes(Buffer.concat(recorded));
    const f0Out = medianF0(output, RATE);
    assert.ok(f0Out.frames > 30, `voiced frames on the virtual microphone: ${f0Out.frames}`);
    assert.equal(svcModules('svc_nopulse'), []);
  } finally {
    recorder?.kill('SIGKILL');
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('when the sound server removes the sink, svc live exits with the reason and leaves nothing behind', async () => {
  const run = startSvc(['live', '--input', String(feedId), '--rate', String(RATE), '--virtual-mic', 'svc_crash']);
  try {
    await waitForOutput(run, /pick it as the microphone/);
    const sinkModule = svcModules('svc_crash_out').find((l) => /module-null-sink/.test(l))!;
    pulse.pactl('unload-module', sinkModule.split('\t')[0]!);
    // Exit status 1; or, where PortAudio's thread died with the device and never lets naudiodon stop,
    // svc says so and ends itself with SIGKILL (nothing else gets past those threads; see live.ts).
    const code = await run.exited;
    if (code !== 1) {
      assert.is(run.child.signalCode, 'SIGKILL', `exit ${code}: ${run.stderr()}`);
      assert.match(run.stderr(), /svc live: the audio device's thread did not stop/);
    }
    assert.match(run.stderr(), /svc: the virtual microphone's (sink|source) was removed by the sound server/);
    assert.equal(svcModules('svc_crash'), [], 'the remapped source was removed too');
  } finally {
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('a run that was killed leaves devices the next run replaces', async () => {
  const killed = startSvc(['live', '--input', String(feedId), '--rate', String(RATE), '--virtual-mic', 'svc_stale']);
  await waitForOutput(killed, /pick it as the microphone/);
  killed.child.kill('SIGKILL'); // no handler runs: the modules stay
  await killed.exited;
  assert.is(svcModules('svc_stale').length, 2, 'SIGKILL left the sink and the source');
  const next = await runSvc(['live', '--input', String(feedId), '--rate', String(RATE), '--virtual-mic', 'svc_stale', '--duration', '0.5'], { env: pulse.env, timeoutMs: 60_000 });
  assert.is(next.code, 0, next.stderr);
  assert.equal(svcModules('svc_stale'), []);
  // The sink's clock stream (a pacat whose input is svc) ended with each run, the killed one too.
  for (let waited = 0; /svc virtual microphone clock/.test(pulse.pactl('list', 'sink-inputs')) && waited < 5000; waited += 100) await new Promise((r) => setTimeout(r, 100));
  assert.not.match(pulse.pactl('list', 'sink-inputs'), /svc virtual microphone clock/);
});

test('without a sound server --virtual-mic says what is missing', async () => {
  // A silent ALSA default device as the microphone: only the sound server is missing.
  const alsa = join(temp.dir, 'null.conf');
  writeFileSync(alsa, 'pcm.!default { type null }\nctl.!default { type hw\n card 0 }\n');
  const env = { ...pulse.env, ALSA_CONFIG_PATH: alsa, PULSE_SERVER: `unix:${join(temp.dir, 'nothing-here')}` };
  const result = await runSvc(['live', '--virtual-mic', '--rate', String(RATE), '--duration', '0.5'], { env });
  assert.is(result.code, 1);
  assert.match(result.stderr, /svc: --virtual-mic needs a running PulseAudio or PipeWire \(pipewire-pulse\) server/);
  assert.match(result.stderr, /pulseaudio-utils/);
});

test.run();
