// A file a bundle's manifest names (generator, encoder, index), which must lie inside the bundle: a plain
// relative path, no `..` out of the folder, no absolute path, and (when it exists) no symbolic link that
// leads out. A manifest from elsewhere must not make the server open /etc/passwd. Shared by every voice
// family's bundle reader (sovits/bundle.ts, rvc/bundle.ts), with the manifest types they share.
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, resolve, sep } from 'node:path';

/** The absolute path of `file` inside `dir`, or the reason it is not a file of the bundle. */
export function bundleFilePath(dir: string, file: unknown, what: string): { path: string } | { problem: string } {
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) return { problem: `${what}.file must be a file name inside the bundle, found ${JSON.stringify(file)}` };
  const root = resolve(dir);
  const path = resolve(root, file);
  const inside = (p: string, r: string) => p.startsWith(r + sep);
  if (isAbsolute(file) || !inside(path, root)) return { problem: `${what}.file ${JSON.stringify(file)} points outside the bundle; files must lie inside its folder` };
  if (existsSync(path) && !inside(realpathSync(path), realpathSync(root))) return { problem: `${what}.file ${JSON.stringify(file)} links outside the bundle` };
  return { path };
}

/** A graph input or output as a manifest records it. */
export type TensorDtype = 'float32' | 'int64';

export interface BundleTensorSpec {
  name: string;
  dtype: TensorDtype;
  /** Numbers are fixed sizes; strings name a dynamic size ('Tc' content rows, 'T' frames). */
  shape: Array<number | string>;
}

export interface BundleEncoder {
  file: string;
  /** 'source-embed': source f32 [1,1,N] -> embed [1,T,D]; 'audio-units': audio f32 [1,N] -> units [1,T,D]. */
  convention: 'source-embed' | 'audio-units';
  input: string;
  output: string;
  /** Input audio rate (16000) and output frame hop in input samples (320 = 20 ms). */
  sample_rate: number;
  hop_samples: number;
  dim: number | null;
  kind: string;
  layer?: number | null;
  description?: string;
}
