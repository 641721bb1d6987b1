// `svc import-sovits --checkpoint G.pth --config config.json --out models/NAME`: turns an upstream
// so-vits-svc 4.0/4.1 generator checkpoint into an svc bundle (python/svc_py/import_sovits.py):
// checks keys and shapes against the config (naming missing/unexpected keys and the likely cause),
// exports generator.onnx with upstream's signature, writes manifest.json, config.json, speakers.json.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { writeBundleWithPython, type SovitsManifest } from '../../voices/sovits/bundle.js';

export interface ImportSovitsOptions {
  checkpoint: string;
  config: string;
  out: string;
  name?: string;
  /** A content encoder ONNX to copy into the bundle (source->embed or audio->units convention). */
  encoder?: string;
  force?: boolean;
  onProgress?: (message: string) => void;
}

export interface ImportSovitsResult {
  out: string;
  manifest: SovitsManifest;
  export_seconds: number;
}

export async function importSovits(options: ImportSovitsOptions): Promise<ImportSovitsResult> {
  for (const [flag, path] of [['--checkpoint', options.checkpoint], ['--config', options.config], ['--encoder', options.encoder]] as const) {
    if (path !== undefined && !existsSync(path)) {
      throw new SvcError('FILE_NOT_FOUND', `${flag} ${path} does not exist`, {
        hint: flag === '--config' ? 'pass the config.json trained with the checkpoint' : flag === '--checkpoint' ? 'pass the generator checkpoint G_<step>.pth' : 'pass the content encoder .onnx',
      });
    }
  }
  const args = ['--checkpoint', resolve(options.checkpoint), '--config', resolve(options.config), '--out', resolve(options.out)];
  args.push('--name', options.name ?? basename(resolve(options.out)));
  if (options.encoder) args.push('--encoder', resolve(options.encoder));
  if (options.force) args.push('--force');
  return writeBundleWithPython<ImportSovitsResult>('import_sovits', args, options.onProgress);
}

export function register(program: Command): void {
  program
    .command('import-sovits')
    .description('Import a so-vits-svc 4.0/4.1 generator checkpoint (G_*.pth + config.json) as an svc model bundle with an ONNX generator')
    .requiredOption('--checkpoint <file>', 'generator checkpoint G_<step>.pth from so-vits-svc (not D_*.pth)')
    .requiredOption('--config <file>', 'the so-vits-svc config.json the checkpoint was trained with')
    .requiredOption('--out <dir>', 'bundle folder to create, e.g. models/NAME (must be empty unless --force)')
    .option('--name <name>', 'model name stored in the manifest (default: the --out folder name)')
    .option('--encoder <file>', 'content encoder .onnx to include (input source [1,1,N] -> embed, or audio [1,N] -> units; 16 kHz, 20 ms rows)')
    .option('--force', 'write into a non-empty --out folder, replacing bundle files', false)
    .action(async (opts: { checkpoint: string; config: string; out: string; name?: string; encoder?: string; force: boolean }) => {
      const result = await importSovits({ ...opts, onProgress: (message) => console.error(`import-sovits: ${message}`) });
      const m = result.manifest;
      const speakers = Object.keys(m.speakers);
      console.log(`imported ${m.name} -> ${result.out}`);
      console.log(`  so-vits-svc ${m.sovits_version}, ${m.sampling_rate} Hz, hop ${m.hop_length}, ${m.ssl_dim}-d ${m.speech_encoder} content, vol_embedding ${m.vol_embedding}`);
      console.log(`  speakers (${speakers.length}): ${speakers.join(', ') || '-'}; generator.onnx exported in ${result.export_seconds.toFixed(1)} s`);
      if (!m.encoder) console.log(`  no content encoder in the bundle: supply a ${m.speech_encoder} encoder .onnx (--encoder) to convert audio`);
    });
}
