// Starting a worker thread on one of our own modules: the built .js next to the caller, or under tsx
// (tests, benches, `node --import tsx`) the .ts file through tsx's loader, registered inside the thread
// (a worker does not inherit the parent's --import hooks).
import { Worker } from 'node:worker_threads';

/** A Worker running `name` (without extension) beside the module at `callerUrl` (its import.meta.url). */
export function startModuleWorker(callerUrl: string, name: string, workerData?: unknown): Worker {
  const typescript = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${typescript ? '.ts' : '.js'}`, callerUrl);
  if (!typescript) return new Worker(url, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true, workerData });
}
