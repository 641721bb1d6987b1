// Model voices on worker threads, for `svc serve`: one thread per model bundle, which loads the bundle
// and runs the stage of every session that uses it (model-thread.ts). The server's thread keeps only the
// sockets, resampling, SOLA and encoding, so a model load (synchronous ONNX session creation, checks and
// warm-up: 0.3–3 s) or a slow generator run never stalls other sessions.
//
// Why one thread per model and not per session: a session's thread would load its own copy of the
// model (the load again per session, and its weights' memory again), while the compute a session needs
// is the same either way; ONNX's own intra-op threads already spread one run over the cores. Measured
// (tiny reference bundle, 2 cores at load average 14–16, 40 blocks of 100 ms per session, concurrently):
// 2 sessions — load 2.6 s vs 6.2 s, blocks 3.8 s vs 5.8 s wall; 4 sessions — load 2.7 s vs 11.6 s,
// +33 MB vs +150 MB resident, blocks 7.0 s vs 9.4 s. Sessions of one model take turns on its thread
// (each session keeps one block in flight, the pipeline's rule).
//
// Names resolve on the main thread (ModelResolver.locate: installed bundles and --model folders only);
// a bundle loads once however many clients ask at once, a failed load is reported with its code and
// hint, and a thread that loaded nothing is ended. Output is the in-process stage's, bit for bit: the
// same code runs on the same windows, one at a time per session.
import type { Worker } from 'node:worker_threads';
import { SvcError, isSvcErrorCode } from '../../errors.js';
import { ModelResolver, type InstalledModel, type ModelResolverOptions } from '../registry.js';
import { readBundle, resolveSpeakerChoice, type SovitsManifest } from '../sovits/bundle.js';
import { stageShapeForBlock, type BlockTime, type ConverterStage, type StageFactory, type VoiceParams } from '../stage.js';
import type { ModelReply, ModelRequest, StageShape, ThreadResolverOptions, WireError } from './model-thread.js';
import { startModuleWorker } from './start.js';

function fromWireError(error: WireError): Error {
  if (isSvcErrorCode(error.code)) return new SvcError(error.code, error.message, { hint: error.hint });
  return new SvcError('INTERNAL', error.message);
}

interface Waiter {
  resolve: (value: never) => void;
  reject: (error: Error) => void;
}

/** One model bundle's thread. */
class ModelThread {
  readonly worker: Worker;
  /** Loaded factories and loads in flight, by protocol name ("NAME" or "NAME:SPEAKER"). */
  readonly factories = new Map<string, Promise<StageFactory>>();
  /** Answers awaited from the thread: loads and blocks, by request id. */
  private readonly waiting = new Map<number, Waiter>();
  failed: Error | null = null;
  stages = 0;
  private ended = false;

  constructor(
    readonly dir: string,
    options: ThreadResolverOptions,
    private readonly nextId: () => number,
    log: ((line: string) => void) | undefined,
    private readonly onEnd: (thread: ModelThread) => void,
  ) {
    this.worker = startModuleWorker(import.meta.url, 'model-thread', options);
    this.worker.unref();
    this.worker.on('message', (reply: ModelReply) => {
      if (reply.op === 'log') return log?.(reply.line);
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (reply.op === 'error') waiter.reject(fromWireError(reply.error));
      else if (reply.op === 'loaded') (waiter.resolve as (shape: StageShape) => void)(reply.shape);
      else (waiter.resolve as (out: Float32Array) => void)(new Float32Array(reply.buffer));
    });
    const fail = (error: Error) => {
      this.failed ??= error;
      this.end();
    };
    this.worker.on('error', (error) => fail(new SvcError('INTERNAL', `the thread of model ${this.name} failed: ${error.message}`)));
    this.worker.on('exit', (code) => fail(new SvcError('INTERNAL', `the thread of model ${this.name} exited (${code})`)));
  }

  get name(): string {
    return this.dir.split(/[/\\]/).pop() ?? this.dir;
  }

  post(request: ModelRequest, transfer: ArrayBuffer[] = []): void {
    if (!this.ended) this.worker.postMessage(request, transfer);
  }

