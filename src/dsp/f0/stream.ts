// The streaming f0 estimator every method goes through (the file API drains it, so streaming
// and file output are the same frames): input at any rate → 16 kHz (resample16k.ts, or the caller's own
// 16 kHz feed: options.feed16k, processResampled) → one or two
// analysers on their own grids (source.ts) → frames on the requested hop, frame i centred at input
// sample i*hop, by interpolating the analysers' frames around that time (f0 in log-frequency,
// confidence and evidence linearly) → a voicing decision per method (voicing.ts).
import { SvcError } from '../../errors.js';
import { CrepeSource } from './crepe.js';
import { IMPORTED_EXACT, IMPORTED_LOW_LATENCY, ImportedF0Source } from './imported.js';
import { ANALYSIS_RATE, StreamingResamplerTo16k } from './resample16k.js';
import type { NativeSource } from './source.js';
import { SWIFT_EXACT, SWIFT_LOW_LATENCY, SwiftSource } from './swift.js';
import {
  DEFAULT_F0_METHOD,
  DEFAULT_F_MAX_HZ,
  DEFAULT_F_MIN_HZ,
  F0_CHOICES,
  type F0Frame,
  type F0Choice,
  type F0Options,
  type F0StreamLike,
  type NativeFrame,
} from './types.js';
import { decideVoicing, VOICING, type FrameEvidence } from './voicing.js';
import { YinSource } from './yin.js';

/** Fixed lag of the dsp method's pYIN-style Viterbi, in 10 ms frames (lag 3 and 8 measured equal on the synthetic sets; lowLatency uses 2). */
const DSP_TRACK_LAG_FRAMES = 4;
export const DSP_LOW_LATENCY_TRACK_LAG_FRAMES = 2;
export const MAX_TRACK_LAG_FRAMES = 8;

interface SourceState {
  source: NativeSource;
  frames: NativeFrame[];
  /** Native index of frames[0]. */
  base: number;
  /** pitch: the method's pitch; dsp: YIN's evidence; check: a second model's pitch for crepe-hybrid's octave vote. */
  role: 'pitch' | 'dsp' | 'check';
}

/** F0 options after validation: every default filled in (threads and the 16 kHz feed stay optional). */
export type ValidF0Options = Required<Omit<F0Options, 'threads' | 'feed16k' | 'trackLagFrames'>> & Pick<F0Options, 'threads' | 'feed16k'> & { trackLagFrames: number };

/** Validates F0 options once at the boundary. */
export function validateF0Options(sampleRate: number, options: F0Options): ValidF0Options {
  const method = options.method ?? DEFAULT_F0_METHOD;
  if (!F0_CHOICES.includes(method)) {
    throw new SvcError('INVALID_ARGUMENT', `unknown f0 method '${String(method)}'; expected one of ${F0_CHOICES.join(', ')}`);
  }
  if (!Number.isFinite(sampleRate) || sampleRate < 8000 || sampleRate > 384000) {
    throw new SvcError('INVALID_ARGUMENT', `sample rate must be 8000..384000 Hz, got ${sampleRate}`);
  }
  const hop = options.hopSamples;
  if (!Number.isInteger(hop) || hop < 1 || hop > sampleRate) {
    throw new SvcError('INVALID_ARGUMENT', `hop must be a whole number of samples from 1 to ${sampleRate} (1 s), got ${hop}`);
  }
  const fMinHz = options.fMinHz ?? DEFAULT_F_MIN_HZ;
  const fMaxHz = options.fMaxHz ?? DEFAULT_F_MAX_HZ;
  if (!(fMinHz >= 30 && fMaxHz <= 2000 && fMinHz < fMaxHz)) {
    throw new SvcError('INVALID_ARGUMENT', `f0 range must satisfy 30 <= fMin < fMax <= 2000 Hz, got ${fMinHz}..${fMaxHz}`);
  }
  const feed16k = options.feed16k;
  if (feed16k !== undefined && !(Number.isInteger(feed16k.lookaheadInputSamples) && feed16k.lookaheadInputSamples >= 0)) {
    throw new SvcError('INVALID_ARGUMENT', `feed16k.lookaheadInputSamples must be a whole number of samples ≥ 0, got ${feed16k.lookaheadInputSamples}`);
  }
  const lowLatency = options.lowLatency ?? false;
  const trackLagFrames = options.trackLagFrames ?? (lowLatency ? DSP_LOW_LATENCY_TRACK_LAG_FRAMES : DSP_TRACK_LAG_FRAMES);
  if (!(Number.isInteger(trackLagFrames) && trackLagFrames >= 0 && trackLagFrames <= MAX_TRACK_LAG_FRAMES)) {
    throw new SvcError('INVALID_ARGUMENT', `trackLagFrames must be a whole number of 10 ms frames from 0 to ${MAX_TRACK_LAG_FRAMES}, got ${String(options.trackLagFrames)}`);
  }
  return { method, hopSamples: hop, fMinHz, fMaxHz, threads: options.threads, lowLatency, trackLagFrames, feed16k };
}

