// A private PulseAudio daemon for tests: its own socket, config and runtime dir in a temp folder, so
// tests neither need nor touch a desktop's sound server. ALSA clients (PortAudio) reach it through
// the `pulse` ALSA plugin (libasound2-plugins) with an ALSA config written here.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PulseDaemon {
  /** Environment for pactl/parec/paplay and for svc (PULSE_SERVER, HOME, XDG_RUNTIME_DIR, ALSA_CONFIG_PATH). */
  env: NodeJS.ProcessEnv;
  pactl(...args: string[]): string;
  stop(): Promise<void>;
}

/**
 * Starts `pulseaudio` (no system config: only the modules given) and waits until it answers.
 * `alsaPcms` maps ALSA device names to PulseAudio sink/source names, e.g. { svc_feed: 'feed.monitor' }.
 */
export async function startPulseDaemon(dir: string, options: { modules: string[]; alsaPcms: Record<string, string> }): Promise<PulseDaemon> {
  const runtime = join(dir, 'runtime');
  mkdirSync(runtime, { recursive: true });
  const socket = join(dir, 'native');
  const script = join(dir, 'default.pa');
  writeFileSync(script, [`load-module module-native-protocol-unix auth-anonymous=1 socket=${socket}`, ...options.modules.map((m) => `load-module ${m}`)].join('\n') + '\n');
  const alsaConfig = writeAlsaPulseConfig(dir, options.alsaPcms);
  const env: NodeJS.ProcessEnv = { ...process.env, PULSE_SERVER: `unix:${socket}`, HOME: dir, XDG_RUNTIME_DIR: runtime, ALSA_CONFIG_PATH: alsaConfig };
  const daemon: ChildProcess = spawn('pulseaudio', ['-n', '-F', script, '--daemonize=no', '--exit-idle-time=-1', '--disable-shm=yes', '--log-target=stderr'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  daemon.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const pactl = pactlIn(env);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (daemon.exitCode !== null) throw new Error(`pulseaudio exited with ${daemon.exitCode}: ${log}`);
    if (spawnSync('pactl', ['info'], { env, timeout: 5000 }).status === 0) break;
    if (Date.now() > deadline) throw new Error(`pulseaudio did not answer within 30 s: ${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    env,
    pactl,
    stop: async () => {
      if (daemon.exitCode !== null) return;
      const exited = new Promise((r) => daemon.once('exit', r));
      daemon.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
    },
  };
}

/**
 * An ALSA config in `dir` whose default device and `alsaPcms` (ALSA name → sink/source name) go to the
 * sound server PULSE_SERVER names, through ALSA's `pulse` plugin; returns its path (for ALSA_CONFIG_PATH).
 */
export function writeAlsaPulseConfig(dir: string, alsaPcms: Record<string, string>): string {
  const path = join(dir, 'asound.conf');
  writeFileSync(path, 'pcm.!default { type pulse }\nctl.!default { type pulse }\n' + Object.entries(alsaPcms).map(([name, device]) => `pcm.${name} { type pulse\n device "${device}" }\n`).join(''));
  return path;
}

/** `pactl ARGS` against the server `env` names: its stdout, or a throw with its stderr. */
export function pactlIn(env: NodeJS.ProcessEnv): (...args: string[]) => string {
  return (...args: string[]): string => {
    const r = spawnSync('pactl', args, { env, encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) throw new Error(`pactl ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
    return r.stdout;
  };
}

/** Float32 little-endian raw bytes → samples. */
export function float32FromBytes(bytes: Buffer): Float32Array {
  const out = new Float32Array(bytes.length >> 2);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}
