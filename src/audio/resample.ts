// Sample-rate conversion on the Speex resampler (speex-resampler's own WASM build of speexdsp).
// The package's JS wrapper never frees its WASM state, so this module drives the WASM exports
// directly: one speex state per StreamingResampler, destroyed (and its heap buffers freed) in
// dispose(). Only the int16 entry point is exported by that build, so samples are carried as int16
// with 6 dB of headroom: x * 16384, rounded, clipped to [-32767, 32767], and back / 16384. So
// signals up to ±2 pass unclipped (full-scale speech and the filter's Gibbs overshoot on it never
// clip), and the precision is 1/16384 of full scale: a quantisation floor near -90 dBFS, far below
// anything audible or any model's sensitivity. Beyond ±2 the signal is clipped.
//
// Timing: speex delays its output by filt_len/2 input samples (filt_len depends on quality and,
// when downsampling, on the ratio). `resample()` removes that delay exactly: it pre-pads zeros so
// the delay is a whole number of output samples, then drops them, so output sample k sits at input
// time k * fromRate / toRate and the output has round(n * toRate / fromRate) samples.
import { createRequire } from 'node:module';
import { SvcError, errorMessage } from '../errors.js';
import type { AudioData, MonoAudio } from './types.js';
import { concatFloat32 } from '../dsp/arrays.js';

/** The subset of the Emscripten module (speex-resampler/app/speex_wasm.js) used here. */
interface SpeexModule {
  _speex_resampler_init(channels: number, inRate: number, outRate: number, quality: number, errPtr: number): number;
  _speex_resampler_destroy(statePtr: number): void;
  _speex_resampler_process_interleaved_int(statePtr: number, inPtr: number, inLenPtr: number, outPtr: number, outLenPtr: number): number;
  _speex_resampler_strerror(err: number): number;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  AsciiToString(ptr: number): string;
  HEAP16: Int16Array;
  HEAPU32: Uint32Array;
}

let speexModule: SpeexModule | undefined;
let speexLoading: Promise<void> | undefined;

function loadSpeex(): Promise<void> {
  if (speexModule) return Promise.resolve();
  speexLoading ??= (async () => {
    const require = createRequire(import.meta.url);
    // The Emscripten glue registers process-wide 'uncaughtException' (rethrow) and
    // 'unhandledRejection' (abort) listeners when it loads; they would turn any unrelated promise
    // rejection into a WASM abort. Remove exactly the listeners it added.
    const before = {
      uncaughtException: new Set(process.listeners('uncaughtException')),
      unhandledRejection: new Set(process.listeners('unhandledRejection')),
    };
    try {
      const factory = (require('speex-resampler/app/speex_wasm.js') as { default: () => Promise<SpeexModule> }).default;
      speexModule = await factory();
    } catch (error) {
      speexLoading = undefined; // let a later call try again
      throw new SvcError('INTERNAL', `cannot load the speex resampler (speex-resampler package): ${errorMessage(error)}`, {
        hint: 'reinstall dependencies with `npm ci`',
        cause: error,
      });
    } finally {
      for (const listener of process.listeners('uncaughtException')) {
        if (!before.uncaughtException.has(listener)) process.removeListener('uncaughtException', listener);
      }
      for (const listener of process.listeners('unhandledRejection')) {
        if (!before.unhandledRejection.has(listener)) process.removeListener('unhandledRejection', listener);
      }
    }
  })();
  return speexLoading;
}

/** Base filter length of each speex quality level (speexdsp resample.c quality_map). */
const SPEEX_BASE_FILTER_LENGTH = [8, 16, 32, 48, 64, 80, 96, 128, 160, 192, 256] as const;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Speex's filter length in input samples for a rate pair (as speexdsp computes it). */
export function speexFilterLength(fromRate: number, toRate: number, quality: number): number {
  let length: number = SPEEX_BASE_FILTER_LENGTH[quality]!;
  const g = gcd(fromRate, toRate);
  const num = fromRate / g;
  const den = toRate / g;
  if (num > den) {
    // Downsampling: the filter widens by the ratio, rounded up to a multiple of 8.
    length = Math.floor((length * num) / den);
    length = ((length - 1) & ~7) + 8;
  }
  return length;
}

export interface StreamingResamplerOptions {
  fromRate: number;
  toRate: number;
  /** Only mono is supported (planar multi-channel audio: one resampler per channel). */
  channels?: 1;
  /** Speex quality 0 (fast, short filter) .. 10 (best, longest filter). Default 7 (streaming). */
  quality?: number;
}

const MAX_BLOCK_INPUT_SAMPLES = 16384;
/** Float → int16 scale inside the resampler: 1.0 ↦ 16384, leaving 6 dB of headroom (see top). */
const INT16_SCALE = 16384;

