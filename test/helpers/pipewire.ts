// A private PipeWire for tests, with its PulseAudio server (pipewire-pulse) as most Linux desktops now
// run it: its own D-Bus session bus, pipewire, the WirePlumber session manager (it links streams to
// devices) and pipewire-pulse, all under a temp folder. Clients reach it as they reach PulseAudio:
// PULSE_SERVER for pactl/paplay/parec, ALSA's `pulse` plugin for PortAudio (an ALSA config written here).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { pactlIn, writeAlsaPulseConfig, type PulseDaemon } from './pulse.js';

/** Whether the programs are installed (Debian: pipewire, pipewire-pulse, wireplumber, dbus). */
export function pipeWireInstalled(): boolean {
  return ['pipewire', 'pipewire-pulse', 'wireplumber', 'dbus-daemon'].every((p) => spawnSync('sh', ['-c', `command -v ${p}`]).status === 0);
}

/** Starts the four daemons and waits until pipewire-pulse answers; `alsaPcms` as startPulseDaemon's. */
export async function startPipeWire(dir: string, options: { alsaPcms: Record<string, string> }): Promise<PulseDaemon> {
  const runtime = join(dir, 'run');
  mkdirSync(runtime, { recursive: true, mode: 0o700 });
  const alsaConfig = writeAlsaPulseConfig(dir, options.alsaPcms);
  const bus = `unix:path=${join(runtime, 'bus')}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir,
    XDG_RUNTIME_DIR: runtime,
    DBUS_SESSION_BUS_ADDRESS: bus,
    PULSE_SERVER: `unix:${join(runtime, 'pulse', 'native')}`,
    ALSA_CONFIG_PATH: alsaConfig,
    PIPEWIRE_RUNTIME_DIR: runtime,
  };
  const daemons: ChildProcess[] = [];
  let log = '';
  const start = (command: string, args: string[] = []): void => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
    child.on('error', (error) => (log += `\n${command}: ${error.message}`));
    daemons.push(child);
  };
  const stop = async (): Promise<void> => {
    for (const child of daemons.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  const pactl = pactlIn(env);
  try {
    start('dbus-daemon', ['--session', `--address=${bus}`, '--nofork', '--nopidfile']);
    for (let waited = 0; spawnSync('dbus-send', ['--session', '--dest=org.freedesktop.DBus', '/', 'org.freedesktop.DBus.Peer.Ping'], { env }).status !== 0; waited += 100) {
      if (waited > 10_000) throw new Error(`the D-Bus session bus did not answer: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    start('pipewire');
    start('wireplumber');
    start('pipewire-pulse');
    const deadline = Date.now() + 30_000;
    while (spawnSync('pactl', ['info'], { env, timeout: 5000 }).status !== 0) {
      if (daemons.some((d) => d.exitCode !== null)) throw new Error(`a PipeWire daemon exited: ${log}`);
      if (Date.now() > deadline) throw new Error(`pipewire-pulse did not answer within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { env, pactl, stop };
}
