// Where installed model bundles live and how a name becomes a loaded model. Two roots are searched, in
// order: the repository's models/ folder (shippedModelsDir) and the user's folder — $SVC_MODELS_DIR, else
// $XDG_DATA_HOME/svc/models, else ~/.local/share/svc/models. A bundle is any sub-folder with a
// manifest.json (src/voices/sovits/bundle.ts); shared content encoders, for bundles that carry none, are
// <root>/encoders/<speech_encoder>.onnx (e.g. encoders/vec768l12.onnx). `svc models` lists them.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { SvcError, errorMessage } from '../errors.js';
import { shippedModelsDir } from '../paths.js';
import { readBundle, type SovitsManifest } from './sovits/bundle.js';
import { SovitsModel, type ModelPrecision, type SovitsLoadOptions } from './sovits/model.js';
import { createNeuralStageFactory, type NeuralStageOptions } from './sovits/stage.js';
import { isRvcBundleDir, readRvcBundle, type RvcManifest } from './rvc/bundle.js';
import { RvcModel, rvcSpeechEncoder, type RvcLoadOptions } from './rvc/model.js';
import { createRvcStageFactory, type RvcStageOptions } from './rvc/stage.js';
import type { OnnxProvider } from '../onnx/session.js';
import type { StageFactory } from './stage.js';

// The two roots are defined in paths.ts (the f0 models below the voices look there too).
export { userModelsDir, modelRoots } from '../paths.js';
import { modelRoots } from '../paths.js';