function validateRates(fromRate: number, toRate: number): void {
  for (const [name, rate] of [['fromRate', fromRate], ['toRate', toRate]] as const) {
    if (!Number.isInteger(rate) || rate < 1000 || rate > 384000) {
      throw new SvcError('UNSUPPORTED_RATE', `resampler ${name} must be an integer between 1000 and 384000 Hz, got ${rate}`, {
        hint: 'use one of 8000, 16000, 22050, 24000, 32000, 44100, 48000',
      });
    }
  }
}

/**
 * Stateful mono resampler, chunk by chunk: concatenating process() outputs of any chunking of a
 * signal, then flush(), gives exactly the same samples. Output lags input by `delaySamples`.
 * Call `await StreamingResampler.ready()` once before constructing; call dispose() when done.
 */
export class StreamingResampler {
  readonly fromRate: number;
  readonly toRate: number;
  readonly quality: number;
  /** Speex filter length in input samples. */
  readonly filterLengthSamples: number;
  /**
   * Output-rate samples by which output lags input: filt_len/2 input samples converted to the
   * output rate (may be fractional, e.g. 66.15 for 48 kHz → 44.1 kHz at quality 7).
   */
  readonly delaySamples: number;

  private state = 0;
  private inPtr = 0;
  private outPtr = 0;
  private lenPtrs = 0; // two uint32: [inLen, outLen]
  private inCapacity = 0;
  private outCapacity = 0;
  private inputSamplesSeen = 0;
  private outputSamplesMade = 0;
  private disposed = false;
  private readonly passthrough: boolean;

  /** Loads the speex WASM module (once per process). */
  static ready(): Promise<void> {
    return loadSpeex();
  }

  /** ready() + new StreamingResampler(options). */
  static async create(options: StreamingResamplerOptions): Promise<StreamingResampler> {
    await loadSpeex();
    return new StreamingResampler(options);
  }

  constructor(options: StreamingResamplerOptions) {
    const { fromRate, toRate } = options;
    const quality = options.quality ?? 7;
    validateRates(fromRate, toRate);
    if ((options.channels ?? 1) !== 1) {
      throw new SvcError('INVALID_ARGUMENT', `StreamingResampler is mono; got channels=${options.channels}`, { hint: 'use one resampler per channel' });
    }
    if (!Number.isInteger(quality) || quality < 0 || quality > 10) {
      throw new SvcError('INVALID_ARGUMENT', `resampler quality must be an integer 0..10, got ${quality}`);
    }
    if (!speexModule && fromRate !== toRate) {
      throw new SvcError('INTERNAL', 'the speex resampler WASM module is not loaded yet', { hint: 'await StreamingResampler.ready() before constructing' });
    }
    this.fromRate = fromRate;
    this.toRate = toRate;
    this.quality = quality;
    this.passthrough = fromRate === toRate;
    if (this.passthrough) {
      // Equal rates: a copy with no delay and no WASM state (pipelines need not special-case it).
      this.filterLengthSamples = 0;
      this.delaySamples = 0;
      return;
    }
    this.filterLengthSamples = speexFilterLength(fromRate, toRate, quality);
    this.delaySamples = ((this.filterLengthSamples / 2) * toRate) / fromRate;
    this.lenPtrs = speexModule!._malloc(8);
    try {
      this.initState();
    } catch (error) {
      this.dispose();
      throw error;
    }
  }

  private initState(): void {
    const m = speexModule!;
    const errPtr = this.lenPtrs; // reuse as scratch for the error code
    this.state = m._speex_resampler_init(1, this.fromRate, this.toRate, this.quality, errPtr);
    const err = m.HEAPU32[errPtr >> 2]!;
    if (err !== 0 || this.state === 0) {
      const message = m.AsciiToString(m._speex_resampler_strerror(err));
      this.state = 0;
      throw new SvcError('INTERNAL', `speex resampler init failed for ${this.fromRate} → ${this.toRate} Hz: ${message}`);
    }
    // Check our delay model against the real state (struct: in_rate, out_rate, num_rate, den_rate,
    // quality, nb_channels, filt_len ... as uint32 at byte offsets 0..24).
    const realFilterLength = m.HEAPU32[(this.state + 24) >> 2]!;
    if (realFilterLength !== this.filterLengthSamples) {
      throw new SvcError('INTERNAL', `speex filter length ${realFilterLength} differs from the expected ${this.filterLengthSamples}; the speex-resampler build changed`);
    }
    this.inputSamplesSeen = 0;
    this.outputSamplesMade = 0;
  }

