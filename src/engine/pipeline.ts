// The streaming conversion pipeline at the stage's sample rate:
//   push(samples) → bounded ring buffer → blocks of blockSamples (+ left context for stateless stages)
//   → converter stage → SOLA crossfade (stateless stages only) → output$ (rxjs Observable of blocks).
// Blocks are processed in order with at most one stage call in flight. A pump runs on setImmediate, so
// audio that arrived while the stage was busy accumulates in the queue, which is how "behind real time"
// shows up; when the queue exceeds maxQueueSamples the behind-real-time policy is applied to the oldest
// blocks until one block is left:
//   'silence' output silence for them (no gap, no voice) — the DEFAULT: people use a voice changer
//             not to be recognised, so falling behind must never play their own voice;
//   'skip'    drop those input blocks (output gets shorter; lowest latency afterwards),
//   'dry'     pass them through unconverted, delayed like converted audio (no gap, original voice):
//             only when asked for explicitly.
// A block whose stage call failed follows the same rule: dry only under 'dry', else silence.
// Silence after converted audio starts with a short ramp from the last output sample (SOLA's
// crossfade does this for stateless stages), so it does not click. Each case is counted. The ring buffer itself holds maxQueueSamples plus headroom; a write that still
// does not fit (stage stuck) discards the oldest queued input and counts it as overflow. Nothing here
// grows without bound.
import { Observable, Subject, type OperatorFunction } from 'rxjs';
import { ComputeTimes, type ComputeSummary } from './computeStats.js';
import { Float32RingBuffer } from './ringBuffer.js';
import { SolaStitcher, solaDelaySamples, solaMinimumContextSamples } from './sola.js';
import type { BlockTime, ConverterStage } from '../voices/stage.js';

export const BEHIND_POLICIES = ['silence', 'skip', 'dry'] as const;
/** What falls-behind does unless told otherwise: never the unconverted voice. */
export const DEFAULT_BEHIND_POLICY: BehindPolicy = 'silence';

/**
 * Queued input beyond which the behind-real-time policy applies when nobody chose one: max(4 blocks,
 * 200 ms) at the stage's rate. The one default: serve, live and the protocol's `ready` read it from the pipeline.
 */
export function defaultMaxQueueSamples(blockSamples: number, sampleRate: number): number {
  return Math.max(4 * blockSamples, Math.round((200 * sampleRate) / 1000));
}
export type BehindPolicy = (typeof BEHIND_POLICIES)[number];

export interface PipelineOptions {
  /** Samples per block at the stage rate. */
  blockSamples: number;
  /** SOLA crossfade length (stateless stages; ignored for stateful ones). Default: 10 ms. */
  crossfadeSamples?: number;
  /** SOLA search range (stateless stages; ignored for stateful ones). Default: 10 ms. */
  searchSamples?: number;
  /** Extra left context beyond what the stage and SOLA need (stateless stages). Default 0. */
  extraContextSamples?: number;
  /** Queued input beyond which the behind-real-time policy applies. Default: max(4 blocks, 200 ms). */
  maxQueueSamples?: number;
  policy?: BehindPolicy;
  /** Synchronous blocks processed per event-loop turn before yielding to other sessions. Default 4. */
  maxBlocksPerTurn?: number;
}

export interface PipelineStats {
  inputSamples: number;
  outputSamples: number;
  blocksConverted: number;
  blocksSkipped: number;
  blocksDry: number;
  blocksSilenced: number;
  /** Input samples discarded because the ring buffer itself was full (stage stuck). */
  overflowSamples: number;
  /** Blocks whose stage call threw (their output is silence, or dry under the dry policy). */
  stageErrors: number;
  queueSamples: number;
  queueMaxSamples: number;
  compute: ComputeSummary;
  totalComputeMs: number;
}

/** Delays a stream by a fixed number of samples (the dry path of a stateful stage). */
class DelayLine {
  private readonly state: Float32Array;

  constructor(readonly delaySamples: number) {
    this.state = new Float32Array(delaySamples);
  }

  process(block: Float32Array): Float32Array {
    const d = this.delaySamples;
    if (d === 0) return block.slice();
    const joined = new Float32Array(d + block.length);
    joined.set(this.state);
    joined.set(block, d);
    this.state.set(joined.subarray(block.length));
    return joined.slice(0, block.length);
  }
}

export class StreamPipeline {
  readonly blockSamples: number;
  /** Samples handed to the stage per call (context + block for stateless stages, the block otherwise). */
  readonly windowSamples: number;
  readonly crossfadeSamples: number;
  readonly searchSamples: number;
  readonly maxQueueSamples: number;
  readonly policy: BehindPolicy;
  /** Signal delay in stage samples: output sample k answers input sample k − delaySamples. */
  readonly delaySamples: number;

