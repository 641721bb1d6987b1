// Shared f0 types. Frame convention (so-vits-svc 4.1): a track for n samples at hop h has
// floor(n / h) frames and frame i is centred at sample i*h, i.e. time i*h/sampleRate.
// (so-vits-svc computes p_len = len(wav) // hop_length and resizes every predictor's f0 to it.)

export type F0Method = 'swift' | 'crepe' | 'dsp' | 'hybrid' | 'crepe-hybrid';
export const F0_METHODS: readonly F0Method[] = ['hybrid', 'swift', 'crepe', 'dsp', 'crepe-hybrid'];
/**
 * Methods that run a pitch network the user imported with `svc import-f0` (src/dsp/f0/imported.ts):
 * RVC's RMVPE and FCPE (torchfcpe's and DDSP-SVC's fcpe.pt).
 */
export type ImportedF0Method = 'rmvpe' | 'fcpe';
/** Any method an f0 option takes: the shipped ones (F0_METHODS) and the imported ones. */
export type F0Choice = F0Method | ImportedF0Method;
export const F0_CHOICES: readonly F0Choice[] = [...F0_METHODS, 'rmvpe', 'fcpe'];
/**
 * The default method for files, preprocessing and analysis (the live stream's is dsp: voices/sovits/stage.ts,
 * ~70 ms look-ahead against hybrid's ~115 ms). Both meet RPA ≥ 97.5 % with VFA ≤ 5 % on re-synthesised singing
 * and speech, tuning and held-out halves (bench f0truth). crepe-hybrid meets it on three of the four halves (speech A: 97.4 %) and scores
 * highest on held-out speech, but as the default it moved test/offline-e2e.test.ts's hybrid-scored pitch check on VCTK p225
 * (creaky frames where CREPE and YIN read 2x SwiftF0) and costs a CREPE run per 10 ms.
 */
export const DEFAULT_F0_METHOD: F0Method = 'hybrid';

export interface F0Track {
  sampleRate: number;
  hopSamples: number;
  /** f0 per frame in Hz, 0 where unvoiced. */
  f0Hz: Float32Array;
  /** The estimate even where unvoiced (0 only where the method has no estimate at all). */
  rawF0Hz: Float32Array;
  /** 1 where voiced. */
  voiced: Uint8Array;
  /** 0..1, the method's belief that the frame is voiced. */
  confidence: Float32Array;
}

export interface F0Frame {
  /** Frame index i: centred at i*hopSamples input samples. */
  index: number;
  timeSeconds: number;
  f0Hz: number;
  rawF0Hz: number;
  voiced: boolean;
  confidence: number;
  /** YIN aperiodicity at this frame (0 periodic .. 1 noise), where the method computed it. */
  aperiodicity?: number;
  /** Frame level in dBFS (±16 ms around the centre at 16 kHz), where the method computed it. */
  levelDb?: number;
  /** The model's own confidence before the voicing decision (hybrid: SwiftF0's). */
  modelConfidence?: number;
}

export interface F0Options {
  method?: F0Choice;
  /** Output hop in input samples (so-vits-svc: 512 at 44.1 kHz). */
  hopSamples: number;
  /** Lowest f0 reported as voiced, Hz. Default 50. */
  fMinHz?: number;
  /** Highest f0 reported as voiced, Hz. Default 1100. */
  fMaxHz?: number;
  /** ONNX intra-op threads per session (models only). Default 1 for SwiftF0, 2 for CREPE. */
  threads?: number;
  /**
   * Live use: shorter look-ahead. swift/hybrid stream SwiftF0 with 3 frames of look-ahead instead
   * of 10 (latency ~115 ms instead of ~260 ms at 44.1 kHz; streamed frames then differ slightly
   * from file output), dsp decodes with a 2-frame Viterbi lag instead of 4. crepe is unaffected.
   * File analysis (estimateF0 on a whole signal) gives the same frames either way. Default false.
   */
  lowLatency?: boolean;
  /**
   * dsp (and crepe-hybrid's YIN track): the Viterbi's fixed lag in 10 ms frames (0..8), overriding lowLatency's 2 (file: 4). Each frame
   * less is 10 ms less latency and a decision made on less of the future (bench f0truth scores the modes).
   */
  trackLagFrames?: number;
  /**
   * The caller resamples to 16 kHz itself and feeds the stream with processResampled()/flush(tail):
   * one 16 kHz feed for f0 and whatever else needs it (the So-VITS timeline's encoder feed). Its samples
   * must sit at input time j/16000 s (delay removed); `lookaheadInputSamples` is its own look-ahead, in
   * input samples, counted in latencySamples. Absent: the stream's own Kaiser resampler (resample16k.ts).
   */
  feed16k?: { lookaheadInputSamples: number };
}

export const DEFAULT_F_MIN_HZ = 50;
export const DEFAULT_F_MAX_HZ = 1100;

/** A per-frame estimate on a method's own grid at 16 kHz. */
export interface NativeFrame {
  /** Raw f0 estimate in Hz (0 if none). */
  f0Hz: number;
  /** 0..1 voicing belief of the method. */
  confidence: number;
  /** Extra evidence used by the hybrid voicing decision. */
  aperiodicity?: number;
  rmsDb?: number;
  /** Level at the frame centre (±5 ms, or ± half a period) minus the ±16 ms level, dB: far below 0 where voice starts or stops inside the frame. */
  centreDropDb?: number;
  /** A tracker's own voicing decision (pYIN-style dsp), when it made one. */
  voiced?: boolean;
}

/** Streaming estimator contract shared by every method. */
export interface F0StreamLike {
  /** Fixed delay between the input and the emission of a frame, in input samples (beyond its centre). */
  readonly latencySamples: number;
  /** Feeds samples; resolves the frames whose analysis windows are now complete. */
  process(chunk: Float32Array): Promise<F0Frame[]>;
  /** Ends the stream (zero padding at the end); resolves the remaining floor(n/hop) frames. */
  flush(): Promise<F0Frame[]>;
  dispose(): Promise<void>;
}