export interface InstalledModel {
  /** Folder name: what `--model NAME` and the protocol's {"type":"model","name"} take. */
  name: string;
  dir: string;
  root: string;
  manifest?: SovitsManifest;
  /** Set instead of `manifest` for RVC bundles (src/voices/rvc/bundle.ts). */
  rvc?: RvcManifest;
  /** Why the bundle cannot be used (manifest problems), when it cannot. */
  error?: string;
  /** Where the content encoder comes from: 'bundle', a shared encoder path, or 'missing'. */
  encoder?: string;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Shared encoder for a speech_encoder name (vec768l12, hubertsoft, ...), if one is installed. */
export function findSharedEncoder(speechEncoder: string, roots = modelRoots()): string | undefined {
  if (!/^[\w.-]+$/.test(speechEncoder)) return undefined;
  for (const root of roots) {
    const path = join(root, 'encoders', `${speechEncoder}.onnx`);
    if (existsSync(path)) return path;
  }
  return undefined;
}

/** Every bundle folder under the roots (folders without manifest.json are not bundles and are skipped). */
export function listModels(roots = modelRoots()): InstalledModel[] {
  const out: InstalledModel[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    if (!isDir(root)) continue;
    for (const entry of readdirSync(root).sort()) {
      const dir = join(root, entry);
      if (entry === 'encoders' || entry.startsWith('.') || !isDir(dir) || !existsSync(join(dir, 'manifest.json'))) continue;
      if (seen.has(entry)) continue; // the earlier root wins, as in resolveModelDir
      seen.add(entry);
      out.push(describeBundle(entry, dir, root, roots));
    }
  }
  return out;
}

/** One bundle folder as `svc models` and GET /api/models see it (an unreadable manifest gives `error`). */
export function describeBundle(name: string, dir: string, root: string, roots = modelRoots()): InstalledModel {
  try {
    if (isRvcBundleDir(dir)) {
      const rvc = readRvcBundle(dir);
      const shared = rvc.encoderPath ? undefined : findSharedEncoder(rvcSpeechEncoder(rvc.manifest), roots);
      return { name, dir, root, rvc: rvc.manifest, encoder: rvc.encoderPath ? 'bundle' : (shared ?? 'missing') };
    }
    const bundle = readBundle(dir);
    const shared = bundle.encoderPath ? undefined : findSharedEncoder(bundle.manifest.speech_encoder, roots);
    return { name, dir, root, manifest: bundle.manifest, encoder: bundle.encoderPath ? 'bundle' : (shared ?? 'missing') };
  } catch (error) {
    return { name, dir, root, error: errorMessage(error) };
  }
}

/** The installed bundle folder of a bare name (roots only, first match), if there is one. */
export function findInstalledModelDir(name: string, roots = modelRoots()): string | undefined {
  if (!/^\w[\w.-]*$/.test(name) || name.includes('..')) return undefined;
  for (const root of roots) {
    const dir = join(root, name);
    if (isDir(dir) && existsSync(join(dir, 'manifest.json'))) return dir;
  }
  return undefined;
}

/**
 * A model folder from a name or a path to a bundle folder. A bare name is looked up in the roots first;
 * only a command-line caller (not `installedOnly`) may then mean a folder of that name in the working
 * folder. With `installedOnly` (names from clients) paths are refused and only the roots are searched.
 * Unknown names give MODEL_NOT_FOUND listing what is installed.
 */
export function resolveModelDir(nameOrPath: string, roots = modelRoots(), options: { installedOnly?: boolean } = {}): string {
  if (!nameOrPath || nameOrPath.includes('\0')) throw new SvcError('INVALID_ARGUMENT', 'model name is empty');
  const looksLikePath = nameOrPath.includes('/') || nameOrPath.includes('\\') || nameOrPath.startsWith('.');
  if (looksLikePath && options.installedOnly) {
    throw new SvcError('MODEL_NOT_FOUND', `model names are installed folder names, not paths: ${JSON.stringify(nameOrPath)}`, { hint: 'see `svc models` on the server' });
  }
  if (!looksLikePath) {
    const installed = findInstalledModelDir(nameOrPath, roots);
    if (installed) return installed;
  }
  if (looksLikePath || (!options.installedOnly && isDir(nameOrPath))) {
    const dir = resolve(nameOrPath);
    if (!isDir(dir)) throw new SvcError('MODEL_NOT_FOUND', `model folder not found: ${nameOrPath}`, { hint: 'pass a bundle folder (made by `svc import-sovits` or `svc make-reference`) or an installed model name (`svc models`)' });
    return dir;
  }
  const installed = listModels(roots).filter((m) => !m.error).map((m) => m.name);
  // Names from clients (installedOnly): no server folders and no advice to pass a path, which they may not.
  throw new SvcError('MODEL_NOT_FOUND', `no model named '${nameOrPath}'; installed: ${installed.length ? installed.join(', ') : 'none'}`, {
    hint: options.installedOnly ? 'see `svc models` on the server' : `put bundles in ${roots.join(' or ')} (see \`svc models\`), or pass a bundle folder path`,
  });
}

/** Resolves and loads a model (sessions, checks, warm-up), with a shared encoder when the bundle has none. */
export async function loadModel(nameOrPath: string, options: SovitsLoadOptions & { installedOnly?: boolean } = {}): Promise<SovitsModel> {
  const { installedOnly, ...loadOptions } = options;
  const dir = resolveModelDir(nameOrPath, modelRoots(), { installedOnly });
  const bundle = readBundle(dir);
  const sharedEncoderPath = loadOptions.sharedEncoderPath ?? (bundle.encoderPath ? undefined : findSharedEncoder(bundle.manifest.speech_encoder));
  return SovitsModel.load(dir, { ...loadOptions, sharedEncoderPath });
}

/** Resolves and loads an RVC bundle, with a shared vec256l9/vec768l12 encoder when it has none. */
export async function loadRvcModel(nameOrPath: string, options: RvcLoadOptions & { installedOnly?: boolean } = {}): Promise<RvcModel> {
  const { installedOnly, ...loadOptions } = options;
  const dir = resolveModelDir(nameOrPath, modelRoots(), { installedOnly });
  const bundle = readRvcBundle(dir);
  const sharedEncoderPath = loadOptions.sharedEncoderPath ?? (bundle.encoderPath ? undefined : findSharedEncoder(rvcSpeechEncoder(bundle.manifest)));
  return RvcModel.load(dir, { ...loadOptions, sharedEncoderPath });
}

/** Display name of a model argument (folder name for paths). */
export function modelDisplayName(nameOrPath: string): string {
  return basename(resolve(nameOrPath));
}

/**
 * What an installed bundle looks like on disk now (its files' names, sizes and modification times, and
 * the shared encoders'; `bundleDir` for a folder given on the command line), or, for a name that is not installed, the roots' modification times: equal
 * fingerprints mean nothing a load depends on has changed, so a cached load failure still holds.
 */
export function bundleFingerprint(name: string, roots = modelRoots(), bundleDir?: string): string {
  const stamp = (path: string) => {
    try {
      const st = statSync(path);
      return `${st.size}:${st.mtimeMs}`;
    } catch {
      return '-';
    }
  };
  const listing = (dir: string) => {
    try {
      return readdirSync(dir)
        .sort()
        .map((entry) => `${entry}=${stamp(join(dir, entry))}`)
        .join(',');
    } catch {
      return '-';
    }
  };
  const dir = bundleDir ?? findInstalledModelDir(name, roots);
  const encoders = roots.map((root) => listing(join(root, 'encoders'))).join('|');
  if (!dir) return `none|${roots.map(stamp).join('|')}|${encoders}`;
  return `${dir}|${listing(dir)}|${encoders}`;
}

/** Where a protocol model name points (ModelResolver.locate). */
export interface LocatedModel {
  modelName: string;
  speaker: string | undefined;
  /** The bundle folder. */
  dir: string;
}

export interface ModelResolverOptions extends Omit<NeuralStageOptions, 'speaker'> {
  provider?: OnnxProvider;
  intraOpThreads?: number;
  /** RVC voices' defaults (src/voices/rvc/stage.ts); clients change index rate and protect with `set`. */
  rvc?: Pick<RvcStageOptions, 'indexRate' | 'protect' | 'rmsMixRate'>;
  precision?: ModelPrecision;
  /** The built-in DSP voice's factory, for the name "builtin". */
  builtin: () => Promise<StageFactory>;
}

/**
 * Server-side model selection by name: "builtin" (the DSP voice), an installed model or the bundle folder
 * the server was started with (`serve --model FOLDER`, known by its folder name), optionally with a
 * speaker ("NAME:SPEAKER"). Clients give names, never paths. Each model is loaded once (sessions, checks,
 * warm-up) and shared by every session using it; `close()` releases them all. A failed load is not
 * cached, so a fixed bundle can be retried.
 */
export class ModelResolver {
  private readonly loaded = new Map<string, Promise<SovitsModel>>();
  private readonly factories = new Map<string, Promise<StageFactory>>();
  private readonly rvcLoaded = new Map<string, Promise<RvcModel>>();
  /** Bundle folders given on the command line that are not installed, by folder name (what clients ask for). */
  private readonly folders = new Map<string, string>();