export class F0Stream implements F0StreamLike {
  readonly latencySamples: number;
  readonly method: F0Choice;
  /** The stream's own resampler; null when the caller feeds 16 kHz audio (options.feed16k). */
  private readonly resampler: StreamingResamplerTo16k | null;
  private received = 0;
  private nextOut = 0;
  private flushed = false;
  /** Causal peak-hold of the frame level (dB), for the relative level gate. */
  private peakDb = -120;
  private disposed = false;

  private constructor(
    readonly sampleRate: number,
    readonly hopSamples: number,
    private readonly fMinHz: number,
    private readonly fMaxHz: number,
    method: F0Choice,
    private readonly sources: SourceState[],
    feed16k: F0Options['feed16k'],
  ) {
    this.method = method;
    this.resampler = feed16k ? null : new StreamingResamplerTo16k(sampleRate);
    // An output frame between two native frames waits for the later one; where every output frame falls
    // on a native frame (onNativeGrid: 16 kHz models with a hop of whole 10 ms frames) it waits for none.
    const worst16k = Math.max(...sources.map((s) => (onNativeGrid(sampleRate, hopSamples, s.source) ? 0 : s.source.hop) + s.source.lookahead));
    this.latencySamples = Math.ceil((worst16k * sampleRate) / ANALYSIS_RATE) + (feed16k?.lookaheadInputSamples ?? this.resampler!.lookaheadInputSamples);
  }

  static async create(sampleRate: number, options: F0Options): Promise<F0Stream> {
    const o = validateF0Options(sampleRate, options);
    const states: SourceState[] = [];
    const add = (source: NativeSource, role: SourceState['role']) => states.push({ source, frames: [], base: 0, role });
    try {
      if (o.method === 'swift' || o.method === 'hybrid') {
        add(await SwiftSource.create({ threads: o.threads, context: o.lowLatency ? SWIFT_LOW_LATENCY : SWIFT_EXACT }), 'pitch');
      }
      if (o.method === 'crepe' || o.method === 'crepe-hybrid') add(await CrepeSource.create(o.fMinHz, o.fMaxHz, { threads: o.threads }), 'pitch');
      if (o.method === 'rmvpe' || o.method === 'fcpe') {
        add(await ImportedF0Source.create(o.method, { threads: o.threads, context: o.lowLatency ? IMPORTED_LOW_LATENCY : IMPORTED_EXACT }), 'pitch');
      }
      // dsp and hybrid read YIN's pitch on the envelope-flattened window (yin.ts flattenEnvelope)
      if (o.method === 'dsp') add(new YinSource(o.fMinHz, o.fMaxHz, o.trackLagFrames, true), 'pitch');
      if (o.method === 'hybrid') add(new YinSource(o.fMinHz, o.fMaxHz, undefined, true), 'dsp');
      // crepe-hybrid votes on CREPE's octave with YIN's tracked path (fewer octave slips than raw YIN) and SwiftF0
      if (o.method === 'crepe-hybrid') {
        add(new YinSource(o.fMinHz, o.fMaxHz, o.trackLagFrames), 'dsp');
        add(await SwiftSource.create({ threads: o.threads, context: o.lowLatency ? SWIFT_LOW_LATENCY : SWIFT_EXACT }), 'check');
      }
    } catch (error) {
      for (const s of states) await s.source.dispose();
      throw error;
    }
    return new F0Stream(sampleRate, o.hopSamples, o.fMinHz, o.fMaxHz, o.method, states, o.feed16k);
  }

  /** 16 kHz position of output frame i's centre. */
  private position16k(i: number): number {
    return (i * this.hopSamples * ANALYSIS_RATE) / this.sampleRate;
  }

  /** Input at the stream's rate: resampled to 16 kHz by the stream's own resampler. */
  async process(chunk: Float32Array): Promise<F0Frame[]> {
    if (!this.resampler) throw new SvcError('INTERNAL', 'this f0 stream takes 16 kHz audio (feed16k): call processResampled()');
    return this.processResampled(this.resampler.process(chunk), chunk.length);
  }