  private readonly outputSubject = new Subject<Float32Array>();
  private readonly errorSubject = new Subject<unknown>();
  /** Converted blocks in order, blockSamples each. */
  readonly output$: Observable<Float32Array> = this.outputSubject.asObservable();
  /** Stage failures (the pipeline carries on; that block is silent, or dry under the dry policy). */
  readonly errors$: Observable<unknown> = this.errorSubject.asObservable();

  private readonly queue: Float32RingBuffer;
  private readonly window: Float32Array;
  private readonly sola: SolaStitcher | null;
  private readonly dryDelay: DelayLine | null;
  private readonly maxBlocksPerTurn: number;
  private readonly computeTimes = new ComputeTimes();
  private lastOutputSample = 0;
  private pumpScheduled = false;
  private inFlight = false;
  private disposed = false;
  private drainWaiters: Array<() => void> = [];
  /** Blocks read from the queue so far (converted or handled by the policy): the stream's clock. */
  private blocksRead = 0;
  /** Index of the last block the stage was given (−1: none yet). */
  private lastStageBlock = -1;
  private counters = { inputSamples: 0, outputSamples: 0, blocksConverted: 0, blocksSkipped: 0, blocksDry: 0, blocksSilenced: 0, overflowSamples: 0, stageErrors: 0, queueMaxSamples: 0 };

  constructor(readonly stage: ConverterStage, options: PipelineOptions) {
    const rate = stage.sampleRate;
    const ms = (x: number) => Math.round((x * rate) / 1000);
    this.blockSamples = options.blockSamples;
    if (!Number.isInteger(this.blockSamples) || this.blockSamples <= 0) throw new RangeError(`blockSamples must be a positive integer, got ${options.blockSamples}`);
    // The stage's look-ahead may depend on the block (ConverterStage.setBlockSamples): told first.
    stage.setBlockSamples?.(this.blockSamples);
    this.policy = options.policy ?? DEFAULT_BEHIND_POLICY;
    this.maxQueueSamples = Math.max(options.maxQueueSamples ?? defaultMaxQueueSamples(this.blockSamples, rate), 2 * this.blockSamples);
    this.maxBlocksPerTurn = options.maxBlocksPerTurn ?? 4;
    // Headroom beyond the policy threshold: bursts that arrive while the stage is busy.
    this.queue = new Float32RingBuffer(2 * this.maxQueueSamples + 2 * this.blockSamples);
    if (stage.stateful) {
      this.crossfadeSamples = 0;
      this.searchSamples = 0;
      this.windowSamples = this.blockSamples;
      this.sola = null;
      this.dryDelay = new DelayLine(stage.lookaheadSamples);
      this.delaySamples = stage.lookaheadSamples;
    } else {
      this.crossfadeSamples = Math.min(options.crossfadeSamples ?? ms(10), this.blockSamples);
      // A stage whose windows agree in phase needs no search (the small base at 40 ms blocks, streamed vs
      // offline outside crossfades: 11.2 dB without it, 5.2 with 10 ms), and saves half of it in latency.
      this.searchSamples = options.searchSamples ?? (stage.windowsInPhase ? 0 : ms(DEFAULT_SEARCH_MS));
      const solaShape = { crossfadeSamples: this.crossfadeSamples, searchSamples: this.searchSamples, lookaheadSamples: stage.lookaheadSamples };
      const context = Math.max(stage.contextSamples, solaMinimumContextSamples(solaShape)) + (options.extraContextSamples ?? 0);
      this.windowSamples = context + this.blockSamples;
      this.sola = new SolaStitcher({ ...solaShape, blockSamples: this.blockSamples, windowSamples: this.windowSamples });
      this.dryDelay = null;
      this.delaySamples = solaDelaySamples(solaShape);
    }
    this.window = new Float32Array(this.windowSamples);
  }

  /** Worst-case delay from a sample entering to it leaving: one block of buffering plus the signal delay. */
  get algorithmicLatencySamples(): number {
    return this.blockSamples + this.delaySamples;
  }

  /** Real-time input: queues the samples and schedules processing; the policy applies if the queue overflows. */
  push(samples: Float32Array): void {
    if (this.disposed || samples.length === 0) return;
    this.counters.inputSamples += samples.length;
    let offset = 0;
    while (offset < samples.length) {
      const piece = samples.subarray(offset, offset + Math.min(samples.length - offset, this.queue.capacitySamples));
      const shortfall = piece.length - this.queue.freeSamples;
      if (shortfall > 0) this.counters.overflowSamples += this.queue.discard(shortfall);
      this.queue.write(piece);
      offset += piece.length;
    }
    this.counters.queueMaxSamples = Math.max(this.counters.queueMaxSamples, this.queue.availableSamples);
    this.schedulePump();
  }

