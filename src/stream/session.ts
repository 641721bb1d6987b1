// One conversion session: the client's frames (its rate, format, channels) → mono → StreamingResampler
// to the stage rate → StreamPipeline → stage-rate mono output, which the session's sinks resample and
// encode: one sink per output format (rate, sample format, channels), shared by every connection that
// listens in that format (attachSink), so fifty listeners in five formats cost five resamplers. Owns the
// latency and drop accounting reported in `stats` messages and on /metrics.
import { Observable, Subject, type Subscription } from 'rxjs';
import { StreamingResampler } from '../audio/resample.js';
import { decodeFrame, encodeFrame } from './codec.js';
import { createPipeline, type BehindPolicy, type StreamPipeline } from '../engine/pipeline.js';
import type { LatencyBody, SampleFormat, StatsMessage, VoiceControl } from './protocol.js';
import { DSP_CONTROLS, type ConverterStage, type StageFactory, type VoiceParams } from '../voices/stage.js';

export interface StreamFormat {
  sampleRate: number;
  format: SampleFormat;
  channels: number;
}

export interface SessionOptions extends StreamFormat {
  id: string;
  blockMs: number;
  voice: VoiceParams;
  stageFactory: StageFactory;
  policy: BehindPolicy;
  /** Queue beyond which the policy applies, in ms; default max(4 blocks, 200 ms). */
  maxQueueMs?: number;
  /** SOLA crossfade and search for stateless stages, in ms. */
  crossfadeMs?: number;
  searchMs?: number;
  /** Extra left context for stateless stages, in ms. */
  extraContextMs?: number;
  /** Name of the voice the stage factory makes (protocol `model`). Default "builtin". */
  modelName?: string;
  /** Called after every converted block with its timings (for the server's histograms). */
  onBlock?: (timing: BlockTiming) => void;
}

/** Timings of one output block. */
export interface BlockTiming {
  /** Blocks the stage computed since the previous output block (usually 1; 0 when the policy passed this one through). */
  computed: number;
  /** Mean stage compute time of those blocks, in ms. */
  computeMs: number;
  /**
   * Wall time from the arrival of the input frame that completed the block to its output, in ms: what
   * the server adds to the algorithmic latency (queueing + compute).
   */
  waitMs: number;
  /** Block length, in ms (a block is late when waitMs exceeds it). */
  blockMs: number;
  /** Algorithmic latency of the session (block + look-ahead + resampler and SOLA delays), in ms. */
  algorithmicMs: number;
}

/** One output format's sink as a connection holds it: its encoded frames and its latency. */
export interface SinkHandle {
  readonly format: StreamFormat;
  /** Encoded frames for this format, in order (completes when the session ends). */
  readonly frames$: Observable<Buffer>;
  /** The session's latency as this sink's listeners hear it. */
  latency(): LatencyBody;
  /** Stops this holder's use of the sink; the last holder's detach releases the resampler. */
  detach(): void;
}

/** A format's encoder and the holders that share it. */
class SharedSink {
  holders = 0;
  readonly frames = new Subject<Buffer>();
  constructor(public encoder: OutputEncoder) {}
}

function formatKey(f: StreamFormat): string {
  return `${f.sampleRate}/${f.format}/${f.channels}`;
}

/** Resamples stage-rate mono output to one sink's rate and encodes it. */
export class OutputEncoder {
  private readonly resampler: StreamingResampler | null;
  /** Signal delay this encoder adds, in sink-rate samples. */
  readonly delaySamples: number;

  constructor(stageRate: number, readonly target: StreamFormat) {
    this.resampler = stageRate === target.sampleRate ? null : new StreamingResampler({ fromRate: stageRate, toRate: target.sampleRate });
    this.delaySamples = this.resampler?.delaySamples ?? 0;
  }

  /** Returns the encoded frame, or null when the resampler has nothing to give yet. */
  process(stageSamples: Float32Array): { frame: Buffer; samples: number } | null {
    const samples = this.resampler ? this.resampler.process(stageSamples) : stageSamples;
    if (samples.length === 0) return null;
    return { frame: encodeFrame(samples, this.target.format, this.target.channels), samples: samples.length };
  }

  dispose(): void {
    this.resampler?.dispose();
  }
}

export interface SessionCounters {
  framesRejected: number;
  outputFramesDropped: number;
  underruns: number;
}

