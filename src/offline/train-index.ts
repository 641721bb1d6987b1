// so-vits-svc 4.1's timbre-leakage tools built from a training run's dataset (python/svc_py/feature_index.py):
// `feature_and_index.pkl` (faiss IVF-Flat per speaker, upstream's train_index.py) or `kmeans_10000.pt` (sklearn
// k-means per speaker, cluster/train_cluster.py), in upstream's own file formats in the run folder; `bundle`
// also installs the file in an exported bundle.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { SvcError } from '../errors.js';
import { readBundle } from '../voices/sovits/bundle.js';
import { runPythonModule } from '../python.js';

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