  /** Sends `request` and resolves with the thread's answer to its id. */
  ask<T>(request: ModelRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(request.id, { resolve: resolve as (value: never) => void, reject });
      this.post(request, transfer);
    });
  }

  /** Answers a request that will not be answered any more (its stage was disposed): the caller never waits forever. */
  abandon(id: number, error: Error): void {
    const waiter = this.waiting.get(id);
    this.waiting.delete(id);
    waiter?.reject(error);
  }

  /** Loads `name` (the bundle, once) and resolves with a factory of stages that live on this thread. */
  load(name: string, speaker: string | undefined): Promise<StageFactory> {
    const id = this.nextId();
    return this.ask<StageShape>({ op: 'load', id, dir: this.dir, speaker }).then((shape) => {
      const factory: StageFactory = ({ clientSampleRate, voice }) => this.createStage(id, shape, clientSampleRate, voice);
      return factory;
    });
  }

  private createStage(load: number, shape: StageShape, clientSampleRate: number, voice: VoiceParams): ConverterStage {
    if (this.failed) throw this.failed;
    const id = this.nextId();
    this.post({ op: 'create', id, load, clientSampleRate, voice: { ...voice } });
    this.stages++;
    let disposed = false;
    const { wholeFrame, ...rest } = shape;
    const stage: ConverterStage = {
      ...rest,
      // The thread's stage takes the block too (its look-ahead decides how far it generates).
      ...(wholeFrame ? {
        wholeFrame,
        setBlockSamples: (blockSamples: number) => {
          const { lookaheadSamples, contextSamples } = stageShapeForBlock(rest, wholeFrame, blockSamples);
          Object.assign(stage, { lookaheadSamples, contextSamples });
          this.post({ op: 'block', id, blockSamples });
        },
      } : {}),
      process: (window: Float32Array, time: BlockTime) => {
        if (disposed) return Promise.reject(new SvcError('INTERNAL', `the stage of model ${shape.name} was disposed`));
        // A copy crosses to the thread: the pipeline keeps `window` (its dry path, SOLA).
        const copy = window.slice();
        return this.ask<Float32Array>({ op: 'process', id, buffer: copy.buffer as ArrayBuffer, time: { startSample: time.startSample, discontinuity: time.discontinuity } }, [copy.buffer as ArrayBuffer]);
      },
      setVoice: (v: Partial<VoiceParams>) => this.post({ op: 'voice', id, voice: { ...v } }),
      // A speaker-mix graph changes speaker in place on its thread; the name is checked here (synchronously,
      // so a bad one is the client's error and the voice stays).
      ...(shape.speakerRamp ? {
        setSpeaker: (speaker: string | undefined) => {
          resolveSpeakerChoice(this.manifest(), speaker);
          this.post({ op: 'speaker', id, speaker });
          return true;
        },
      } : {}),
      reset: () => this.post({ op: 'reset', id }),
      dispose: () => {
        if (disposed) return;
        disposed = true;
        this.stages--;
        this.abandon(id, new SvcError('INTERNAL', `the stage of model ${shape.name} was disposed`));
        this.post({ op: 'dispose', id });
      },
    };
    return stage;
  }

  private manifestRead: SovitsManifest | null = null;

  /** The bundle's manifest (speaker names for a speaker change), read once. */
  private manifest(): SovitsManifest {
    this.manifestRead ??= readBundle(this.dir).manifest;
    return this.manifestRead;
  }

  /** Ends the thread (its model is released with it). */
  end(): void {
    this.failed ??= new SvcError('INTERNAL', `the thread of model ${this.name} was ended`);
    for (const waiter of this.waiting.values()) waiter.reject(this.failed);
    this.waiting.clear();
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
    void this.worker.terminate();
  }
}

/**
 * ModelResolver's interface (resolve, defaultFactory, names, folderModels, fingerprint, close) with every
 * model loaded and run on its own worker thread. "builtin" stays the caller's (options.builtin).
 */
export class ModelWorkers {
  /** Name lookups and the --model folders (nothing is loaded on this thread). */
  readonly local: ModelResolver;
  private readonly threads = new Map<string, ModelThread>();
  private readonly threadOptions: ThreadResolverOptions;
  private id = 1;
  private closed = false;

  constructor(private readonly options: ModelResolverOptions) {
    this.local = new ModelResolver(options);
    const { builtin: _builtin, log: _log, ...plain } = options;
    this.threadOptions = plain;
  }

  /** Stage factory for a protocol model name, its stages on the model's thread; rejects as ModelResolver.resolve does. */
  resolve(name: string): Promise<StageFactory> {
    if (name === 'builtin') return this.options.builtin();
    if (this.closed) return Promise.reject(new SvcError('INTERNAL', 'the model threads are closed'));
    let located;
    try {
      located = this.local.locate(name);
    } catch (error) {
      return Promise.reject(error);
    }
    let thread = this.threads.get(located.dir);
    if (!thread) {
      thread = new ModelThread(located.dir, this.threadOptions, () => this.id++, this.options.log, (ended) => {
        if (this.threads.get(ended.dir) === ended) this.threads.delete(ended.dir);
      });
      this.threads.set(located.dir, thread);
    }
    const owner = thread;
    let factory = owner.factories.get(name);
    if (!factory) {
      factory = owner.load(name, located.speaker);
      owner.factories.set(name, factory);
      factory.catch(() => {
        owner.factories.delete(name);
        // A thread that holds no loaded or loading model and no stage has nothing left to do.
        if (owner.factories.size === 0 && owner.stages === 0) owner.end();
      });
    }
    return factory;
  }

  /** As ModelResolver.defaultFactory: a bundle folder becomes selectable by its folder name. */
  defaultFactory(nameOrPath: string, speaker?: string): Promise<StageFactory> {
    const name = this.local.addFolder(nameOrPath);
    return this.resolve(speaker === undefined ? name : `${name}:${speaker}`);
  }

  names(): string[] {
    return this.local.names();
  }

  folderModels(): InstalledModel[] {
    return this.local.folderModels();
  }

  fingerprint(name: string): string {
    return this.local.fingerprint(name);
  }

  /** Model threads running now (for logs and tests). */
  threadCount(): number {
    return this.threads.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    const threads = [...this.threads.values()];
    this.threads.clear();
    await Promise.all(threads.map((t) => t.worker.terminate()));
    await this.local.close();
  }
}
