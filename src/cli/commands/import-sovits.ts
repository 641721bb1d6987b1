// `svc import-sovits --checkpoint G.pth | --onnx MODEL.onnx --config config.json --out models/NAME`: turns an
// upstream so-vits-svc 4.0/4.1 (or so-vits-svc-fork hifi-gan) generator checkpoint, release checkpoints
// included, or an upstream onnx_export.py export (single-speaker or speaker-mix graph) into an svc bundle
// (python/svc_py/import_sovits.py): checks keys and shapes (or the ONNX signature) against the config,
// naming the likely cause of a mismatch; checks or converts --encoder first (a .pt encoder becomes
// encoder.onnx, checked against PyTorch); writes manifest.json, config.json, speakers.json.
import type { Command } from 'commander';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { readBundle, type SovitsManifest } from '../../voices/sovits/bundle.js';
import { runPythonModule } from '../../python.js';
import { checkEncoderProbe, type EncoderProbe } from '../../voices/sovits/encoder-import.js';

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

export function register(program: Command): void {
  program
    .command('import-sovits')
    .description('Import a so-vits-svc 4.0/4.1 (or so-vits-svc-fork) model (G_*.pth or an onnx_export.py .onnx, + config.json) as an svc model bundle')
    .option('--checkpoint <file>', 'generator checkpoint G_<step>.pth from so-vits-svc (release/half checkpoints too; not D_*.pth)')
    .option('--onnx <file>', 'instead of --checkpoint: an upstream onnx_export.py export (single-speaker or speaker-mix graph)')
    .requiredOption('--config <file>', 'the so-vits-svc config.json the checkpoint was trained with')
    .requiredOption('--out <dir>', 'bundle folder to create, e.g. models/NAME (must be empty unless --force)')
    .option('--name <name>', 'model name stored in the manifest (default: the --out folder name)')
    .option('--encoder <file>', 'content encoder to include: an .onnx (source [1,1,N] -> embed, or audio [1,N] -> units), or a ContentVec/HuBERT/hubert-soft .pt to convert (checked first)')
    .option('--cluster <file>', 'so-vits-svc 4.1 cluster model kmeans_10000.pt (stored as cluster.onnx) or feature-retrieval index feature_and_index.pkl (read as data, one faiss index per speaker); applied with convert/serve --cluster-ratio')
    .option('--speaker-mix', 'with --checkpoint: the speaker-mix graph (sid float32 [T, speakers], as upstream\'s onnx_export.py); the default when the config names two or more speakers', false)
    .option('--single-speaker-graph', 'with --checkpoint: export the one-speaker graph (sid int64 [1]) even with two or more speakers; speakers then cannot be mixed', false)
    .option('--force', 'write into a non-empty --out folder, replacing bundle files', false)
    .action(async (opts: { checkpoint?: string; onnx?: string; config: string; out: string; name?: string; encoder?: string; cluster?: string; speakerMix: boolean; singleSpeakerGraph: boolean; force: boolean }) => {
      const result = await importSovits({ ...opts, onProgress: (message) => console.error(`import-sovits: ${message}`) });
      const m = result.manifest;
      const speakers = Object.keys(m.speakers);
      console.log(`imported ${m.name} -> ${result.out}`);
      console.log(`  so-vits-svc ${m.sovits_version}, ${m.sampling_rate} Hz, hop ${m.hop_length}, ${m.ssl_dim}-d ${m.speech_encoder} content, vol_embedding ${m.vol_embedding}`);
      console.log(`  speakers (${speakers.length}): ${speakers.join(', ') || '-'}${m.speaker_mix ? ' (speaker-mix graph: --speaker a:0.7,b:0.3)' : ''}; generator.onnx ${opts.onnx ? 'copied from the upstream export' : `exported in ${result.export_seconds.toFixed(1)} s`}`);
      if (m.cluster?.kind === 'kmeans') console.log(`  cluster: ${m.cluster.clusters} kmeans centres for ${m.cluster.speakers.join(', ')} (apply with --cluster-ratio)`);
      if (m.cluster?.kind === 'index') console.log(`  feature index: ${m.cluster.speakers.map((name, i) => `${name} ${(m.cluster as { vectors: number[] }).vectors[i]} vectors`).join(', ')} (apply with --cluster-ratio; upstream's --feature_retrieval)`);
      for (const note of result.notes) console.log(`  note: ${note}`);
      if (result.encoder_parity !== undefined) console.log(`  encoder.onnx converted from ${basename(opts.encoder!)}: ONNX vs PyTorch max |difference| ${result.encoder_parity.toExponential(2)} of peak`);
      if (!m.encoder) console.log(`  no content encoder in the bundle: supply a ${m.speech_encoder} encoder .onnx (--encoder) to convert audio`);
    });
}
