// `svc export RUN --out models/NAME`: a training run → a model bundle (generator.onnx + config +
// speakers + manifest + the dataset's content encoder) that `svc convert --model` and the server
// load (python/svc_py/export_run.py; bundle format in docs/models.md). The bundle is validated
// with the same reader the runtime uses before the command reports success.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { parseNumberOption } from '../options.js';
import { writeBundleWithPython, type SovitsManifest } from '../../voices/sovits/bundle.js';
import { removeStaleTempFiles } from '../../io/temp-files.js';

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

export function register(program: Command): void {
  program
    .command('export')
    .description('Export a training run (svc train --out RUN) as a model bundle for `svc convert --model` and the server')
    .argument('<run>', 'run folder written by `svc train`')
    .requiredOption('--out <dir>', 'bundle folder to write, e.g. models/NAME (must be new or empty unless --force)')
    .option('--step <n>', 'export G_<n>.pth instead of the newest checkpoint')
    .option('--name <name>', 'model name in the manifest (default: the --out folder name)')
    .option('--force', 'write into a non-empty --out folder, replacing bundle files', false)
    .action(async (run: string, opts: { out: string; step?: string; name?: string; force: boolean }) => {
      const step = opts.step === undefined ? undefined : parseNumberOption('--step', opts.step, { min: 0, integer: true });
      const result = await exportRun(run, opts.out, { step, name: opts.name, force: opts.force, onProgress: (m) => console.error(`export: ${m}`) });
      const m = result.manifest;
      console.log(`model bundle: ${result.out} (step ${result.step})`);
      console.log(`  so-vits-svc ${m.sovits_version}, ${m.sampling_rate} Hz, hop ${m.hop_length}, ${m.ssl_dim}-d content, speakers: ${Object.keys(m.speakers).join(', ')}`);
      console.log(`  use it: svc convert IN.wav OUT.wav --model ${opts.out}`);
    });
}
