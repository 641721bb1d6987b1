// f0 post-processing as so-vits-svc 4.1 does it before the generator: fill unvoiced gaps, and the
// coarse (256-bin mel-scale) f0 index the pitch embedding takes.

/**
 * Fills unvoiced frames by linear interpolation between the voiced neighbours; before the first
 * and after the last voiced frame the edge value is held (np.interp semantics). All-unvoiced
 * input yields zeros. Returns a new array.
 */
export function interpolateUnvoiced(f0Hz: Float32Array, voiced: Uint8Array): Float32Array {
  const n = f0Hz.length;
  const out = new Float32Array(n);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    if (!voiced[i] || !(f0Hz[i]! > 0)) continue;
    out[i] = f0Hz[i]!;
    if (prev < 0) out.fill(f0Hz[i]!, 0, i);
    else if (i - prev > 1) {
      const a = f0Hz[prev]!;
      const b = f0Hz[i]!;
      for (let k = prev + 1; k < i; k++) out[k] = a + ((b - a) * (k - prev)) / (i - prev);
    }
    prev = i;
  }
  if (prev >= 0) out.fill(f0Hz[prev]!, prev + 1);
  return out;
}

export const COARSE_F0_BINS = 256;
export const COARSE_F0_MIN_HZ = 50;
export const COARSE_F0_MAX_HZ = 1100;
const melOf = (hz: number) => 1127 * Math.log(1 + hz / 700);
const MEL_MIN = melOf(COARSE_F0_MIN_HZ);
const MEL_MAX = melOf(COARSE_F0_MAX_HZ);

/** Round half to even, as torch.round does. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * so-vits-svc's f0_to_coarse: mel = 1127·ln(1+f/700); voiced mel is mapped linearly so that
 * 50 Hz → 1 and 1100 Hz → 255, rounded (half to even), clamped to 1..255; 0 Hz (unvoiced) → 1.
 */
export function coarseF0(f0Hz: Float32Array): Int32Array {
  const a = (COARSE_F0_BINS - 2) / (MEL_MAX - MEL_MIN);
  const b = MEL_MIN * a - 1;
  const out = new Int32Array(f0Hz.length);
  for (let i = 0; i < f0Hz.length; i++) {
    let mel = melOf(f0Hz[i]!);
    if (mel > 0) mel = mel * a - b;
    let c = roundHalfEven(mel);
    if (!(c > 0)) c = 0;
    if (c < 1) c = 1;
    if (c >= COARSE_F0_BINS) c = COARSE_F0_BINS - 1;
    out[i] = c;
  }
  return out;
}

/** Cents between two frequencies (b relative to a). */
export function centsBetween(aHz: number, bHz: number): number {
  return 1200 * Math.log2(bHz / aHz);
}
