// `svc import-rvc MODEL.pth|MODEL.onnx [--index FILE.index] [--encoder E.onnx] --out DIR`: turns an RVC
// v1/v2 model (32/40/48 kHz, with or without f0) into an svc RVC bundle (src/voices/rvc/import.ts).
import type { Command } from 'commander';
import { describeRvc } from '../../voices/rvc/bundle.js';
import { importRvc } from '../../voices/rvc/import.js';

export function register(program: Command): void {
  program
    .command('import-rvc')
    .description('Import an RVC v1/v2 model (the .pth RVC writes to assets/weights/, or RVC\'s ONNX export) with its optional .index as an svc model bundle')
    .argument('<model>', 'RVC model: NAME.pth (v1 256-d or v2 768-d, 32k/40k/48k, with or without f0) or an ONNX export with inputs phone, phone_lengths, pitch, pitchf, ds, rnd')
    .requiredOption('--out <dir>', 'bundle folder to create, e.g. models/NAME (must be empty unless --force)')
    .option('--index <file>', 'the feature index RVC trained for the model (logs/NAME/added_IVF*_Flat*.index)')
    .option('--encoder <file>', 'content encoder .onnx to include (hubert_base: 256-d layer 9 + final_proj for v1, 768-d layer 12 for v2)')
    .option('--name <name>', 'model name stored in the manifest (default: the --out folder name)')
    .option('--force', 'write into a non-empty --out folder, replacing bundle files', false)
    .action(async (model: string, opts: { out: string; index?: string; encoder?: string; name?: string; force: boolean }) => {
      const result = await importRvc({ model, ...opts, onProgress: (message) => console.error(`import-rvc: ${message}`) });
      const m = result.manifest;
      console.log(`imported ${m.name} -> ${result.out}`);
      console.log(`  ${describeRvc(m)}, ${m.n_speakers} speaker slot(s)`);
      if (!m.encoder) console.log(`  no content encoder in the bundle: supply a ${m.content_dim}-d hubert_base encoder .onnx (--encoder) to convert audio`);
    });
}
