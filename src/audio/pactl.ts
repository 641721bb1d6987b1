// The one wrapper of PulseAudio's `pactl` (pulseaudio-utils; PipeWire's pipewire-pulse answers it too):
// a blocking call for set-up and tear-down (the virtual microphone's modules, which must be gone before
// the process exits) and a non-blocking one for polling while audio runs (stream latencies every
// status line). Both run it with LC_ALL=C, so its labels stay English for the parsers, and with a
// timeout, so a wedged sound server cannot hang svc.
import { execFile, spawnSync } from 'node:child_process';

export interface PactlResult {
  /** Exit status; null when pactl did not run or was killed (then `error` says why). */
  status: number | null;
  stdout: string;
  /** Trimmed. */
  stderr: string;
  error?: Error;
}

const cLocale = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ ...env, LC_ALL: 'C' });

/** Runs `pactl args` and waits for it (for set-up and clean-up, where order matters). */
export function pactlSync(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 10_000): PactlResult {
  const r = spawnSync('pactl', args, { encoding: 'utf8', env: cLocale(env), timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '').trim(), error: r.error };
}

/** Runs `pactl args` without blocking the event loop (for polling while audio runs). */
export function pactl(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 3000): Promise<PactlResult> {
  return new Promise((resolve) => {
    execFile('pactl', args, { env: cLocale(env), timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const status = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ status, stdout: stdout ?? '', stderr: (stderr ?? '').trim(), error: error && typeof error.code !== 'number' ? error : undefined });
    });
  });
}
