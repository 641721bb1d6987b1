// `svc import-sovits --checkpoint G.pth | --onnx MODEL.onnx --config config.json --out models/NAME`: the
// command line of voices/sovits/import.ts (an upstream so-vits-svc generator or onnx_export.py export as an
// svc bundle), printing what the bundle can do.
import type { Command } from 'commander';
import { basename } from 'node:path';
import { importSovits } from '../../voices/sovits/import.js';

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
