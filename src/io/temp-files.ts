// Temp files that killed writes leave behind. Every atomic write in svc goes to a sibling temp file that
// is renamed onto the final name: `<name>.tmp-<pid>[-<hex>]` (audio/io.ts, preprocess, svc_py.train's
// checkpoints) or `<name>.tmp[.onnx|.png]` (export_run.py, svc_py.train's plots). A process killed mid-write
// leaves that file; the next run in the same folder (start or --resume) removes the ones whose writer is
// gone: its pid no longer runs, or, without a pid, the file has not changed for `minAgeMs`.
import { readdirSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ioError } from '../errors.js';

const TEMP_NAME = /\.tmp(?:-(\d+)(?:-[0-9a-f]+)?)?(?:\.(?:onnx|png))?$/;

function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // runs, as another user
  }
}

/**
 * Removes stale temp files in `dir` and, with `subfolders`, in those sub-folders of it; returns the paths
 * removed. A missing folder is no error; a temp file that cannot be removed is (naming it and the fix).
 */
export function removeStaleTempFiles(dir: string, options: { subfolders?: string[]; minAgeMs?: number; nowMs?: number } = {}): string[] {
  const minAgeMs = options.minAgeMs ?? 10 * 60_000;
  const nowMs = options.nowMs ?? Date.now();
  const removed: string[] = [];
  for (const folder of [dir, ...(options.subfolders ?? []).map((s) => join(dir, s))]) {
    let entries: string[];
    try {
      entries = readdirSync(folder);
    } catch {
      continue;
    }
    for (const entry of entries) {
      const match = TEMP_NAME.exec(entry);
      if (!match) continue;
      const path = join(folder, entry);
      let stale: boolean;
      try {
        const st = statSync(path);
        if (!st.isFile()) continue;
        stale = match[1] !== undefined ? Number(match[1]) !== process.pid && !processRuns(Number(match[1])) : nowMs - st.mtimeMs >= minAgeMs;
      } catch {
        continue;
      }
      if (!stale) continue;
      try {
        unlinkSync(path);
        removed.push(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(error, path, 'remove a stale temp file');
      }
    }
  }
  return removed;
}