  constructor(private readonly options: ModelResolverOptions) {}

  /** Stage factory for a protocol model name; rejects with MODEL_NOT_FOUND / MODEL_INVALID / INVALID_ARGUMENT. */
  resolve(name: string): Promise<StageFactory> {
    if (name === 'builtin') return this.options.builtin();
    let located: LocatedModel;
    try {
      located = this.locate(name);
    } catch (error) {
      return Promise.reject(error);
    }
    const { dir, speaker } = located;
    let factory = this.factories.get(name);
    if (!factory) {
      // Loaded by folder, so the server's --model and the same bundle asked for by name share one load.
      factory = isRvcBundleDir(dir)
        ? this.rvcModel(dir).then((model) => createRvcStageFactory(model, { ...this.options.rvc, speaker, f0Method: this.options.f0Method }))
        : this.model(dir).then((model) => createNeuralStageFactory(model, this.stageOptions(model, speaker)));
      this.factories.set(name, factory);
      factory.catch(() => this.factories.delete(name));
    }
    return factory;
  }

  /**
   * The bundle folder a protocol model name ("NAME" or "NAME:SPEAKER", not "builtin") stands for, without
   * loading anything: a command-line folder or an installed bundle. Throws MODEL_NOT_FOUND for anything
   * else (paths included).
   */
  locate(name: string): LocatedModel {
    const colon = name.indexOf(':');
    const modelName = colon < 0 ? name : name.slice(0, colon);
    const speaker = colon < 0 ? undefined : name.slice(colon + 1);
    const folder = this.folders.get(modelName);
    if (folder === undefined && (!/^[\w][\w.-]*$/.test(modelName) || modelName.includes('..'))) {
      throw new SvcError('MODEL_NOT_FOUND', `model names are installed folder names (letters, digits, '.', '-', '_'), not paths; got ${JSON.stringify(name)}`, { hint: 'the server lists them on its models endpoint (api/models) and with `svc models`' });
    }
    const dir = folder ?? findInstalledModelDir(modelName);
    if (dir === undefined) {
      throw new SvcError('MODEL_NOT_FOUND', `no model named '${modelName}'; installed: ${this.names().join(', ') || 'none'}; also builtin`, { hint: 'the server lists them on its models endpoint (api/models) and with `svc models`' });
    }
    return { modelName, speaker, dir };
  }

