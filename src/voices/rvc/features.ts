// The per-frame math of RVC's inference (infer/modules/vc/pipeline.py), as pure functions on typed arrays:
//   - frames: 100 per second (hop 160 at 16 kHz; the generator makes sampling_rate / 100 samples each);
//   - content: one 20 ms encoder row per two frames (F.interpolate(scale_factor=2), nearest = repeat);
//   - pitch: f0 in Hz (pitchf) and its coarse bin 1..255 on the mel scale between 50 and 1100 Hz (pitch);
//   - protect: in unvoiced frames, content is `protect` parts retrieved/blended features and 1 − protect
//     parts the encoder's own (protects consonants and breaths from the index); off at protect ≥ 0.5;
//   - rms_mix_rate: output loudness envelope moved towards the input's: out *= rms_in^(1−r) · rms_out^(r−1).

export const RVC_FRAME_RATE = 100;
/** Frames per encoder row (20 ms rows, 10 ms frames). */
export const RVC_FRAMES_PER_ROW = 2;
/** RVC's prior noise scale: z_p = m_p + exp(logs_p) · N(0,1) · 0.66666. */
export const RVC_NOISE_SCALE = 0.66666;
/** RVC WebUI's defaults. */
export const DEFAULT_INDEX_RATE = 0.75;
export const DEFAULT_PROTECT = 0.33;
export const DEFAULT_RMS_MIX_RATE = 0.25;

const F0_MIN_HZ = 50;
const F0_MAX_HZ = 1100;
const MEL_MIN = 1127 * Math.log(1 + F0_MIN_HZ / 700);
const MEL_MAX = 1127 * Math.log(1 + F0_MAX_HZ / 700);

/** numpy's rint: round half to even. */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** RVC's coarse pitch (pipeline.get_f0): Hz → bin 1..255; unvoiced (0 Hz) and ≤ 50 Hz → 1. */
export function rvcCoarsePitch(f0Hz: ArrayLike<number>): BigInt64Array {
  const out = new BigInt64Array(f0Hz.length);
  for (let i = 0; i < f0Hz.length; i++) {
    let mel = 1127 * Math.log(1 + f0Hz[i]! / 700);
    if (mel > 0) mel = ((mel - MEL_MIN) * 254) / (MEL_MAX - MEL_MIN) + 1;
    if (mel <= 1) mel = 1;
    if (mel > 255) mel = 255;
    out[i] = BigInt(rint(mel));
  }
  return out;
}

/** 20 ms rows [rows, dim] → 10 ms frames [frames, dim], each row repeated twice, cut or edge-padded to `frames`. */
export function rowsToFrames(rows: Float32Array, dim: number, frames: number): Float32Array {
  const nRows = Math.floor(rows.length / dim);
  const out = new Float32Array(frames * dim);
  if (nRows === 0) return out;
  for (let f = 0; f < frames; f++) {
    const r = Math.min(nRows - 1, Math.floor(f / RVC_FRAMES_PER_ROW));
    out.set(rows.subarray(r * dim, (r + 1) * dim), f * dim);
  }
  return out;
}

/**
 * RVC's protect, in place on `frames` (the blended features) given `original` (the encoder's own,
 * same layout): voiced frames keep the blend; unvoiced frames (f0 = 0) take
 * protect · blend + (1 − protect) · original. No effect at protect ≥ 0.5 (as RVC).
 */
export function applyProtect(frames: Float32Array, original: Float32Array, f0Hz: ArrayLike<number>, dim: number, protect: number): void {
  if (protect >= 0.5) return;
  const n = Math.min(f0Hz.length, Math.floor(frames.length / dim));
  for (let f = 0; f < n; f++) {
    // RVC: pitchff = 1 where f0 > 0, protect where f0 < 1.
    const w = f0Hz[f]! > 0 ? 1 : f0Hz[f]! < 1 ? protect : 1;
    if (w === 1) continue;
    const o = f * dim;
    for (let i = 0; i < dim; i++) frames[o + i] = frames[o + i]! * w + original[o + i]! * (1 - w);
  }
}

/** Index into [0, n) with reflection at the ends (numpy pad mode 'reflect'). */
function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

/**
 * RMS per frame as librosa.feature.rms (0.9, RVC's pinned version) computes it: centred frames, the
 * signal reflect-padded by frame/2, frame k covers [k·hop − frame/2, k·hop + frame/2).
 * Returns floor(n / hop) + 1 values.
 */
export function rmsFrames(samples: Float32Array, frameSamples: number, hopSamples: number): Float32Array {
  const n = samples.length;
  const count = Math.floor(n / hopSamples) + 1;
  const out = new Float32Array(count);
  const half = Math.floor(frameSamples / 2);
  for (let k = 0; k < count; k++) {
    let sum = 0;
    const from = k * hopSamples - half;
    for (let i = from; i < from + frameSamples; i++) {
      const v = i >= 0 && i < n ? samples[i]! : n > 0 ? samples[reflectIndex(i, n)]! : 0;
      sum += v * v;
    }
    out[k] = Math.sqrt(sum / frameSamples);
  }
  return out;
}

/** torch F.interpolate(mode='linear', align_corners=False) of a 1-D envelope to `size` points. */
export function interpolateLinear(values: Float32Array, size: number): Float32Array {
  const out = new Float32Array(size);
  const n = values.length;
  if (n === 0) return out;
  const scale = n / size;
  for (let i = 0; i < size; i++) {
    const x = Math.max(0, (i + 0.5) * scale - 0.5);
    const i0 = Math.min(n - 1, Math.floor(x));
    const i1 = Math.min(n - 1, i0 + 1);
    const t = x - i0;
    out[i] = values[i0]! * (1 - t) + values[i1]! * t;
  }
  return out;
}

/**
 * RVC's change_rms, in place on `output`: with rate r, output *= rms_in^(1−r) · max(rms_out, 1e-6)^(r−1),
 * envelopes from `frameSeconds` frames (RVC offline: 1 s frames, 0.5 s hop; its realtime GUI uses 40 ms /
 * 10 ms) interpolated to every output sample. r = 1 leaves the output as the model made it.
 */
export function mixRms(input: Float32Array, inputRate: number, output: Float32Array, outputRate: number, rate: number, frameSeconds = 1, hopSeconds = 0.5): void {
  if (rate >= 1 || output.length === 0) return;
  const frameIn = Math.max(2, 2 * Math.floor((inputRate * frameSeconds) / 2));
  const frameOut = Math.max(2, 2 * Math.floor((outputRate * frameSeconds) / 2));
  const rmsIn = interpolateLinear(rmsFrames(input, frameIn, Math.max(1, Math.floor(inputRate * hopSeconds))), output.length);
  const rmsOut = interpolateLinear(rmsFrames(output, frameOut, Math.max(1, Math.floor(outputRate * hopSeconds))), output.length);
  for (let i = 0; i < output.length; i++) {
    output[i] = output[i]! * Math.pow(rmsIn[i]!, 1 - rate) * Math.pow(Math.max(rmsOut[i]!, 1e-6), rate - 1);
  }
}