  /**
   * 16 kHz audio standing for the next `inputSamples` input samples: the stream's own resampler's output,
   * or the caller's feed (feed16k; sample j at input time j/16000 s).
   */
  async processResampled(audio16k: Float32Array, inputSamples: number): Promise<F0Frame[]> {
    if (this.disposed || this.flushed) throw new SvcError('INTERNAL', 'f0 stream used after flush/dispose');
    this.received += inputSamples;
    for (const s of this.sources) {
      s.source.push(audio16k);
      s.frames.push(...(await s.source.frames(false)));
    }
    return this.emit(Infinity);
  }

  /**
   * Ends the input: floor(n/hop) frames in all. With feed16k, `tail16k` is the rest of the caller's feed
   * (up to round(n·16000/rate) samples in all); else the stream's resampler gives its own tail.
   */
  async flush(tail16k?: Float32Array): Promise<F0Frame[]> {
    if (this.disposed || this.flushed) throw new SvcError('INTERNAL', 'f0 stream flushed twice or after dispose');
    if (!this.resampler && !tail16k) throw new SvcError('INTERNAL', 'this f0 stream takes 16 kHz audio (feed16k): pass the tail of the feed to flush()');
    this.flushed = true;
    const total = Math.floor(this.received / this.hopSamples);
    const tail = this.resampler ? this.resampler.flush() : tail16k!;
    const lastPosition = this.position16k(Math.max(0, total - 1));
    for (const s of this.sources) {
      s.source.push(tail);
      s.frames.push(...(await s.source.frames(true, lastPosition + s.source.hop)));
    }
    return this.emit(total);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const s of this.sources) await s.source.dispose();
  }

  /** Emits output frames while every source has the native frames around them (or up to `total`). */
  private emit(total: number): F0Frame[] {
    const out: F0Frame[] = [];
    const final = Number.isFinite(total);
    for (;;) {
      const i = this.nextOut;
      if (i >= total) break;
      const p = this.position16k(i);
      const evidence: Array<NativeFrame & { source: SourceState }> = [];
      let ready = true;
      for (const s of this.sources) {
        const j = (p - s.source.centreOffset) / s.source.hop;
        const j0 = Math.max(0, Math.floor(j));
        // On a native frame's centre that frame is the answer: the next one is not waited for.
        const j1 = j === j0 ? j0 : j0 + 1;
        const have = s.base + s.frames.length; // native frames known
        if (!final && j1 >= have) {
          ready = false;
          break;
        }
        const a = s.frames[Math.min(j0, have - 1) - s.base];
        const b = s.frames[Math.min(j1, have - 1) - s.base];
        if (!a || !b) {
          ready = false;
          break;
        }
        const t = Math.min(1, Math.max(0, j - j0));
        evidence.push({ ...(j1 === j0 ? a : interpolateFrames(a, b, t)), source: s });
      }
      if (!ready) break;
      const pitch = evidence.find((e) => e.source.role === 'pitch')!;
      const dsp = evidence.find((e) => e.source.role === 'dsp');
      const check = evidence.find((e) => e.source.role === 'check');
      const levelDb = dsp?.rmsDb ?? pitch.rmsDb;
      if (levelDb !== undefined) {
        this.peakDb = Math.max(levelDb, this.peakDb - (VOICING.peakDecayDbPerSecond * this.hopSamples) / this.sampleRate);
      }
      const ev: FrameEvidence = {
        method: this.method,
        f0Hz: pitch.f0Hz,
        confidence: pitch.confidence,
        aperiodicity: dsp?.aperiodicity ?? pitch.aperiodicity,
        rmsDb: levelDb,
        relativeDb: levelDb === undefined ? undefined : levelDb - this.peakDb,
        centreDropDb: dsp?.centreDropDb ?? pitch.centreDropDb,
        trackerVoiced: pitch.voiced,
        dspF0Hz: dsp?.f0Hz,
      };
      const decision = decideVoicing(ev, this.fMinHz, this.fMaxHz);
      const f0Hz = this.method === 'hybrid' ? refinePitch(pitch.f0Hz, dsp?.f0Hz) : this.method === 'crepe-hybrid' ? octaveVote(pitch.f0Hz, dsp?.f0Hz, check?.f0Hz) : pitch.f0Hz;
      out.push({
        index: i,
        timeSeconds: (i * this.hopSamples) / this.sampleRate,
        f0Hz: decision.voiced ? f0Hz : 0,
        rawF0Hz: f0Hz,
        voiced: decision.voiced,
        confidence: decision.confidence,
        aperiodicity: ev.aperiodicity,
        levelDb: ev.rmsDb,
        modelConfidence: pitch.confidence,
      });
      this.nextOut++;
    }
    // Forget native frames no future output frame needs.
    const p = this.position16k(this.nextOut);
    for (const s of this.sources) {
      const j0 = Math.max(0, Math.floor((p - s.source.centreOffset) / s.source.hop)) - 1;
      const drop = Math.min(s.frames.length, j0 - s.base);
      if (drop > 256) {
        s.frames.splice(0, drop);
        s.base += drop;
      }
    }
    return out;
  }
}