  private ensureCapacity(inSamples: number, outSamples: number): void {
    const m = speexModule!;
    if (inSamples > this.inCapacity) {
      if (this.inPtr) m._free(this.inPtr);
      this.inPtr = m._malloc(inSamples * 2);
      this.inCapacity = inSamples;
    }
    if (outSamples > this.outCapacity) {
      if (this.outPtr) m._free(this.outPtr);
      this.outPtr = m._malloc(outSamples * 2);
      this.outCapacity = outSamples;
    }
  }

  /** Resamples the next chunk (any length, including 0); returns the output it makes now. */
  process(input: Float32Array): Float32Array {
    if (this.disposed) throw new SvcError('INTERNAL', 'StreamingResampler used after dispose()');
    if (this.passthrough) return Float32Array.from(input);
    const parts: Float32Array[] = [];
    for (let start = 0; start < input.length; start += MAX_BLOCK_INPUT_SAMPLES) {
      parts.push(this.processBlock(input.subarray(start, Math.min(input.length, start + MAX_BLOCK_INPUT_SAMPLES))));
    }
    return concatFloat32(parts);
  }

  private processBlock(input: Float32Array): Float32Array {
    const m = speexModule!;
    const n = input.length;
    const maxOut = Math.ceil((n * this.toRate) / this.fromRate) + 4;
    this.ensureCapacity(n, maxOut);
    // HEAP views can be replaced when WASM memory grows (malloc above), so read them afterwards.
    const heap16 = m.HEAP16;
    const base = this.inPtr >> 1;
    for (let i = 0; i < n; i++) {
      const v = Math.round(input[i]! * INT16_SCALE);
      heap16[base + i] = v > 32767 ? 32767 : v < -32767 ? -32767 : v || 0; // NaN → 0
    }
    const out = new Float32Array(maxOut * 2);
    let consumed = 0;
    let produced = 0;
    while (consumed < n) {
      const heap32 = m.HEAPU32;
      heap32[this.lenPtrs >> 2] = n - consumed;
      heap32[(this.lenPtrs >> 2) + 1] = this.outCapacity;
      const err = m._speex_resampler_process_interleaved_int(this.state, this.inPtr + consumed * 2, this.lenPtrs, this.outPtr, this.lenPtrs + 4);
      if (err !== 0) throw new SvcError('INTERNAL', `speex resampler failed: ${m.AsciiToString(m._speex_resampler_strerror(err))}`);
      const usedIn = m.HEAPU32[this.lenPtrs >> 2]!;
      const madeOut = m.HEAPU32[(this.lenPtrs >> 2) + 1]!;
      const outHeap = m.HEAP16;
      const outBase = this.outPtr >> 1;
      for (let i = 0; i < madeOut; i++) out[produced + i] = outHeap[outBase + i]! / INT16_SCALE;
      produced += madeOut;
      consumed += usedIn;
      if (usedIn === 0 && madeOut === 0) throw new SvcError('INTERNAL', 'speex resampler made no progress');
    }
    this.inputSamplesSeen += n;
    this.outputSamplesMade += produced;
    return out.slice(0, produced);
  }

  /**
   * Ends the stream: feeds zeros until every output sample whose input time lies within the
   * stream (plus the filter tail) is out, returns that tail, and resets for a new stream.
   * Total output of a stream = ceil((inputSamples + filt_len/2) * toRate / fromRate) (0 for no input).
   */
  flush(): Float32Array {
    if (this.disposed) throw new SvcError('INTERNAL', 'StreamingResampler used after dispose()');
    if (this.passthrough || this.inputSamplesSeen === 0) return new Float32Array(0);
    const target = Math.ceil(((this.inputSamplesSeen + this.filterLengthSamples / 2) * this.toRate) / this.fromRate);
    const parts: Float32Array[] = [];
    let made = this.outputSamplesMade;
    const zeros = new Float32Array(this.filterLengthSamples);
    let guard = 0;
    while (made < target) {
      const part = this.processBlock(zeros);
      parts.push(part);
      made += part.length;
      if (++guard > 1000) throw new SvcError('INTERNAL', 'speex resampler flush did not converge');
    }
    const tail = concatFloat32(parts);
    const keep = tail.length - (made - target);
    // Reset: speexdsp's reset_mem is not exported by this build, so recreate the state.
    speexModule!._speex_resampler_destroy(this.state);
    this.state = 0;
    this.initState();
    return tail.slice(0, Math.max(0, keep));
  }

