// Where things live: the repository root (for shipped models and the web client) and the shared
// data folder beside it (tests and benchmarks only).
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRepoRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'models'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(start, '..', '..');
    dir = parent;
  }
}

/** Root of the svc checkout (works from src/ under tsx and from dist/src/ when compiled). */
export const repoRoot: string = findRepoRoot(dirname(fileURLToPath(import.meta.url)));

/** Models shipped in the repository (SwiftF0, CREPE tiny, ...). */
export const shippedModelsDir: string = join(repoRoot, 'models');

/** The web client's static files. */
export const webClientDir: string = join(repoRoot, 'clients', 'web');

/** `../shared/data` beside the checkout: real speech, singing and small models for tests and benches. */
export const sharedDataDir: string = process.env.SVC_SHARED_DATA ?? resolve(repoRoot, '..', 'shared', 'data');

/** The Python interpreter that has torch (Debian's), overridable for other setups. */
export const pythonExecutable: string = process.env.SVC_PYTHON ?? '/usr/bin/python3';

/** The user's model folder ($SVC_MODELS_DIR, else XDG data home / svc / models). */
export function userModelsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SVC_MODELS_DIR) return resolve(env.SVC_MODELS_DIR);
  const dataHome = env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : join(homedir(), '.local', 'share');
  return join(dataHome, 'svc', 'models');
}

/** Folders searched for model bundles, shared encoders and imported f0 models, first match wins. */
export function modelRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots = [shippedModelsDir, userModelsDir(env)];
  return roots.filter((r, i) => roots.indexOf(r) === i);
}
