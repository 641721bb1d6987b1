// `svc export RUN --out models/NAME`: the command line of offline/export.ts (a training run as a model bundle).
import type { Command } from 'commander';
import { parseNumberOption } from '../options.js';
import { exportRun } from '../../offline/export.js';

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
