// `svc train-index RUN [--kind index|kmeans] [--bundle DIR]`: the command line of offline/train-index.ts
// (so-vits-svc 4.1's feature index or kmeans cluster model from a run's dataset).
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { trainIndex } from '../../offline/train-index.js';

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
