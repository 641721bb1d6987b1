// `svc import-f0 FILE.pt [--kind rmvpe] [--out FILE.onnx]`: turns the pitch tracker users have (RVC's
// rmvpe.pt) into the graph `--f0 rmvpe` runs (src/dsp/f0/imported.ts). FCPE files are recognised and refused.
import { Option, type Command } from 'commander';
import { IMPORTED_F0_KINDS, importF0Model, type ImportedF0Kind } from '../../dsp/f0/imported.js';

export function register(program: Command): void {
  program
    .command('import-f0')
    .description('Import the RMVPE pitch tracker (rmvpe.pt as RVC publishes it), so `--f0 rmvpe` works in convert, serve, live, preprocess, eval and f0 (FCPE checkpoints are recognised but not converted yet)')
    .argument('<model>', 'rmvpe.pt (RVC assets/rmvpe/); read as data, no code in it runs')
    .addOption(new Option('--kind <kind>', 'what the file must be (default: detected from its weights)').choices([...IMPORTED_F0_KINDS]))
    .option('--out <file>', 'graph to write (default <user models>/f0/<kind>.onnx, where --f0 looks; models/f0/<kind>.onnx in the checkout also works)')
    .action(async (model: string, opts: { kind?: ImportedF0Kind; out?: string }) => {
      const result = await importF0Model({ model, ...opts, onProgress: (message) => console.error(`import-f0: ${message}`) });
      console.log(`imported ${result.meta.kind} -> ${result.out}`);
      console.log(`  16 kHz audio in, ${result.meta.bins} bins every ${result.meta.hop_samples} samples; use it with --f0 ${result.meta.kind}`);
    });
}