/**
 * Hybrid pitch: SwiftF0 is robust against octave errors but its 70-cent bins leave ±20-40 cents
 * of error on glides; YIN (read on the envelope-flattened window, yin.ts flattenEnvelope) is precise to a
 * few cents but sometimes picks a period multiple. Take YIN's value when it lands within 80 cents of
 * SwiftF0's (same period), else SwiftF0's. (Also requiring a clearly periodic YIN frame, aperiodicity < 0.1,
 * helped the re-synthesised speech of bench f0truth's half B but cost 1.5 % RPA on vocadito_1's expert
 * annotation: not done.)
 */
export function refinePitch(modelHz: number, yinHz: number | undefined): number {
  if (!(modelHz > 0) || !(yinHz !== undefined && yinHz > 0)) return modelHz;
  return Math.abs(1200 * Math.log2(yinHz / modelHz)) <= 80 ? yinHz : modelHz;
}

/**
 * crepe-hybrid's octave vote. CREPE tiny sometimes holds a whole sustained note one octave low
 * (measured on the synthetic singing of test/f0-accuracy.test.ts: runs of 18-26 frames at −1200
 * cents while YIN and SwiftF0 were right), and YIN's tracked path can jump an octave up in creaky
 * voice (VCTK p225: 164 Hz where CREPE and SwiftF0 read 82 Hz). So when CREPE and YIN are one or two
 * octaves apart (±100 cents), YIN's pitch is taken only if SwiftF0 agrees with it (within 100 cents);
 * otherwise, and whenever they are not an octave apart, CREPE's pitch stays.
 */
export function octaveVote(modelHz: number, yinHz: number | undefined, swiftHz: number | undefined): number {
  if (!(modelHz > 0) || !(yinHz !== undefined && yinHz > 0) || !(swiftHz !== undefined && swiftHz > 0)) return modelHz;
  const octaves = Math.abs(1200 * Math.log2(yinHz / modelHz));
  if (!(Math.abs(octaves - 1200) <= 100 || Math.abs(octaves - 2400) <= 100)) return modelHz;
  return Math.abs(1200 * Math.log2(swiftHz / yinHz)) <= 100 ? yinHz : modelHz;
}

/**
 * Whether every output frame i (16 kHz position i·hop·16000/rate) falls exactly on one of the source's
 * native frame centres, so that emit() never needs the following native frame.
 */
export function onNativeGrid(sampleRate: number, hopSamples: number, source: Pick<NativeSource, 'hop' | 'centreOffset'>): boolean {
  return (hopSamples * ANALYSIS_RATE) % (sampleRate * source.hop) === 0 && source.centreOffset % source.hop === 0 && source.centreOffset <= 0;
}

function interpolateFrames(a: NativeFrame, b: NativeFrame, t: number): NativeFrame {
  const lerp = (x: number | undefined, y: number | undefined) => (x === undefined || y === undefined ? x ?? y : x + (y - x) * t);
  let f0Hz: number;
  if (a.f0Hz > 0 && b.f0Hz > 0) {
    // Across an octave jump, interpolating would invent a pitch in between: take the nearer frame.
    const ratio = Math.abs(Math.log2(b.f0Hz / a.f0Hz));
    f0Hz = ratio > 0.5 ? (t < 0.5 ? a.f0Hz : b.f0Hz) : a.f0Hz * (b.f0Hz / a.f0Hz) ** t;
  } else f0Hz = t < 0.5 ? a.f0Hz || b.f0Hz : b.f0Hz || a.f0Hz;
  const voiced = a.voiced === undefined ? undefined : t < 0.5 ? a.voiced : b.voiced!;
  return { f0Hz, confidence: lerp(a.confidence, b.confidence)!, aperiodicity: lerp(a.aperiodicity, b.aperiodicity), rmsDb: lerp(a.rmsDb, b.rmsDb), centreDropDb: lerp(a.centreDropDb, b.centreDropDb), voiced };
}