export class ConvertSession {
  readonly id: string;
  readonly format: StreamFormat;
  /** Block length, ms; a model switch may change it (replaceStage). */
  blockMs: number;
  /** Current converter and its pipeline; replaceStage() swaps both (model switch). */
  stage: ConverterStage;
  pipeline: StreamPipeline;
  /** Name of the current voice ("builtin" or a model name). */
  modelName: string;
  readonly createdAtMs = Date.now();
  voice: VoiceParams;
  private readonly counters: SessionCounters = { framesRejected: 0, outputFramesDropped: 0, underruns: 0 };
  private readonly sinks = new Map<string, SharedSink>();
  /** Arrival times (ms) of the input frames that completed blocks not yet output, oldest first. */
  private readonly blockArrivalsMs: number[] = [];
  /** Stage-rate input samples pushed since the last pipeline change, for block completion. */
  private stageSamplesPushed = 0;
  private computeSeen = { count: 0, totalMs: 0 };
  private inputResampler: StreamingResampler | null;
  private readonly options: SessionOptions;
  private readonly stageErrors = new Subject<unknown>();
  /** Stage failures of whichever pipeline is current (the block is passed through dry). */
  readonly errors$: Observable<unknown> = this.stageErrors.asObservable();
  private pipelineSubscription: Subscription | null = null;
  /** Client-rate input held while a model switch drains the old pipeline (null when not switching). */
  private heldInput: Float32Array[] | null = null;
  private heldSamples = 0;
  private readonly stageOutput = new Subject<Float32Array>();
  /** Converted mono audio at the stage rate, in order. */
  readonly stageOutput$: Observable<Float32Array> = this.stageOutput.asObservable();
  private inputSamples = 0;
  private lastFrameAtMs = 0;
  private disposed = false;

  /** Loads what sessions need once per process (the resampler's WASM). */
  static ready(): Promise<void> {
    return StreamingResampler.ready();
  }

  constructor(options: SessionOptions) {
    this.id = options.id;
    this.options = options;
    this.modelName = options.modelName ?? 'builtin';
    this.format = { sampleRate: options.sampleRate, format: options.format, channels: options.channels };
    this.blockMs = options.blockMs;
    this.voice = { ...options.voice };
    this.stage = options.stageFactory({ clientSampleRate: options.sampleRate, voice: this.voice });
    ({ pipeline: this.pipeline, resampler: this.inputResampler } = this.buildPipeline(this.stage, this.blockMs));
    this.wirePipeline();
  }

  /**
   * The pipeline (block, queue, SOLA sizes from the session's options in ms, converted at the stage's
   * rate) and the client-rate → stage-rate resampler for `stage`; disposes the stage if either fails.
   */
  private buildPipeline(stage: ConverterStage, blockMs: number): { pipeline: StreamPipeline; resampler: StreamingResampler | null } {
    try {
      const rate = stage.sampleRate;
      const o = this.options;
      const pipeline = createPipeline(stage, { blockMs, policy: o.policy, maxQueueMs: o.maxQueueMs, crossfadeMs: o.crossfadeMs, searchMs: o.searchMs, extraContextMs: o.extraContextMs });
      const resampler = rate === this.format.sampleRate ? null : new StreamingResampler({ fromRate: this.format.sampleRate, toRate: rate });
      return { pipeline, resampler };
    } catch (error) {
      stage.dispose();
      throw error;
    }
  }

  private wirePipeline(): void {
    const output = this.pipeline.output$.subscribe((block) => this.onStageBlock(block));
    output.add(this.pipeline.errors$.subscribe((error) => this.stageErrors.next(error)));
    this.pipelineSubscription = output;
  }

  /**
   * Same model, another speaker or mix (`NAME:SPEAKER`): the stage changes it in place, ramped, with no
   * pipeline swap. False when the stage cannot (then replaceStage); throws INVALID_ARGUMENT for a bad speaker.
   */
  changeSpeaker(modelName: string, speaker: string | undefined): boolean {
    if (this.disposed || this.heldInput || !this.stage.setSpeaker?.(speaker)) return false;
    this.modelName = modelName;
    return true;
  }

