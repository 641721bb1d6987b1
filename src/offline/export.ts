// A training run → a model bundle (generator.onnx + config + speakers + manifest + the dataset's content
// encoder) that `svc convert --model` and the server load (python/svc_py/export_run.py; bundle format in
// docs/models.md). The bundle is validated with the same reader the runtime uses before success is reported.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SvcError } from '../errors.js';
import { writeBundleWithPython, type SovitsManifest } from '../voices/sovits/bundle.js';
import { removeStaleTempFiles } from '../io/temp-files.js';

export interface ExportRunResult {
  out: string;
  step: number;
  manifest: SovitsManifest;
  export_seconds: number;
}

/** Exports the newest (or the given) checkpoint of a run as a bundle. */
export async function exportRun(runDir: string, outDir: string, options: { step?: number; name?: string; force?: boolean; onProgress?: (message: string) => void } = {}): Promise<ExportRunResult> {
  if (!existsSync(runDir)) throw new SvcError('FILE_NOT_FOUND', `run folder not found: ${runDir}`, { hint: 'pass the --out folder of `svc train`' });
  if (!existsSync(join(runDir, 'run.json'))) {
    throw new SvcError('INVALID_ARGUMENT', `${runDir} is not an svc training run (no run.json)`, { hint: 'pass the --out folder of `svc train`; for so-vits-svc checkpoints use `svc import-sovits`' });
  }
  removeStaleTempFiles(resolve(outDir)); // generator.onnx.tmp.onnx of a killed export
  const args = ['--run', resolve(runDir), '--out', resolve(outDir)];
  if (options.step !== undefined) args.push('--step', String(options.step));
  if (options.name) args.push('--name', options.name);
  if (options.force) args.push('--force');
  return writeBundleWithPython<ExportRunResult>('export_run', args, options.onProgress);
}
