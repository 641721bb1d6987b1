// `svc train-index RUN [--kind index|kmeans] [--bundle DIR]`: so-vits-svc 4.1's timbre-leakage tools built from
// a training run's dataset (python/svc_py/feature_index.py): `feature_and_index.pkl` (faiss IVF-Flat per speaker,
// upstream's train_index.py) or `kmeans_10000.pt` (sklearn k-means per speaker, cluster/train_cluster.py), in
// upstream's own file formats in the run folder; --bundle also installs the file in an exported bundle.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SvcError } from '../../errors.js';
import { readBundle } from '../../voices/sovits/bundle.js';
import { runPythonModule } from '../../python.js';

export interface TrainIndexResult {
  run: string;
  kind: 'index' | 'kmeans';
  file: string;
  /** Training rows per speaker. */
  speakers: Record<string, number>;
  /** The bundle's new manifest.cluster, with --bundle. */
  cluster?: Record<string, unknown>;
}

export async function trainIndex(run: string, options: { kind?: 'index' | 'kmeans'; bundle?: string; onProgress?: (message: string) => void } = {}): Promise<TrainIndexResult> {
  const kind = options.kind ?? 'index';
  if (kind !== 'index' && kind !== 'kmeans') throw new SvcError('INVALID_ARGUMENT', `--kind must be index or kmeans, got ${JSON.stringify(kind)}`);
  if (!existsSync(run)) throw new SvcError('FILE_NOT_FOUND', `training run ${run} does not exist`, { hint: 'pass the run folder `svc train` wrote' });
  if (options.bundle) readBundle(options.bundle); // a broken bundle fails before the training work
  const args = ['train', '--run', resolve(run), '--kind', kind, ...(options.bundle ? ['--bundle', resolve(options.bundle)] : [])];
  const result = await runPythonModule<TrainIndexResult>('feature_index', args, { onProgress: options.onProgress });
  // The bundle's new manifest is validated as every bundle writer's is.
  if (options.bundle) readBundle(options.bundle);
  return result;
}

export function register(program: Command): void {
  program
    .command('train-index')
    .description("Build so-vits-svc 4.1's feature-retrieval index (feature_and_index.pkl) or kmeans cluster model (kmeans_10000.pt) from a training run's dataset; --bundle installs it in a model bundle for --cluster-ratio")
    .argument('<run>', 'the run folder `svc train` wrote (its run.json names the dataset)')
    .option('--kind <kind>', "index: faiss IVF-Flat per speaker, upstream's train_index.py (so-vits-svc's --feature_retrieval); kmeans: k-means centres per speaker (up to 10000), cluster/train_cluster.py", 'index')
    .option('--bundle <dir>', 'also install the result in this So-VITS bundle (e.g. the folder `svc export RUN` wrote), replacing its cluster model or index')
    .addHelpText('after', '\nApply either with `svc convert --model M --cluster-ratio R` or `svc serve --cluster-ratio R` (so-vits-svc\'s cluster_infer_ratio):\n  svc train-index runs/alice --bundle models/alice\n  svc convert in.wav out.wav --model alice --cluster-ratio 0.5\n')
    .action(async (run: string, opts: { kind: string; bundle?: string }) => {
      const result = await trainIndex(run, { kind: opts.kind as 'index' | 'kmeans', bundle: opts.bundle, onProgress: (message) => console.error(`train-index: ${message}`) });
      const rows = Object.entries(result.speakers).map(([name, n]) => `${name} ${n} rows`).join(', ');
      console.log(`${result.kind === 'index' ? 'feature index' : 'kmeans cluster model'} from ${rows} -> ${result.file}`);
      if (opts.bundle) console.log(`  installed in ${resolve(opts.bundle)} (apply with --cluster-ratio R)`);
      else console.log(`  install it with \`svc train-index ${run} --kind ${result.kind} --bundle DIR\` or \`svc import-sovits ... --cluster ${result.file}\``);
    });
}