  /**
   * Model switch: builds a stage from `stageFactory` with the session's voice and a pipeline for it; new
   * input is held while the old pipeline converts what it already queued, then the new pipeline takes over
   * with the held input (only the old queue's last partial block, < 1 block, is lost). Resolves true when
   * the stage rate changed (the session's sinks are then rebuilt for the new rate). On error the current
   * voice stays. `blockMs` is the new voice's block (default: the current one).
   */
  async replaceStage(stageFactory: StageFactory, modelName: string, blockMs = this.blockMs): Promise<boolean> {
    if (this.disposed) return false;
    if (this.heldInput) throw new Error('a model switch is already in progress');
    const stage = stageFactory({ clientSampleRate: this.format.sampleRate, voice: this.voice });
    const { pipeline, resampler } = this.buildPipeline(stage, blockMs);
    this.heldInput = [];
    this.heldSamples = 0;
    await this.pipeline.drain();
    const held = this.heldInput;
    this.heldInput = null;
    if (this.disposed) {
      pipeline.dispose();
      resampler?.dispose();
      stage.dispose();
      return false;
    }
    const old = { stage: this.stage, pipeline: this.pipeline, resampler: this.inputResampler, subscription: this.pipelineSubscription };
    const rateChanged = stage.sampleRate !== old.stage.sampleRate;
    this.stage = stage;
    this.pipeline = pipeline;
    this.inputResampler = resampler;
    this.modelName = modelName;
    this.blockMs = blockMs;
    this.defaultSinkCache = null; // the output resampler's delay depends on the stage rate
    if (rateChanged) {
      // Every sink re-encodes from the new rate (its holders keep their subscriptions).
      for (const sink of this.sinks.values()) {
        const target = sink.encoder.target;
        sink.encoder.dispose();
        sink.encoder = new OutputEncoder(stage.sampleRate, target);
      }
    }
    this.blockArrivalsMs.length = 0;
    this.stageSamplesPushed = 0;
    this.computeSeen = { count: 0, totalMs: 0 };
    this.wirePipeline();
    old.subscription?.unsubscribe();
    old.pipeline.dispose();
    old.resampler?.dispose();
    old.stage.dispose();
    const nowMs = performance.now();
    for (const samples of held) this.pushStage(resampler ? resampler.process(samples) : samples, nowMs);
    return rateChanged;
  }

  /** Hands one converted block to every sink (each encodes it once for all its holders) and times it. */
  private onStageBlock(block: Float32Array): void {
    this.stageOutput.next(block);
    for (const sink of this.sinks.values()) {
      let encoded: { frame: Buffer } | null;
      try {
        encoded = sink.encoder.process(block);
      } catch (error) {
        sink.frames.error(error);
        continue;
      }
      if (encoded) sink.frames.next(encoded.frame);
    }
    const arrivalMs = this.blockArrivalsMs.shift();
    if (this.options.onBlock) {
      // Blocks computed since the last output (0 when the policy passed this one through), at their mean time.
      const totals = this.pipeline.computeTotals;
      const computed = totals.count - this.computeSeen.count;
      const computeMs = computed > 0 ? (totals.totalMs - this.computeSeen.totalMs) / computed : 0;
      this.computeSeen = totals;
      const latency = this.latency();
      this.options.onBlock({ computed, computeMs, waitMs: arrivalMs === undefined ? 0 : performance.now() - arrivalMs, blockMs: latency.blockMs, algorithmicMs: latency.algorithmicMs });
    }
  }

  /** Pushes stage-rate input and notes when it completes blocks (for the wait timing). */
  private pushStage(samples: Float32Array, arrivalMs: number): void {
    const block = this.pipeline.blockSamples;
    const before = Math.floor(this.stageSamplesPushed / block);
    this.stageSamplesPushed += samples.length;
    const completed = Math.floor(this.stageSamplesPushed / block) - before;
    for (let i = 0; i < completed; i++) this.blockArrivalsMs.push(arrivalMs);
    // Blocks the policy skipped never come out: keep the list to what a full queue can hold.
    const most = Math.ceil(this.pipeline.maxQueueSamples / block) + 4;
    if (this.blockArrivalsMs.length > most) this.blockArrivalsMs.splice(0, this.blockArrivalsMs.length - most);
    this.pipeline.push(samples);
  }

