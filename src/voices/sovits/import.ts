// Library side of `svc import-sovits`: turns an upstream so-vits-svc 4.0/4.1 (or so-vits-svc-fork hifi-gan)
// generator checkpoint, release checkpoints included, or an upstream onnx_export.py export (single-speaker or
// speaker-mix graph) into an svc bundle (python/svc_py/import_sovits.py): checks keys and shapes (or the ONNX
// signature) against the config, naming the likely cause of a mismatch; checks or converts the encoder first
// (a .pt encoder becomes encoder.onnx, checked against PyTorch); writes manifest.json, config.json, speakers.json.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { runPythonModule } from '../../python.js';
import { readBundle, type SovitsManifest } from './bundle.js';
import { checkEncoderProbe, type EncoderProbe } from './encoder-import.js';

export interface ImportSovitsOptions {
  /** The generator checkpoint G_<step>.pth (or a release G_*_release[_half].pth); or pass `onnx`. */
  checkpoint?: string;
  /** An upstream onnx_export.py export, wrapped as it is. */
  onnx?: string;
  config: string;
  out: string;
  name?: string;
  /** A content encoder: an ONNX to copy (source->embed or audio->units) or a fairseq/soft-VC .pt to convert. */
  encoder?: string;
  /** so-vits-svc 4.1 cluster model kmeans_10000.pt, turned into cluster.onnx (for --cluster-ratio). */
  cluster?: string;
  /** Export upstream's speaker-mix graph (sid float32 [T, speakers]): the default with two or more speakers (kept for old scripts). */
  speakerMix?: boolean;
  /** Export the sid int64 [1] graph even when the config names two or more speakers (no speaker mix). */
  singleSpeakerGraph?: boolean;
  force?: boolean;
  onProgress?: (message: string) => void;
}

export interface ImportSovitsResult {
  out: string;
  manifest: SovitsManifest;
  export_seconds: number;
  /** What was read, ignored or absent (fork keys, a release checkpoint's missing enc_q, fp16). */
  notes: string[];
  /** max |ONNX - PyTorch| / peak of a converted .pt encoder. */
  encoder_parity?: number;
}

export async function importSovits(options: ImportSovitsOptions): Promise<ImportSovitsResult> {
  if (!options.checkpoint === !options.onnx) {
    throw new SvcError('INVALID_ARGUMENT', 'pass exactly one of --checkpoint G_<step>.pth and --onnx MODEL.onnx', { hint: '--onnx takes an export from so-vits-svc\'s onnx_export.py' });
  }
  for (const [flag, path] of [['--checkpoint', options.checkpoint], ['--onnx', options.onnx], ['--config', options.config], ['--encoder', options.encoder], ['--cluster', options.cluster]] as const) {
    if (path !== undefined && !existsSync(path)) {
      throw new SvcError('FILE_NOT_FOUND', `${flag} ${path} does not exist`, {
        hint: flag === '--config' ? 'pass the config.json trained with the checkpoint' : flag === '--checkpoint' ? 'pass the generator checkpoint G_<step>.pth' : flag === '--onnx' ? 'pass the .onnx from onnx_export.py' : flag === '--cluster' ? 'pass logs/44k/kmeans_10000.pt or logs/44k/feature_and_index.pkl' : 'pass the content encoder (.onnx, or a ContentVec/HuBERT/hubert-soft .pt)',
      });
    }
  }
  const args = ['--config', resolve(options.config), '--out', resolve(options.out)];
  if (options.checkpoint) args.push('--checkpoint', resolve(options.checkpoint));
  if (options.onnx) args.push('--onnx', resolve(options.onnx));
  args.push('--name', options.name ?? basename(resolve(options.out)));
  if (options.force) args.push('--force');
  if (options.speakerMix) args.push('--speaker-mix');
  if (options.singleSpeakerGraph) args.push('--single-speaker-graph');
  if (options.cluster) args.push('--cluster', resolve(options.cluster));
  const probeDir = mkdtempSync(join(tmpdir(), 'svc-import-probe-'));
  try {
    if (options.encoder) args.push('--encoder', resolve(options.encoder), '--encoder-probe-dir', probeDir);
    const result = await runPythonModule<ImportSovitsResult & { encoder_probe: EncoderProbe | null }>('import_sovits', args, { onProgress: options.onProgress });
    if (result.encoder_probe) {
      try {
        result.encoder_parity = (await checkEncoderProbe(join(result.out, 'encoder.onnx'), result.encoder_probe)).relative;
      } catch (error) {
        rmSync(result.out, { recursive: true, force: true });
        throw error;
      }
    }
    readBundle(result.out);
    const { encoder_probe: _probe, ...rest } = result;
    return rest;
  } finally {
    rmSync(probeDir, { recursive: true, force: true });
  }
}
