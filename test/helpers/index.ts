// Shared test helpers: paths to shared data, running the real `svc` CLI, temp dirs.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, sharedDataDir } from '../../src/paths.js';

export { repoRoot, sharedDataDir };

/** Path of a file under ../shared/data. */
export function shared(...parts: string[]): string {
  return join(sharedDataDir, ...parts);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI from source (node --import tsx src/cli/main.ts ARGS), like a user would. */
export function runSvc(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
  });
}

/** A running `svc` process (startSvcProcess): its output so far and its exit. */
export interface RunningSvc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts the real CLI with ARGS and `env`, collecting its output; killed after 120 s so a hang fails the test instead of stalling it. */
export function startSvcProcess(args: string[], env: NodeJS.ProcessEnv): RunningSvc {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'cli', 'main.ts'), ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolvePromise) => child.on('close', (code) => resolvePromise(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  void exited.then(() => clearTimeout(killer));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Waits until `run`'s stdout matches `pattern`; throws with its output if it exits first. */
export async function waitForOutput(run: RunningSvc, pattern: RegExp): Promise<void> {
  while (!pattern.test(run.stdout())) {
    if (run.child.exitCode !== null) throw new Error(`svc exited early (${run.child.exitCode}): ${run.stderr()}${run.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A fresh temporary directory; call the returned cleanup in `after`. */
export function makeTempDir(prefix = 'svc-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Points the model registry at `dir` ($SVC_MODELS_DIR); the returned function restores the previous value. */
export function useModelsDir(dir: string): () => void {
  const previous = process.env.SVC_MODELS_DIR;
  process.env.SVC_MODELS_DIR = dir;
  return () => {
    if (previous === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previous;
  };
}

/**
 * Imports the shipped small base (models/sovits_small_base: trained, follows the input's f0, unlike the
 * random-weight references) with svc's phone encoder as a one-speaker bundle named 'small' at `out`.
 */
export async function importShippedSmallBase(out: string): Promise<void> {
  const { importSovits } = await import('../../src/voices/sovits/import.js');
  const base = join(repoRoot, 'models', 'sovits_small_base');
  await importSovits({ checkpoint: join(base, 'G_0.pth'), config: join(base, 'config.json'), encoder: join(repoRoot, 'models', 'svc_phone_encoder', 'encoder.onnx'), out, name: 'small', singleSpeakerGraph: true });
}
