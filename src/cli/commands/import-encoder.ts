// `svc import-encoder CHECKPOINT --name vec768l12|vec256l9|hubertsoft|... --out FILE.onnx`: converts the
// content-encoder checkpoint a so-vits-svc user has (ContentVec's checkpoint_best_legacy_500.pt,
// fairseq's hubert_base.pt, soft-VC's hubert-soft-0d54a1f4.pt) into svc's encoder ONNX, checked
// against PyTorch on the same weights (src/voices/sovits/encoder-import.ts).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { SvcError } from '../../errors.js';
import { IMPORTABLE_ENCODERS, importEncoder } from '../../voices/sovits/encoder-import.js';

export function register(program: Command): void {
  program
    .command('import-encoder')
    .description('Convert a fairseq HuBERT/ContentVec or soft-VC HuBERT-Soft checkpoint (.pt) into a content encoder .onnx for svc bundles')
    .argument('<checkpoint>', 'checkpoint_best_legacy_500.pt (ContentVec), hubert_base.pt (fairseq HuBERT) or hubert-soft-0d54a1f4.pt (soft-VC)')
    .requiredOption('--name <speech_encoder>', `which features: ${IMPORTABLE_ENCODERS.join(', ')} (the model config's speech_encoder; *-onnx names mean the same)`)
    .requiredOption('--out <file.onnx>', 'ONNX file to write (e.g. models/encoders/vec768l12.onnx, the shared encoder for bundles without one)')
    .option('--force', 'overwrite --out', false)
    .action(async (checkpoint: string, opts: { name: string; out: string; force: boolean }) => {
      if (!existsSync(checkpoint)) throw new SvcError('FILE_NOT_FOUND', `checkpoint ${checkpoint} does not exist`, { hint: 'docs/models.md says where each encoder checkpoint comes from' });
      const result = await importEncoder({ checkpoint, name: opts.name, out: opts.out, force: opts.force, onProgress: (m) => console.error(`import-encoder: ${m}`) });
      console.log(`wrote ${result.out}`);
      console.log(`  ${result.speech_encoder}: ${result.description}; source [1,1,N] 16 kHz -> embed [1,T,${result.dim}], one row per 20 ms`);
      const parity = result.parity!;
      console.log(`  ONNX vs PyTorch on ${parity.frames} rows: max |difference| ${parity.maxAbsDiff.toExponential(2)} (${parity.relative.toExponential(2)} of peak); exported in ${result.export_seconds.toFixed(1)} s`);
    });
}
