// f0 post-processing as so-vits-svc 4.1 does it before the generator: fill unvoiced gaps, and the
// coarse (256-bin mel-scale) f0 index the pitch embedding takes.

/**
 * f0 the generator takes at an unvoiced frame k, between the previous voiced frame p (f0 prevHz; p < 0:
 * none) and the next voiced frame q (nextHz; q = Infinity: none known), seeing at most `lookaheadFrames`
 * ahead: gaps that close within the look-ahead are interpolated linearly (so-vits-svc / np.interp);
 * a longer gap holds prevHz and glides to nextHz over its last `lookaheadFrames` frames. With an infinite
 * look-ahead this is exactly upstream's interpolation; a live stream uses a finite one (it cannot see
 * further). The one gap rule of svc: interpolateUnvoiced and the So-VITS feature timeline both call it.
 */
export function unvoicedF0(k: number, p: number, prevHz: number, q: number, nextHz: number, lookaheadFrames: number): number {
  const nextVisible = Number.isFinite(q) && q - k <= lookaheadFrames && nextHz > 0;
  if (!nextVisible) return p >= 0 ? prevHz : 0;
  if (!(p >= 0 && prevHz > 0)) return nextHz;
  const s = Math.max(p, q - lookaheadFrames);
  if (k <= s) return prevHz;
  return prevHz + ((nextHz - prevHz) * (k - s)) / (q - s);
}

/**
 * Fills unvoiced frames (unvoicedF0): by default linear interpolation between the voiced neighbours,
 * the edge value held before the first and after the last voiced frame (np.interp semantics).
 * All-unvoiced input yields zeros. Returns a new array.
 */
export function interpolateUnvoiced(f0Hz: Float32Array, voiced: Uint8Array, lookaheadFrames = Infinity): Float32Array {
  const n = f0Hz.length;
  const out = new Float32Array(n);
  const isVoiced = (i: number) => voiced[i] === 1 && f0Hz[i]! > 0;
  // next[i]: first voiced frame ≥ i (Infinity when none).
  const next = new Float64Array(n + 1);
  next[n] = Infinity;
  for (let i = n - 1; i >= 0; i--) next[i] = isVoiced(i) ? i : next[i + 1]!;
  let p = -1;
  for (let i = 0; i < n; i++) {
    if (isVoiced(i)) {
      out[i] = f0Hz[i]!;
      p = i;
      continue;
    }
    const q = next[i]!;
    out[i] = unvoicedF0(i, p, p >= 0 ? f0Hz[p]! : 0, q, Number.isFinite(q) ? f0Hz[q]! : 0, lookaheadFrames);
  }
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
