// Model switches as the server sees them: one load at a time per name (concurrent requests share it),
// failures remembered until the bundle changes on disk (a client asking twenty times for a broken bundle
// costs one load, not twenty), and the time each resolution took for /metrics. The loading itself is the
// resolver's (src/voices/registry.ts ModelResolver): installed names only, each model loaded once.
// ModelBlocks: each voice's default block, measured at its first load.
import { chooseBlockMs, describeBlockChoice, type BlockChoice } from '../engine/blockChoice.js';
import type { ModelListEntry } from '../stream/protocol.js';
import { bundleFingerprint, listModels, type InstalledModel, type ModelResolver } from '../voices/registry.js';
import type { ServerOptions } from './options.js';
import { rvcSpeechEncoder } from '../voices/rvc/model.js';
import { RVC_CONTROLS } from '../voices/rvc/stage.js';
import { MODEL_CONTROLS, type StageFactory } from '../voices/stage.js';

export class ModelGate {
  private readonly inFlight = new Map<string, Promise<StageFactory>>();
  private readonly failures = new Map<string, { fingerprint: string; error: unknown }>();
  /** Resolutions that really ran (not answered from the failure cache or an in-flight load). */
  loads = 0;

  constructor(
    private readonly resolver: (name: string) => Promise<StageFactory>,
    /** State of what a name's load depends on; default the installed bundle's files. */
    private readonly fingerprint: (name: string) => string = (name) => bundleFingerprint(name.split(':')[0]),
  ) {}

  resolve(name: string): Promise<StageFactory> {
    const pending = this.inFlight.get(name);
    if (pending) return pending;
    const fingerprint = this.fingerprint(name);
    const failed = this.failures.get(name);
    if (failed && failed.fingerprint === fingerprint) return Promise.reject(failed.error);
    this.failures.delete(name);
    this.loads++;
    const load = Promise.resolve()
      .then(() => this.resolver(name))
      .then(
        (factory) => {
          this.inFlight.delete(name);
          return factory;
        },
        (error: unknown) => {
          this.inFlight.delete(name);
          this.failures.set(name, { fingerprint, error });
          throw error;
        },
      );
    this.inFlight.set(name, load);
    return load;
  }
}

/**
 * The block a voice converts in for clients whose hello names none: the operator's `--block-ms` when given
 * (every voice), 20 ms for the built-in voice, and for a model the smallest block it converts in time on
 * this machine, measured once when it loads by the function `svc live` uses (engine/blockChoice.ts). A
 * neural voice at 20 ms spends more per block on its fixed costs than the block lasts and most of its
 * blocks would not be converted. The measurement runs the model for a second or two on the server's
 * thread, once per loaded model.
 */
export class ModelBlocks {
  private readonly choices = new Map<string, { factory: StageFactory; choice: Promise<BlockChoice>; blockMs?: number }>();

  constructor(
    private readonly o: {
      /** The block of the built-in voice, and of every voice when `fixed`. */
      blockMs: number;
      fixed: boolean;
      /** Client rate the measurement runs at (the resampling counts). Default 48000. */
      sampleRate?: number;
      log?: (line: string) => void;
    },
  ) {}

  /** The default block of `name` (NAME or NAME:SPEAKER, as a client selects it), made by `factory`. */
  async blockMsFor(name: string, factory: StageFactory): Promise<number> {
    if (this.o.fixed || name === 'builtin') return this.o.blockMs;
    let entry = this.choices.get(name);
    if (!entry || entry.factory !== factory) {
      const choice = chooseBlockMs(factory, { sampleRate: this.o.sampleRate ?? 48000 });
      const created: { factory: StageFactory; choice: Promise<BlockChoice>; blockMs?: number } = { factory, choice };
      entry = created;
      this.choices.set(name, created);
      choice.then(
        (c) => {
          created.blockMs = c.blockMs;
          this.o.log?.(`model ${name}: ${describeBlockChoice(c)}`);
        },
        () => {
          if (this.choices.get(name) === created) this.choices.delete(name);
        },
      );
    }
    return (await entry.choice).blockMs;
  }

  /** The block measured so far for bundle `bundle` (any of its speakers), for GET /api/models; undefined before its first load. */
  knownBlockMs(bundle: string): number | undefined {
    if (this.o.fixed || bundle === 'builtin') return this.o.blockMs;
    for (const [name, entry] of this.choices) if ((name === bundle || name.startsWith(bundle + ':')) && entry.blockMs !== undefined) return entry.blockMs;
    return undefined;
  }
}

/**
 * How `svc serve` finds voices by name: the resolver (installed bundles and the `--model` folder, which
 * clients select by its folder name; `svc serve` passes ModelWorkers, which loads and runs each model on
 * its own thread), its listing for GET /api/models, and the on-disk state the failure cache keys on.
 */
export function serverModelOptions(models: Pick<ModelResolver, 'resolve' | 'folderModels' | 'fingerprint'>): Pick<ServerOptions, 'resolveModel' | 'listModels' | 'modelFingerprint'> {
  return {
    resolveModel: (name) => models.resolve(name),
    listModels: () => installedModelEntries(models.folderModels()),
    modelFingerprint: (name) => models.fingerprint(name),
  };
}

/** The installed bundles (`svc models`), after `folders` (the server's --model folder), as GET /api/models lists them; unusable ones carry their error. */
export function installedModelEntries(folders: InstalledModel[] = []): ModelListEntry[] {
  const installed = listModels().filter((m) => !folders.some((f) => f.name === m.name));
  return [...folders, ...installed].map((m): ModelListEntry => {
    if (m.rvc) {
      const rvc = m.rvc;
      const error = m.error ?? (m.encoder === 'missing' ? `no content encoder: the bundle has none and no shared encoders/${rvcSpeechEncoder(rvc)}.onnx is installed` : undefined);
      return {
        name: m.name, builtin: false, speakers: [], sampleRate: rvc.sampling_rate, speechEncoder: rvcSpeechEncoder(rvc), controls: [...RVC_CONTROLS],
        type: 'rvc', f0: rvc.f0, index: rvc.index !== null, ...(error === undefined ? {} : { error }),
      };
    }
    const manifest = m.manifest;
    const speakers = manifest ? Object.entries(manifest.speakers).sort((a, b) => a[1] - b[1]).map(([name]) => name) : [];
    const error = m.error ?? (m.encoder === 'missing' ? `no content encoder: the bundle has none and no shared encoders/${manifest?.speech_encoder}.onnx is installed` : undefined);
    return {
      name: m.name,
      builtin: false,
      speakers,
      sampleRate: manifest?.sampling_rate ?? null,
      speechEncoder: manifest?.speech_encoder ?? null,
      controls: [...MODEL_CONTROLS],
      ...(manifest ? { type: 'sovits' as const, index: manifest.cluster?.kind === 'index', cluster: manifest.cluster?.kind === 'kmeans', speakerMix: !!manifest.speaker_mix } : {}),
      ...(manifest?.source?.random_weights === true ? { randomWeights: true } : {}),
      ...(error === undefined ? {} : { error }),
    };
  });
}
