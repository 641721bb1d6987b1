// The one PCM16 convention of svc (files, the wire protocol, the web client, Python's WAV writer):
// decode int16 / 32768, encode x × 32768 rounded and clipped to [-32768, 32767], NaN → 0. So
// decode → encode is the identity on every int16 value, and full scale ±1.0 maps to -32768 / 32767.

/** int16 sample → float in [-1, 1). */
export const PCM16_SCALE = 32768;

/** Float sample → int16 (rounded, clipped, NaN → 0). */
export function floatToPcm16(x: number): number {
  const v = Math.round(x * PCM16_SCALE);
  if (v > 32767) return 32767;
  if (v >= -32768) return v;
  return Number.isNaN(v) ? 0 : -32768; // NaN → 0; -Infinity and anything below → min
}

/** int16 sample → float. */
export function pcm16ToFloat(v: number): number {
  return v / PCM16_SCALE;
}
