// Runs svc's Python jobs (python/svc_py, PyTorch from Debian) as child processes: spawns
// `<python> -m svc_py.<module> ARGS` with PYTHONPATH=<repo>/python, reads JSON-line events from
// stdout ({event:"progress"|"result"|"error"}), and kills the child on every exit path (done,
// error, timeout, abort, parent exit). A missing interpreter or missing torch becomes
// SvcError('PYTHON_UNAVAILABLE') with the apt command that fixes it.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SvcError, isSvcErrorCode, type SvcErrorCode } from './errors.js';
import { pythonExecutable, repoRoot } from './paths.js';

/** The folder that holds the svc_py package. */
export const pythonPackageDir: string = join(repoRoot, 'python');

export const PYTHON_INSTALL_HINT =
  'install PyTorch for the system Python: sudo apt-get install python3-torch python3-torchaudio python3-onnx python3-numpy ' +
  '(or set SVC_PYTHON to a Python that has torch, torchaudio, onnx and numpy)';

export interface PythonEvent {
  /** progress, result and error are common to every job; jobs may add their own (start, step, ...). */
  event: string;
  message?: string;
  code?: string;
  hint?: string | null;
  [key: string]: unknown;
}

export interface RunPythonOptions {
  /** Called for every progress event (message text and the whole event). */
  onProgress?: (message: string, event: PythonEvent) => void;
  /** Kill the job after this many milliseconds (SvcError INTERNAL). Default: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Extra environment variables. */
  env?: NodeJS.ProcessEnv;
  /** Interpreter; default `pythonExecutable` (SVC_PYTHON or /usr/bin/python3). */
  python?: string;
  /** Called for every event other than result and error (progress included), e.g. training steps. */
  onEvent?: (event: PythonEvent) => void;
  /**
   * Arguments placed before `-m svc_py.<module>`, e.g. a launcher such as
   * `['-m', 'svc_py.torchrun', '--nproc_per_node', '2']` that starts the module itself.
   */
  launcher?: string[];
  /** How the child is stopped on cancel or parent exit: SIGTERM lets a launcher stop its workers. Default SIGKILL. */
  killSignal?: NodeJS.Signals;
  /** Hint attached to the error when the job ends without a result (e.g. how to resume). */
  failureHint?: string;
}


const MISSING_MODULE = /No module named '?(torch|torchaudio|onnx|numpy)\b/;

// Children still running, so a Ctrl-C or process.exit() of the parent does not leave them behind.
const liveChildren = new Map<ChildProcess, NodeJS.Signals>();
let exitHookInstalled = false;
function trackChild(child: ChildProcess, killSignal: NodeJS.Signals): void {
  liveChildren.set(child, killSignal);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const [c, signal] of liveChildren) c.kill(signal);
    });
  }
}

function errorFromEvent(event: PythonEvent, module: string): SvcError {
  const message = String(event.message ?? 'Python job failed');
  if (MISSING_MODULE.test(message)) {
    return new SvcError('PYTHON_UNAVAILABLE', `svc_py.${module} needs ${MISSING_MODULE.exec(message)![1]} in ${pythonExecutable}: ${message}`, { hint: PYTHON_INSTALL_HINT });
  }
  const code: SvcErrorCode = isSvcErrorCode(event.code) ? event.code : 'INTERNAL';
  return new SvcError(code, message, event.hint ? { hint: event.hint } : {});
}

/**
 * Runs `python -m svc_py.<module> ...args` and resolves with the payload of its "result" event.
 * Rejects with the job's SvcError (its own code and hint) or PYTHON_UNAVAILABLE / INTERNAL.
 */
export function runPythonModule<T = Record<string, unknown>>(module: string, args: string[], options: RunPythonOptions = {}): Promise<T> {
  const python = options.python ?? pythonExecutable;
  return new Promise<T>((resolvePromise, rejectPromise) => {
    let settled = false;
    let result: PythonEvent | undefined;
    let failure: SvcError | undefined;
    let stdoutBuffer = '';
    let stderrTail = '';
    let timer: NodeJS.Timeout | undefined;

    const child = spawn(python, [...(options.launcher ?? []), '-m', `svc_py.${module}`, ...args], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...options.env,
        PYTHONPATH: [pythonPackageDir, process.env.PYTHONPATH].filter(Boolean).join(':'),
        PYTHONUNBUFFERED: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    trackChild(child, options.killSignal ?? 'SIGKILL');

    const onAbort = (): void => finish(new SvcError('INTERNAL', `svc_py.${module} was cancelled`));
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill(options.killSignal ?? 'SIGKILL');
      liveChildren.delete(child);
    };
    function finish(error?: SvcError, value?: T): void {
      if (settled) return;
      settled = true;
      cleanup();
      if (error) rejectPromise(error);
      else resolvePromise(value as T);
    }

    if (options.signal) {
      if (options.signal.aborted) return onAbort();
      options.signal.addEventListener('abort', onAbort, { once: true });
    }
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(() => finish(new SvcError('INTERNAL', `svc_py.${module} took longer than ${Math.round(options.timeoutMs! / 1000)} s and was stopped`)), options.timeoutMs);
    }

    const handleLine = (line: string): void => {
      if (!line.trim()) return;
      let event: PythonEvent;
      try {
        event = JSON.parse(line) as PythonEvent;
      } catch {
        stderrTail = (stderrTail + line + '\n').slice(-4000); // stray print: keep for diagnostics
        return;
      }
      if (event.event === 'result') {
        result ??= event;
      } else if (event.event === 'error') {
        failure ??= errorFromEvent(event, module);
      } else {
        if (event.event === 'progress') options.onProgress?.(String(event.message ?? ''), event);
        options.onEvent?.(event);
      }
    };

    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      stdoutBuffer += chunk;
      let newline: number;
      while ((newline = stdoutBuffer.indexOf('\n')) >= 0) {
        handleLine(stdoutBuffer.slice(0, newline));
        stdoutBuffer = stdoutBuffer.slice(newline + 1);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'EACCES') {
        finish(new SvcError('PYTHON_UNAVAILABLE', `cannot run Python at ${python} (${error.code})`, { hint: PYTHON_INSTALL_HINT }));
      } else {
        finish(new SvcError('INTERNAL', `cannot start ${python}: ${error.message}`, { cause: error }));
      }
    });
    child.on('close', (code, signal) => {
      handleLine(stdoutBuffer);
      stdoutBuffer = '';
      if (failure) return finish(failure);
      if (code === 0 && result) {
        const { event: _event, ...payload } = result;
        return finish(undefined, payload as T);
      }
      if (MISSING_MODULE.test(stderrTail)) {
        return finish(new SvcError('PYTHON_UNAVAILABLE', `${python} lacks ${MISSING_MODULE.exec(stderrTail)![1]}, which svc_py.${module} needs`, { hint: PYTHON_INSTALL_HINT }));
      }
      const tail = stderrTail.trim().split('\n').slice(-6).join('\n');
      finish(new SvcError('INTERNAL', `svc_py.${module} ended without a result (exit ${code ?? signal})${tail ? `:\n${tail}` : ''}`, options.failureHint ? { hint: options.failureHint } : {}));
    });
  });
}

/** Checks that the interpreter runs and has torch; resolves with versions, else PYTHON_UNAVAILABLE. */
export async function checkPython(options: { python?: string } = {}): Promise<{ python: string; torch: string; torchaudio: string; onnx: string }> {
  const info = await runPythonModule<{ python: string; torch: string; torchaudio: string; onnx: string }>('check', [], options);
  return info;
}
