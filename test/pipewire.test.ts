// `svc live` through PipeWire's PulseAudio server (pipewire-pulse), which most Linux desktops now run in
// place of PulseAudio, started privately here (helpers/pipewire.ts: D-Bus, pipewire, WirePlumber,
// pipewire-pulse): svc's microphone is the monitor of a null sink "feed" reached through ALSA's pulse
// plugin; paplay plays real speech into it; parec records svc's virtual microphone as OBS or Discord
// would. The voice must come through converted, the devices must go on Ctrl-C, and svc must say that this
// server lists no stream latencies (its figure then leaves the server's share out).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { readMono, writeWav } from '../src/audio/io.js';
import { makeTempDir, runSvc, shared, startSvcProcess, waitForOutput } from './helpers/index.js';
import { medianF0, semitonesBetween } from './helpers/pitch.js';
import { pipeWireInstalled, startPipeWire } from './helpers/pipewire.js';
import { float32FromBytes, type PulseDaemon } from './helpers/pulse.js';

const RATE = 48000;
const temp = makeTempDir('svc-pw-');
let server: PulseDaemon;

test.before(async () => {
  assert.ok(pipeWireInstalled(), 'PipeWire is installed (pipewire, pipewire-pulse, wireplumber, dbus: scripts/setup.sh installs them)');
  server = await startPipeWire(temp.dir, { alsaPcms: { svc_feed: 'feed.monitor' } });
  assert.match(server.pactl('info'), /Server Name: .*PipeWire/);
  server.pactl('load-module', 'module-null-sink', 'sink_name=feed', `rate=${RATE}`, 'channels=1');
});

test.after(async () => {
  await server?.stop();
  temp.cleanup();
});

test('svc live --virtual-mic through PipeWire: the converted voice (pitch +5 st) reaches a recorder, the devices go on Ctrl-C, and svc says the server lists no latencies', async () => {
  const mono = await readMono(shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  const speechPath = join(temp.dir, 'speech.wav');
  await writeWav(speechPath, mono, { format: 'float32' });
  const listing = await runSvc(['devices', '--json'], { env: server.env });
  assert.is(listing.code, 0, listing.stderr);
  const feed = (JSON.parse(listing.stdout) as { id: number; name: string }[]).find((d) => d.name === 'svc_feed');
  assert.ok(feed, `PortAudio lists the feed through pipewire-pulse: ${listing.stdout}`);

  const args = ['live', '--input', String(feed.id), '--rate', String(RATE), '--virtual-mic', 'svc_pw', '--pitch', '5', '--stats-interval', '0.5', '--latency-ms', '400', '--max-queue-ms', '1000'];
  const run = startSvcProcess(args, server.env);
  let parec: ChildProcess | undefined;
  try {
    await waitForOutput(run, /pick it/);
    assert.match(server.pactl('list', 'short', 'sources'), /^\d+\s+svc_pw\s/m, 'the virtual microphone is a source of the server');
    // A recorder that asks a short latency, as OBS and browsers do: pipewire-pulse's default fragment is
    // 2 s, and what parec holds unread is lost when it is stopped.
    parec = spawn('parec', ['-d', 'svc_pw', '--format=float32le', `--rate=${RATE}`, '--channels=1', '--raw', '--latency-msec=20'], { env: server.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const recorded: Buffer[] = [];
    parec.stdout!.on('data', (d: Buffer) => recorded.push(d));
    const played = spawn('paplay', ['-d', 'feed', speechPath], { env: server.env, stdio: 'ignore' });
    assert.is(await new Promise((r) => played.on('close', r)), 0, 'paplay played the speech');
    await new Promise((r) => setTimeout(r, 1500)); // the held 400 ms, the server's share and the queues
    parec.kill('SIGTERM');
    await new Promise((r) => parec!.on('close', r));
    run.child.kill('SIGINT');
    assert.is(await run.exited, 0, run.stderr());

    assert.match(run.stdout(), /svc live: PulseAudio \(on PipeWire [\d.]+\) lists no latency for svc's streams/);
    assert.not.match(server.pactl('list', 'short', 'modules'), /svc_pw/, 'sink and source removed on Ctrl-C');
    const output = float32FromBytes(Buffer.concat(recorded));
    const f0In = medianF0(mono.samples, RATE);
    const f0Out = medianF0(output, RATE);
    assert.ok(f0Out.frames > 30, `voiced frames on the virtual mic: ${f0Out.frames} (${(output.length / RATE).toFixed(1)} s recorded)`);
    const semitones = semitonesBetween(f0In.hz, f0Out.hz);
    assert.ok(Math.abs(semitones - 5) < 0.6, `pitch moved ${semitones.toFixed(2)} st (${f0In.hz.toFixed(1)} → ${f0Out.hz.toFixed(1)} Hz), asked 5`);
  } finally {
    parec?.kill('SIGKILL');
    if (run.child.exitCode === null) run.child.kill('SIGKILL');
  }
});

test('pactl info names the server; only PipeWire\'s zero latencies count as unlisted', async () => {
  const { latenciesUnlisted, parseServerName } = await import('../src/audio/pulseLatency.js');
  const name = parseServerName(server.pactl('info'));
  assert.ok(name && /PipeWire/.test(name), `server name ${name}`);
  assert.is(parseServerName('Server String: /run/pulse/native\nServer Name: pulseaudio\nServer Version: 16.1\n'), 'pulseaudio');
  const zeros = { playback: [{ bufferMs: 0, deviceMs: 0, deviceIndex: 3 }], capture: [{ bufferMs: 0, deviceMs: 0, deviceIndex: 1 }] };
  assert.ok(latenciesUnlisted(name, zeros));
  assert.not.ok(latenciesUnlisted('pulseaudio', zeros), 'on PulseAudio a zero is a reading');
  assert.not.ok(latenciesUnlisted(name, { playback: [{ bufferMs: 21, deviceMs: 5, deviceIndex: 3 }], capture: [] }), 'a PipeWire that lists latencies is believed');
});

test.run();