  /**
   * A sink for `format`: the session's one encoder for that format, shared with every other holder. The
   * caller detaches it when done (the last detach disposes the encoder).
   */
  attachSink(format: StreamFormat): SinkHandle {
    const key = formatKey(format);
    let sink = this.sinks.get(key);
    if (!sink) {
      sink = new SharedSink(new OutputEncoder(this.stage.sampleRate, { ...format }));
      this.sinks.set(key, sink);
    }
    sink.holders++;
    const shared = sink;
    let detached = false;
    return {
      format: { ...format },
      frames$: shared.frames.asObservable(),
      latency: () => this.latency(shared.encoder),
      detach: () => {
        if (detached) return;
        detached = true;
        shared.holders--;
        if (shared.holders === 0 && this.sinks.get(key) === shared) {
          this.sinks.delete(key);
          shared.encoder.dispose();
          shared.frames.complete();
        }
      },
    };
  }

  /** Distinct output formats being encoded now (one resampler/encoder each). */
  get sinkCount(): number {
    return this.sinks.size;
  }

  /** Counts a client frame the server refused (rate, size, malformed) in this session's stats. */
  countRejectedFrame(): void {
    this.counters.framesRejected++;
  }

  /** Counts an output frame dropped because its client did not read in time. */
  countDroppedOutput(): void {
    this.counters.outputFramesDropped++;
  }

  /** Input queued beyond which the behind-real-time policy applies, in ms. */
  get maxQueueMs(): number {
    return Math.round((this.pipeline.maxQueueSamples * 1000) / this.stage.sampleRate);
  }

  /** Stage compute time spent on this session so far, in ms. */
  get totalComputeMs(): number {
    return this.pipeline.stats().totalComputeMs;
  }

  /** Decodes and queues one binary frame; returns an error text for a malformed frame (dropped). */
  acceptFrame(bytes: Uint8Array): string | null {
    if (this.disposed) return null;
    const decoded = decodeFrame(bytes, this.format.format, this.format.channels);
    if (!decoded.ok) {
      this.counters.framesRejected++;
      return decoded.message;
    }
    const now = performance.now();
    // An underrun: the client's audio stopped arriving for more than two blocks (and 100 ms) mid-stream,
    // so whoever plays the output runs dry.
    if (this.lastFrameAtMs > 0 && now - this.lastFrameAtMs > Math.max(2 * this.blockMs, 100)) this.counters.underruns++;
    this.lastFrameAtMs = now;
    this.inputSamples += decoded.samples.length;
    // A live say speaks in place of the client's audio: received (and counted), not converted.
    if (this.inputReplaced) return null;
    this.enqueue(decoded.samples, now);
    return null;
  }

  /**
   * While true, the client's own audio is accepted but not converted: a live `say` (stream/say.ts) feeds
   * the session instead, so listeners hear the text alone, and the input rate stays real time.
   */
  inputReplaced = false;

  /** Client-rate mono audio the server generates (a live `say`), queued like the client's own. */
  pushGenerated(samples: Float32Array): void {
    if (this.disposed || samples.length === 0) return;
    this.enqueue(samples, performance.now());
  }

  /** Queues client-rate mono input: resampled to the stage rate, or held during a model switch. */
  private enqueue(samples: Float32Array, nowMs: number): void {
    if (this.heldInput) {
      // A model switch is waiting for the old pipeline to finish its queue: hold the input (≤ 5 s).
      this.heldInput.push(samples);
      this.heldSamples += samples.length;
      while (this.heldSamples > this.format.sampleRate * 5 && this.heldInput.length > 1) this.heldSamples -= this.heldInput.shift()!.length;
      return;
    }
    const stageSamples = this.inputResampler ? this.inputResampler.process(samples) : samples;
    this.pushStage(stageSamples, nowMs);
  }

  /** Voice parameters the current stage honours. */
  controls(): VoiceControl[] {
    return [...(this.stage.controls ?? DSP_CONTROLS)];
  }

  setVoice(voice: Partial<VoiceParams>): VoiceParams {
    this.voice = { pitch: voice.pitch ?? this.voice.pitch, formant: voice.formant ?? this.voice.formant };
    // RVC's own controls ride along only when given (other voices ignore them).
    for (const key of ['indexRate', 'protect'] as const) {
      const value = voice[key] ?? this.voice[key];
      if (value !== undefined) this.voice[key] = value;
    }
    this.stage.setVoice(this.voice);
    return { ...this.voice };
  }