  /** Model names a client may ask for besides builtin: the command-line folders, then the installed bundles that load. */
  names(): string[] {
    const names = [...this.folders.keys(), ...listModels().filter((m) => !m.error).map((m) => m.name)];
    return names.filter((n, i) => names.indexOf(n) === i);
  }

  /** The command-line bundle folders as `svc models` would describe them (for GET /api/models). */
  folderModels(): InstalledModel[] {
    return [...this.folders].map(([name, dir]) => describeBundle(name, dir, dirname(dir)));
  }

  /** What a name's load depends on, on disk (see bundleFingerprint); the server's failure cache keys on it. */
  fingerprint(name: string): string {
    const modelName = name.split(':')[0]!;
    return bundleFingerprint(modelName, modelRoots(), this.folders.get(modelName));
  }

  /** Loads (or reuses) a model by registry name or, for the server's own --model, a path (not `installedOnly`). */
  model(nameOrPath: string, options: { installedOnly?: boolean } = {}): Promise<SovitsModel> {
    let model = this.loaded.get(nameOrPath);
    if (!model) {
      model = loadModel(nameOrPath, { provider: this.options.provider, intraOpThreads: this.options.intraOpThreads, precision: this.options.precision, log: this.options.log, installedOnly: options.installedOnly });
      this.loaded.set(nameOrPath, model);
      model.catch(() => this.loaded.delete(nameOrPath));
    }
    return model;
  }

  /** Loads (or reuses) an RVC model by registry name or path. */
  rvcModel(nameOrPath: string, installedOnly = false): Promise<RvcModel> {
    let model = this.rvcLoaded.get(nameOrPath);
    if (!model) {
      model = loadRvcModel(nameOrPath, { provider: this.options.provider, intraOpThreads: this.options.intraOpThreads, installedOnly });
      this.rvcLoaded.set(nameOrPath, model);
      model.catch(() => this.rvcLoaded.delete(nameOrPath));
    }
    return model;
  }

  /**
   * Stage factory for the server's default voice (a name or a bundle path given on its command line). A
   * folder that is not an installed bundle becomes selectable by its folder name, as `svc models` would
   * call it; it shadows an installed bundle of the same name.
   */
  async defaultFactory(nameOrPath: string, speaker?: string): Promise<StageFactory> {
    const name = this.addFolder(nameOrPath);
    return this.resolve(speaker === undefined ? name : `${name}:${speaker}`);
  }

  /** Makes a bundle folder given on the command line selectable by its folder name (see defaultFactory); returns that name. */
  addFolder(nameOrPath: string): string {
    const dir = resolveModelDir(nameOrPath);
    const name = basename(dir);
    if (findInstalledModelDir(name) !== dir) {
      if (findInstalledModelDir(name) !== undefined) this.options.log?.(`--model ${name}: the folder given replaces the installed model of that name`);
      this.folders.set(name, dir);
      for (const key of [...this.factories.keys()]) if (key.split(':')[0] === name) this.factories.delete(key);
    }
    return name;
  }

  /** The server's --cluster-ratio applies to the models that have a cluster model; others convert without. */
  private stageOptions(model: SovitsModel, speaker: string | undefined): NeuralStageOptions {
    return { ...this.options, speaker, clusterRatio: model.manifest.cluster ? this.options.clusterRatio : undefined };
  }

  async close(): Promise<void> {
    const models: Array<Promise<{ dispose(): Promise<void> }>> = [...this.loaded.values(), ...this.rvcLoaded.values()];
    this.loaded.clear();
    this.rvcLoaded.clear();
    this.factories.clear();
    for (const m of models) await m.then((x) => x.dispose(), () => {});
  }
}