  /** Frees the speex state and the WASM buffers. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const m = speexModule;
    if (!m) return;
    if (this.state) m._speex_resampler_destroy(this.state);
    if (this.inPtr) m._free(this.inPtr);
    if (this.outPtr) m._free(this.outPtr);
    if (this.lenPtrs) m._free(this.lenPtrs);
    this.state = this.inPtr = this.outPtr = this.lenPtrs = 0;
  }
}

/** Current size of the speex WASM heap in bytes (it only grows; for leak checks in tests). */
export function speexHeapBytes(): number {
  return speexModule ? speexModule.HEAP16.byteLength : 0;
}

export interface ResampleOptions {
  /** Speex quality 0..10; default 10 for offline work (longer filter, better alias rejection). */
  quality?: number;
}

/**
 * Streaming resampling with the filter delay removed: output sample j is the input at time j/toRate s,
 * whatever the chunking. It pre-pads P zeros so that the delay (filt_len/2 + P input samples) is a whole
 * number of output samples ((filt_len/2 + P) a multiple of fromRate/gcd), then drops that many outputs.
 * resample() drains it; so does the So-VITS feature timeline's 16 kHz feed, live and offline alike.
 * Call `await AlignedResampler.ready()` once before constructing.
 */
export class AlignedResampler {
  private readonly resampler: StreamingResampler | null;
  private toDrop: number;
  /** Input samples still inside the filter before an output sample exists (its look-ahead). */
  readonly lookaheadInputSamples: number;

  static ready(): Promise<void> {
    return loadSpeex();
  }

  constructor(readonly fromRate: number, readonly toRate: number, quality: number) {
    validateRates(fromRate, toRate);
    if (fromRate === toRate) {
      this.resampler = null;
      this.toDrop = 0;
      this.lookaheadInputSamples = 0;
      return;
    }
    this.resampler = new StreamingResampler({ fromRate, toRate, quality });
    const step = fromRate / gcd(fromRate, toRate);
    const half = this.resampler.filterLengthSamples / 2;
    const pad = (step - (half % step)) % step;
    this.toDrop = ((half + pad) * toRate) / fromRate; // exact integer
    this.lookaheadInputSamples = Math.ceil(half);
    this.drop(this.resampler.process(new Float32Array(pad)));
  }

  process(chunk: Float32Array): Float32Array {
    if (!this.resampler) return Float32Array.from(chunk);
    return this.drop(this.resampler.process(chunk));
  }

  /** Ends the input: the remaining output (the filter's tail; trim it to the length you need). */
  flush(): Float32Array {
    if (!this.resampler) return new Float32Array(0);
    return this.drop(this.resampler.flush());
  }

  private drop(samples: Float32Array): Float32Array {
    if (this.toDrop <= 0) return samples;
    const cut = Math.min(this.toDrop, samples.length);
    this.toDrop -= cut;
    return samples.subarray(cut).slice();
  }

  dispose(): void {
    this.resampler?.dispose();
  }
}

/** The first `length` samples of process(samples) then flush() (zeros if they fall short). */
export function drainAligned(resampler: AlignedResampler, samples: Float32Array, length: number): Float32Array {
  const out = new Float32Array(length);
  const head = resampler.process(samples);
  out.set(head.subarray(0, length));
  if (head.length < length) {
    const tail = resampler.flush();
    out.set(tail.subarray(0, length - head.length), head.length);
  }
  return out;
}

/**
 * Offline resampling with the delay removed: output length round(n * toRate / fromRate) and output
 * sample k aligned with input time k * fromRate / toRate. Identity (a copy) when the rates match.
 */
export async function resample(samples: Float32Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Promise<Float32Array> {
  validateRates(fromRate, toRate);
  if (fromRate === toRate) return Float32Array.from(samples);
  await loadSpeex();
  const resampler = new AlignedResampler(fromRate, toRate, options.quality ?? 10);
  try {
    return drainAligned(resampler, samples, Math.round((samples.length * toRate) / fromRate));
  } finally {
    resampler.dispose();
  }
}

/** resample() on every channel of planar audio; returns the audio at `toRate` (same object if equal). */
export async function resampleAudio(audio: AudioData, toRate: number, options: ResampleOptions = {}): Promise<AudioData> {
  if (audio.sampleRate === toRate) return audio;
  const channels: Float32Array[] = [];
  for (const channel of audio.channels) channels.push(await resample(channel, audio.sampleRate, toRate, options));
  return { sampleRate: toRate, channels };
}

/** resample() for MonoAudio; returns the input itself when it is already at `toRate`. */
export async function resampleMono(audio: MonoAudio, toRate: number, options: ResampleOptions = {}): Promise<MonoAudio> {
  if (audio.sampleRate === toRate) return audio;
  return { sampleRate: toRate, samples: await resample(audio.samples, audio.sampleRate, toRate, options) };
}