  /** Creates an encoder for a sink; the caller disposes it. */
  createEncoder(target: StreamFormat): OutputEncoder {
    return new OutputEncoder(this.stage.sampleRate, target);
  }

  /**
   * Signal delay and algorithmic latency as a sink sees them: `sink` is its encoder (rate and resampler
   * delay); default the converting client's own. delaySamples is in the sink's rate.
   */
  latency(sink: { delaySamples: number; target: { sampleRate: number } } = this.defaultSink()): LatencyBody {
    const stageRate = this.stage.sampleRate;
    const inDelayMs = this.inputResampler ? (this.inputResampler.delaySamples * 1000) / stageRate : 0;
    const pipelineDelayMs = (this.pipeline.delaySamples * 1000) / stageRate;
    const outDelayMs = (sink.delaySamples * 1000) / sink.target.sampleRate;
    const delayMs = inDelayMs + pipelineDelayMs + outDelayMs;
    const blockMs = (this.pipeline.blockSamples * 1000) / stageRate;
    return {
      algorithmicMs: round2(blockMs + delayMs),
      blockMs: round2(blockMs),
      delayMs: round2(delayMs),
      delaySamples: Math.round((delayMs * sink.target.sampleRate) / 1000),
    };
  }

  private defaultSinkCache: { delaySamples: number; target: { sampleRate: number } } | null = null;

  private defaultSink(): { delaySamples: number; target: { sampleRate: number } } {
    if (this.defaultSinkCache) return this.defaultSinkCache;
    const stageRate = this.stage.sampleRate;
    let delaySamples = 0;
    if (stageRate !== this.format.sampleRate) {
      // Same figure an OutputEncoder to the client's rate reports (speex: filt_len/2 input samples).
      const probe = new StreamingResampler({ fromRate: stageRate, toRate: this.format.sampleRate });
      delaySamples = probe.delaySamples;
      probe.dispose();
    }
    this.defaultSinkCache = { delaySamples, target: this.format };
    return this.defaultSinkCache;
  }

  stats(policy: string, listeners: number, latency = this.latency()): StatsMessage {
    const p = this.pipeline.stats();
    const stageRate = this.stage.sampleRate;
    const toMs = (samples: number) => round2((samples * 1000) / stageRate);
    const policyBlocks = p.blocksSkipped + p.blocksDry + p.blocksSilenced;
    return {
      type: 'stats',
      sessionId: this.id,
      model: this.modelName,
      inputMs: round2((this.inputSamples * 1000) / this.format.sampleRate),
      outputMs: toMs(p.outputSamples),
      latency: {
        algorithmicMs: latency.algorithmicMs,
        computeMsMean: round3(p.compute.meanMs),
        computeMsMedian: round3(p.compute.medianMs),
        computeMsP95: round3(p.compute.p95Ms),
        computeMsMax: round3(p.compute.maxMs),
        blockMs: latency.blockMs,
        delayMs: latency.delayMs,
        delaySamples: latency.delaySamples,
        // A sample's wait from arriving to leaving converted: the algorithmic latency (its block filling
        // included), the compute of its block and the whole blocks queued ahead of it (the partial block
        // in the queue is the filling, counted once). A client adds its network and buffers.
        serverMs: round2(latency.algorithmicMs + p.compute.medianMs + (Math.floor(p.queueSamples / this.pipeline.blockSamples) * this.pipeline.blockSamples * 1000) / stageRate),
      },
      queueMs: toMs(p.queueSamples),
      queueMaxMs: toMs(p.queueMaxSamples),
      dropped: {
        skippedBlocks: p.blocksSkipped,
        dryBlocks: p.blocksDry,
        silencedBlocks: p.blocksSilenced,
        overflowMs: toMs(p.overflowSamples),
        outputFramesDropped: this.counters.outputFramesDropped,
        framesRejected: this.counters.framesRejected,
      },
      blocks: { converted: p.blocksConverted, notConverted: policyBlocks + p.stageErrors },
      underruns: this.counters.underruns,
      overruns: policyBlocks,
      policy,
      listeners,
    };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.pipelineSubscription?.unsubscribe();
    this.pipeline.dispose();
    for (const sink of this.sinks.values()) {
      sink.encoder.dispose();
      sink.frames.complete();
    }
    this.sinks.clear();
    this.stageOutput.complete();
    this.stageErrors.complete();
    this.inputResampler?.dispose();
    this.stage.dispose();
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
