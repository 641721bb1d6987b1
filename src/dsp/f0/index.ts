// f0 estimation: `estimateF0` for whole signals, `createF0Stream` for live audio (same frames).
// Methods:
//   hybrid (default) SwiftF0 pitch, refined to YIN's (read on the envelope-flattened window) where they
//                    agree within 80 cents; voiced when SwiftF0 confidence ≥ 0.9 and YIN aperiodicity < 0.2
//                    and the level gates pass
//   crepe-hybrid     CREPE tiny pitch; where CREPE and YIN's tracked pitch (pYIN-style Viterbi,
//                    40 ms lag) are one or two octaves apart, YIN's is taken if SwiftF0 sides with it
//                    (CREPE tiny can hold a sustained note an octave low; YIN can jump an octave up in
//                    creaky voice); voiced when CREPE's peak activation ≥ 0.5 and YIN aperiodicity < 0.2
//                    and the level gates pass
//   swift            SwiftF0 pitch and its own confidence (threshold 0.9)
//   crepe            CREPE tiny (ONNX), local weighted-average decoding, peak activation ≥ 0.5
//   dsp              YIN dips (of the envelope-flattened window) as candidates, pYIN-style fixed-lag
//                    Viterbi (40 ms), no model; voiced where the tracker says so, YIN aperiodicity < 0.2
//                    and the level gates pass. The live stream's default (voices/sovits/stage.ts)
//   rmvpe            RVC's RMVPE imported with `svc import-f0` (imported.ts), RVC's decoding
//   fcpe             FCPE imported with `svc import-f0` (torchfcpe's / DDSP-SVC's fcpe.pt), its own decoding
// Level gates of crepe-hybrid/hybrid/dsp: frame level > −60 dBFS, no more than 30 dB below a causal
// peak-hold of the frame level (3 dB/s decay), which drops reverb tails and breaths, and the frame's
// centre no more than 6 dB below its ±16 ms window (voice starting or stopping inside the frame).
// Accuracy (bench f0truth: singing and speech re-synthesised from real recordings with a known f0, 50 cents,
// RPA / VFA, tuning half A and held-out half B): hybrid and dsp (both also streamed live) reach
// RPA ≥ 97.5 % with VFA ≤ 5 % on all four, crepe-hybrid on three (speech A: 97.4 %); swift and crepe miss (VFA 8-20 %). Figures: README, `svc f0 --help`.
// Latency (streaming, after the frame centre, at 44.1 kHz): hybrid/swift/crepe-hybrid (SwiftF0's
// context) ~260 ms exact or ~115 ms with lowLatency; crepe ~40 ms; dsp ~90 ms (~70 ms lowLatency);
// rmvpe and fcpe ~230 ms (~110 ms lowLatency). On a 16 kHz grid of whole 10 ms frames (16 kHz models, hop
// 160·n) no frame waits for a later native frame to interpolate from: dsp lowLatency 60 ms, and
// `trackLagFrames` cuts its Viterbi lag further (10 ms per frame; 1 frame: 50 ms, bench f0truth scores it).
// Frames: floor(n/hop), frame i centred at sample i*hop (so-vits-svc 4.1 convention).
import { F0Stream } from './stream.js';
import type { F0Frame, F0Options, F0Track } from './types.js';

export * from './types.js';
export { F0Stream, validateF0Options, DSP_LOW_LATENCY_TRACK_LAG_FRAMES } from './stream.js';
export { interpolateUnvoiced, unvoicedF0, coarseF0, centsBetween, COARSE_F0_BINS } from './postprocess.js';
export { pitchMetrics, formatMetrics, type PitchMetrics, type TrackLike } from './metrics.js';
export { yinEstimate } from './yin.js';

/** Streaming estimator: `process(chunk)` → frames as their windows complete; `flush()` → the rest. */
export function createF0Stream(sampleRate: number, options: F0Options): Promise<F0Stream> {
  return F0Stream.create(sampleRate, options);
}

/** Collects frames into a track (frames must be consecutive from 0). */
export function framesToTrack(frames: F0Frame[], sampleRate: number, hopSamples: number): F0Track {
  const n = frames.length;
  const track: F0Track = {
    sampleRate,
    hopSamples,
    f0Hz: new Float32Array(n),
    rawF0Hz: new Float32Array(n),
    voiced: new Uint8Array(n),
    confidence: new Float32Array(n),
  };
  frames.forEach((f, i) => {
    track.f0Hz[i] = f.f0Hz;
    track.rawF0Hz[i] = f.rawF0Hz;
    track.voiced[i] = f.voiced ? 1 : 0;
    track.confidence[i] = f.confidence;
  });
  return track;
}

/** f0 of a whole mono signal: floor(n/hop) frames (drains the streaming estimator). */
export async function estimateF0(samples: Float32Array, sampleRate: number, options: F0Options): Promise<F0Track> {
  const stream = await F0Stream.create(sampleRate, options);
  try {
    const frames = await stream.process(samples);
    frames.push(...(await stream.flush()));
    return framesToTrack(frames, sampleRate, options.hopSamples);
  } finally {
    await stream.dispose();
  }
}
