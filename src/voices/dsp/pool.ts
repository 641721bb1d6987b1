// The built-in DSP voice on worker threads, so one server uses every core: each session's stage is a
// proxy that sends its blocks to the DspVoiceStage it owns on one of `size` workers (the least busy when
// it was created) and resolves with the converted block. The stage contract already allows a Promise
// from process() and the pipeline keeps one call in flight per session, so order is kept by construction;
// output is bit-identical to the in-process voice (same code, same state, one block at a time).
import type { Worker } from 'node:worker_threads';
import { SvcError } from '../../errors.js';
import type { ConverterStage, StageFactory, VoiceParams } from '../stage.js';
import { DspVoice } from './voice.js';
import type { PoolReply, PoolRequest } from './worker.js';
import { startModuleWorker } from '../worker/start.js';

interface PoolWorker {
  worker: Worker;
  stages: number;
  /** The pending block of each stage on this worker (one at a time per stage). */
  pending: Map<number, { resolve: (out: Float32Array) => void; reject: (error: Error) => void }>;
  failed: Error | null;
  /** Resolves once the thread has loaded the voice code (seconds under tsx on a busy machine). */
  ready: Promise<void>;
}

export class DspWorkerPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 1;
  private closed = false;
  /** Signal delay of the DSP voice by sample rate (a property of the rate, read once from a local voice). */
  private readonly delayByRate = new Map<number, number>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a DSP worker pool needs at least one worker, got ${size}`);
    for (let i = 0; i < size; i++) this.workers.push(this.spawn());
  }

  private spawn(): PoolWorker {
    let markReady = () => {};
    const entry: PoolWorker = { worker: startModuleWorker(import.meta.url, 'worker'), stages: 0, pending: new Map(), failed: null, ready: new Promise((r) => (markReady = r)) };
    entry.worker.unref();
    entry.worker.on('message', (reply: PoolReply) => {
      if (reply.op === 'ready') return markReady();
      const waiter = entry.pending.get(reply.id);
      if (!waiter) return;
      entry.pending.delete(reply.id);
      if (reply.op === 'out') waiter.resolve(new Float32Array(reply.buffer));
      else waiter.reject(new SvcError('INTERNAL', `the DSP voice failed on a block: ${reply.message}`));
    });
    const fail = (error: Error) => {
      entry.failed ??= error;
      markReady();
      for (const waiter of entry.pending.values()) waiter.reject(error);
      entry.pending.clear();
    };
    entry.worker.on('error', (error) => fail(new SvcError('INTERNAL', `a DSP worker thread failed: ${error.message}`)));
    entry.worker.on('exit', (code) => {
      if (!this.closed) fail(new SvcError('INTERNAL', `a DSP worker thread exited (${code})`));
    });
    return entry;
  }

  private delaySamples(sampleRate: number): number {
    let delay = this.delayByRate.get(sampleRate);
    if (delay === undefined) {
      const probe = new DspVoice({ sampleRate });
      delay = probe.delaySamples;
      probe.dispose();
      this.delayByRate.set(sampleRate, delay);
    }
    return delay;
  }

  /** Stage factory like createDspStageFactory(), with the voices on the pool's threads. */
  stageFactory(): StageFactory {
    return ({ clientSampleRate, voice }) => this.createStage(clientSampleRate, voice);
  }

  private createStage(sampleRate: number, voice: VoiceParams): ConverterStage {
    if (this.closed) throw new SvcError('INTERNAL', 'the DSP worker pool is closed');
    const lookaheadSamples = this.delaySamples(sampleRate); // validates the rate here, synchronously
    const usable = this.workers.filter((w) => !w.failed);
    if (usable.length === 0) throw new SvcError('INTERNAL', `every DSP worker thread failed (${this.workers[0].failed?.message})`);
    const entry = usable.reduce((a, b) => (b.stages < a.stages ? b : a));
    const id = this.nextId++;
    const post = (request: PoolRequest, transfer: ArrayBuffer[] = []) => entry.worker.postMessage(request, transfer);
    post({ op: 'create', id, sampleRate, voice: { ...voice } });
    entry.stages++;
    let disposed = false;
    return {
      name: 'builtin',
      sampleRate,
      lookaheadSamples,
      contextSamples: 0,
      stateful: true,
      process: (block: Float32Array) =>
        new Promise<Float32Array>((resolve, reject) => {
          if (entry.failed) return reject(entry.failed);
          if (disposed) return reject(new SvcError('INTERNAL', 'the DSP stage was disposed'));
          entry.pending.set(id, { resolve, reject });
          // A copy goes to the worker: the pipeline keeps `block` for its dry path.
          const copy = block.slice();
          post({ op: 'process', id, buffer: copy.buffer as ArrayBuffer }, [copy.buffer as ArrayBuffer]);
        }),
      setVoice: (v: Partial<VoiceParams>) => post({ op: 'voice', id, voice: { ...v } }),
      reset: () => post({ op: 'reset', id }),
      dispose: () => {
        if (disposed) return;
        disposed = true;
        entry.stages--;
        entry.pending.delete(id);
        post({ op: 'dispose', id });
      },
    };
  }

  /** Resolves when every thread is ready to convert (call before serving, so no first block waits for a thread to boot). */
  async ready(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.ready));
    const failed = this.workers.find((w) => w.failed);
    if (failed) throw failed.failed;
  }

  /** Sessions per worker right now (for logs and tests). */
  load(): number[] {
    return this.workers.map((w) => w.stages);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }
}