  /** Offline input: waits for room instead of applying the policy, so nothing is ever dropped. */
  async write(samples: Float32Array): Promise<void> {
    for (let offset = 0; offset < samples.length && !this.disposed; offset += this.blockSamples) {
      const piece = samples.subarray(offset, Math.min(samples.length, offset + this.blockSamples));
      if (this.queue.availableSamples + piece.length > this.maxQueueSamples) await this.drain();
      this.push(piece);
    }
  }

  /** Resolves once fewer than one block is queued and no stage call is in flight. */
  drain(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** Blocks computed so far and their total compute time in ms, without building full stats. */
  get computeTotals(): { count: number; totalMs: number } {
    return this.computeTimes.totals;
  }

  stats(): PipelineStats {
    return {
      ...this.counters,
      queueSamples: this.queue.availableSamples,
      compute: this.computeTimes.summary(),
      totalComputeMs: this.computeTimes.totalComputeMs,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.clear();
    this.outputSubject.complete();
    this.errorSubject.complete();
    this.resolveDrainWaiters();
  }

  private isIdle(): boolean {
    return this.disposed || (!this.inFlight && !this.pumpScheduled && this.queue.availableSamples < this.blockSamples);
  }

  private resolveDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.inFlight || this.disposed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    let blocksThisTurn = 0;
    while (!this.disposed && !this.inFlight && this.queue.availableSamples >= this.blockSamples) {
      if (this.queue.availableSamples > this.maxQueueSamples) this.applyPolicyToBacklog();
      if (this.queue.availableSamples < this.blockSamples) break;
      if (blocksThisTurn >= this.maxBlocksPerTurn) {
        this.schedulePump();
        return;
      }
      const block = new Float32Array(this.blockSamples);
      this.queue.readInto(block);
      const stageInput = this.advanceWindow(block);
      const time = this.stageTime();
      blocksThisTurn++;
      const startedMs = performance.now();
      let result: Float32Array | Promise<Float32Array>;
      try {
        result = this.stage.process(stageInput, time);
      } catch (error) {
        this.onStageError(error, block, stageInput);
        continue;
      }
      if (result instanceof Promise) {
        this.inFlight = true;
        result.then(
          (output) => {
            this.inFlight = false;
            if (this.disposed) return;
            this.computeTimes.add(performance.now() - startedMs);
            this.emitConverted(output, block, stageInput);
            this.pump();
          },
          (error: unknown) => {
            this.inFlight = false;
            if (this.disposed) return;
            this.onStageError(error, block, stageInput);
            this.pump();
          },
        );
        return;
      }
      this.computeTimes.add(performance.now() - startedMs);
      this.emitConverted(result, block, stageInput);
    }
    if (this.isIdle()) this.resolveDrainWaiters();
  }

  /** Where the window of the block just read sits in the stream; marks the block as given to the stage. */
  private stageTime(): BlockTime {
    const block = this.blocksRead - 1;
    const time = { startSample: this.blocksRead * this.blockSamples - this.windowSamples, discontinuity: this.lastStageBlock !== block - 1 };
    this.lastStageBlock = block;
    return time;
  }

  /** Slides the context window by one block; returns what the stage gets (a copy it may keep). */
  private advanceWindow(block: Float32Array): Float32Array {
    this.blocksRead++;
    if (this.stage.stateful) return block;
    this.window.copyWithin(0, this.blockSamples);
    this.window.set(block, this.windowSamples - this.blockSamples);
    return this.window.slice();
  }

  private emitConverted(output: Float32Array, block: Float32Array, stageInput: Float32Array): void {
    if (output.length !== stageInput.length) {
      this.onStageError(new Error(`stage ${this.stage.name} returned ${output.length} samples for ${stageInput.length}`), block, stageInput);
      return;
    }
    this.counters.blocksConverted++;
    if (this.sola) this.emit(this.sola.process(output));
    else {
      this.dryDelay?.process(block); // keeps the dry path's history in step
      this.emit(output);
    }
  }

  private onStageError(error: unknown, block: Float32Array, stageInput: Float32Array): void {
    this.counters.stageErrors++;
    this.errorSubject.next(error);
    if (this.policy === 'dry') this.emitDry(block, stageInput);
    else this.emitSilence(block);
  }

  /** A block of silence in place of `block` (the dry path's history still advances). */
  private emitSilence(block: Float32Array): void {
    this.dryDelay?.process(block);
    if (this.sola) {
      this.emit(this.sola.process(new Float32Array(this.windowSamples)));
      return;
    }
    // Stateful stages have no crossfade: ramp from the last sample sent to zero over ~5 ms.
    const out = new Float32Array(this.blockSamples);
    const rampSamples = Math.min(out.length, Math.max(1, Math.round(this.stage.sampleRate * 0.005)));
    for (let i = 0; i < rampSamples; i++) out[i] = this.lastOutputSample * (1 - (i + 1) / rampSamples);
    this.emit(out);
  }

  private emitDry(block: Float32Array, stageInput: Float32Array): void {
    if (this.sola) this.emit(this.sola.process(stageInput));
    else this.emit(this.dryDelay!.process(block));
  }

  /** Behind real time: handle the oldest blocks by policy until one block (plus a partial one) is left. */
  private applyPolicyToBacklog(): void {
    const block = new Float32Array(this.blockSamples);
    while (this.queue.availableSamples >= 2 * this.blockSamples) {
      this.queue.readInto(block);
      const stageInput = this.advanceWindow(block);
      if (this.policy === 'skip') {
        this.counters.blocksSkipped++;
        this.dryDelay?.process(block);
      } else if (this.policy === 'dry') {
        this.counters.blocksDry++;
        this.emitDry(block, stageInput);
      } else {
        this.counters.blocksSilenced++;
        this.emitSilence(block);
      }
    }
  }

  private emit(block: Float32Array): void {
    this.counters.outputSamples += block.length;
    if (block.length > 0) this.lastOutputSample = block[block.length - 1]!;
    this.outputSubject.next(block);
  }
}

/** SOLA's search window when the caller gives none and the stage's windows are not in phase, ms. */
export const DEFAULT_SEARCH_MS = 10;

/** Pipeline timing as users give it (CLI options, the protocol's hello), in milliseconds. */
export interface PipelineTimingMs {
  blockMs: number;
  policy?: BehindPolicy;
  maxQueueMs?: number;
  crossfadeMs?: number;
  searchMs?: number;
  extraContextMs?: number;
}

/**
 * The one pipeline builder (`svc serve` sessions, `svc live`): timing in ms converted at the stage's
 * rate; unset values take the pipeline's defaults.
 */
export function createPipeline(stage: ConverterStage, timing: PipelineTimingMs): StreamPipeline {
  const rate = stage.sampleRate;
  const samples = (ms: number | undefined) => (ms === undefined ? undefined : Math.round((ms * rate) / 1000));
  return new StreamPipeline(stage, {
    blockSamples: Math.max(1, Math.round((timing.blockMs * rate) / 1000)),
    policy: timing.policy,
    maxQueueSamples: samples(timing.maxQueueMs),
    crossfadeSamples: samples(timing.crossfadeMs),
    searchSamples: samples(timing.searchMs),
    extraContextSamples: samples(timing.extraContextMs),
  });
}

/**
 * rxjs operator for non-real-time use (files, tests): converts a stream of sample chunks of any sizes and
 * emits the converted signal time-aligned with the input (the pipeline delay removed) and exactly as long.
 * Never drops input. `createStage` is called once per subscription; the stage is disposed on teardown.
 */
export function convertChunks(createStage: () => ConverterStage, options: PipelineOptions): OperatorFunction<Float32Array, Float32Array> {
  return (source) =>
    new Observable<Float32Array>((subscriber) => {
      const stage = createStage();
      const pipeline = new StreamPipeline(stage, options);
      let toTrim = pipeline.delaySamples;
      let inputLength = 0;
      let emittedLength = 0;
      let ended = false;
      const outputSubscription = pipeline.output$.subscribe((block) => {
        let part = block;
        if (toTrim > 0) {
          const cut = Math.min(toTrim, part.length);
          toTrim -= cut;
          part = part.subarray(cut);
        }
        if (ended) part = part.subarray(0, Math.max(0, inputLength - emittedLength));
        if (part.length === 0) return;
        emittedLength += part.length;
        subscriber.next(part.slice());
      });
      // Chunks are written one after another; `chain` serializes the asynchronous writes.
      let chain: Promise<void> = Promise.resolve();
      const sourceSubscription = source.subscribe({
        next: (chunk) => {
          inputLength += chunk.length;
          chain = chain.then(() => pipeline.write(chunk));
        },
        error: (error: unknown) => subscriber.error(error),
        complete: () => {
          chain = chain
            .then(async () => {
              ended = true;
              // Pad with silence so the last partial block and the delayed tail come out.
              await pipeline.write(new Float32Array(pipeline.blockSamples + pipeline.delaySamples));
              await pipeline.drain();
              subscriber.complete();
            })
            .catch((error: unknown) => subscriber.error(error));
        },
      });
      const errorSubscription = pipeline.errors$.subscribe((error) => subscriber.error(error));
      return () => {
        sourceSubscription.unsubscribe();
        outputSubscription.unsubscribe();
        errorSubscription.unsubscribe();
        pipeline.dispose();
        stage.dispose();
      };
    });
}
