// Offline generation in overlapping slices: a whole file's frames are generated `slice` frames at a time,
// each run with `context` frames on both sides, and consecutive runs are crossfaded (raised cosine) over
// `fade` frames around their boundary. Bounded memory and generator size for any file length; the voice
// families' offline converters (So-VITS, RVC) share it.

/** Raised-cosine weight rising 0 → 1 over n samples, at sample i. */
export function fadeIn(i: number, n: number): number {
  return 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / n);
}

export interface SliceShape {
  /** Frames to generate in all. */
  frames: number;
  /** Samples per frame. */
  hopSamples: number;
  /** Frames kept from each run. */
  sliceFrames: number;
  /** Frames run on each side of a slice. */
  contextFrames: number;
  /** Frames crossfaded at each boundary (≤ contextFrames). */
  fadeFrames: number;
}

/**
 * Runs `generate(runFrom, runTo)` (→ (runTo − runFrom)·hop samples) slice by slice, in order, and joins
 * the runs: frames·hop samples.
 */
export async function generateInSlices(
  shape: SliceShape,
  generate: (runFrom: number, runTo: number) => Promise<Float32Array>,
  onProgress?: (done: number, total: number) => void,
): Promise<Float32Array> {
  const { frames, hopSamples: hop, sliceFrames: slice, contextFrames: context, fadeFrames: fade } = shape;
  const out = new Float32Array(frames * hop);
  for (let from = 0; from < frames; from += slice) {
    const to = Math.min(frames, from + slice);
    const runFrom = Math.max(0, from - context);
    const runTo = Math.min(frames, to + context);
    const audio = await generate(runFrom, runTo);
    // Keep [from − fade/2, to + fade/2) of this run; crossfade the overlap with the previous slice.
    const keepFrom = from === 0 ? 0 : (from - Math.floor(fade / 2)) * hop;
    const keepTo = to === frames ? frames * hop : (to + Math.ceil(fade / 2)) * hop;
    const fadeSamples = fade * hop;
    for (let s = keepFrom; s < keepTo; s++) {
      const v = audio[s - runFrom * hop] ?? 0;
      if (from > 0 && s < keepFrom + fadeSamples) {
        const w = fadeIn(s - keepFrom, fadeSamples);
        out[s] = out[s]! * (1 - w) + v * w;
      } else out[s] = v;
    }
    onProgress?.(to, frames);
  }
  return out;
}
