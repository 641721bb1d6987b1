// The generator's latent noise, shared by the voice families (So-VITS and RVC graphs take a noise input):
// one N(0,1) value per (seed, frame, channel), hashed rather than drawn in sequence, so offline slices and
// streaming windows draw identical noise for the same frame.
import { mix32 } from '../dsp/random.js';

/** N(0,1) value for (seed, frame, channel) (Box–Muller on two hashed uniforms). */
export function frameNoise(seed: number, frame: number, channel: number): number {
  const h1 = mix32(mix32(mix32(seed | 0) ^ (frame | 0)) ^ Math.imul(channel + 1, 0x9e3779b9));
  const h2 = mix32(h1 ^ 0x5bd1e995);
  const u1 = (h1 + 1) / 4294967297; // (0, 1)
  const u2 = h2 / 4294967296;
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** noise [1, channels, frames] · scale for frames [frameOffset, frameOffset + frames). */
export function noiseTensor(seed: number, frameOffset: number, frames: number, channels: number, scale: number): Float32Array {
  const out = new Float32Array(channels * frames);
  for (let c = 0; c < channels; c++) for (let k = 0; k < frames; k++) out[c * frames + k] = frameNoise(seed, frameOffset + k, c) * scale;
  return out;
}
