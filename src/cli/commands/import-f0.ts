// `svc import-f0 FILE.pt [--kind rmvpe|fcpe] [--out FILE.onnx]`: turns the pitch trackers users have (RVC's
// rmvpe.pt; FCPE's fcpe.pt from torchfcpe, RVC, Applio or DDSP-SVC) into the graph `--f0 rmvpe|fcpe` runs
// (src/dsp/f0/imported.ts).
import { Option, type Command } from 'commander';
import { IMPORTED_F0_KINDS, importF0Model, type ImportedF0Kind } from '../../dsp/f0/imported.js';

export function register(program: Command): void {
  program
    .command('import-f0')
    .description(
      "Import a pitch tracker users bring: RMVPE (rmvpe.pt as RVC publishes it) or FCPE (fcpe.pt: torchfcpe's bundled fcpe_c_v001.pt, which RVC and Applio ship as fcpe.pt, or DDSP-SVC / so-vits-svc's pretrain fcpe.pt), so `--f0 rmvpe` / `--f0 fcpe` work in convert, serve, live, preprocess, eval and f0",
    )
    .argument('<model>', 'rmvpe.pt or fcpe.pt; read as data, no code in it runs; the kind is detected from its weights')
    .addOption(new Option('--kind <kind>', 'what the file must be (default: detected from its weights)').choices([...IMPORTED_F0_KINDS]))
    .option('--out <file>', 'graph to write (default <user models>/f0/<kind>.onnx, where --f0 looks; models/f0/<kind>.onnx in the checkout also works)')
    .action(async (model: string, opts: { kind?: ImportedF0Kind; out?: string }) => {
      const result = await importF0Model({ model, ...opts, onProgress: (message) => console.error(`import-f0: ${message}`) });
      console.log(`imported ${result.meta.kind} -> ${result.out}`);
      console.log(`  16 kHz audio in, ${result.meta.bins} bins every ${result.meta.hop_samples} samples; use it with --f0 ${result.meta.kind}`);
    });
}
