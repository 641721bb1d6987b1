// SOLA (synchronized overlap-add) stitching for stateless converter stages. Each block the stage returns
// output for a whole window (context + block); consecutive windows overlap in time but their waveforms
// need not agree in phase (a neural vocoder starts each window afresh). For every new window we search,
// within ±searchSamples/2 of the nominal position, for the offset whose waveform best matches the tail
// kept from the previous window (normalized cross-correlation), crossfade the two there, and emit exactly
// one block. The emitted stream therefore has a fixed length per block and a time jitter of at most
// searchSamples, in exchange for phase continuity (no clicks, no comb filtering).

/**
 * Offset o in [0, searchSamples] where `candidate[o .. o+reference.length)` best matches `reference`
 * (normalized cross-correlation, ties broken towards `preferredOffset`).
 * Shapes: reference [N], candidate [N + searchSamples].
 */
export function findSolaOffset(reference: Float32Array, candidate: Float32Array, searchSamples: number, preferredOffset = 0): number {
  const n = reference.length;
  if (candidate.length < n + searchSamples) {
    throw new RangeError(`SOLA candidate has ${candidate.length} samples, needs ${n + searchSamples}`);
  }
  if (n === 0 || searchSamples === 0) return 0;
  let referenceEnergy = 0;
  for (let i = 0; i < n; i++) referenceEnergy += reference[i] * reference[i];
  // Running energy of the candidate segment, updated as the segment slides by one sample.
  let candidateEnergy = 0;
  for (let i = 0; i < n; i++) candidateEnergy += candidate[i] * candidate[i];
  const floor = 1e-9 * n;
  if (referenceEnergy < floor) return preferredOffset; // silence: any offset matches, keep the nominal one
  let bestOffset = preferredOffset;
  let bestScore = -Infinity;
  for (let o = 0; o <= searchSamples; o++) {
    if (o > 0) {
      const leaving = candidate[o - 1];
      const entering = candidate[o + n - 1];
      candidateEnergy += entering * entering - leaving * leaving;
    }
    let dot = 0;
    for (let i = 0; i < n; i++) dot += reference[i] * candidate[o + i];
    const score = dot / Math.sqrt(Math.max(candidateEnergy, floor) * referenceEnergy) - (1e-4 * Math.abs(o - preferredOffset)) / Math.max(1, searchSamples);
    if (score > bestScore) {
      bestScore = score;
      bestOffset = o;
    }
  }
  return bestOffset;
}

/** Raised-cosine crossfade written into `out`: out[i] = fadeOut[i]·(1−w[i]) + fadeIn[i]·w[i], w rising 0→1. */
export function crossfadeInto(out: Float32Array, fadeOut: Float32Array, fadeIn: Float32Array): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const w = 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / n);
    out[i] = fadeOut[i] * (1 - w) + fadeIn[i] * w;
  }
}

export interface SolaOptions {
  /** Samples emitted per window. */
  blockSamples: number;
  /** Length of each stage output window (context + block). */
  windowSamples: number;
  crossfadeSamples: number;
  searchSamples: number;
  /** Unreliable samples at the right edge of every window (never emitted). */
  lookaheadSamples: number;
}

/** Context a window needs so that SOLA can work inside it. */
export function solaMinimumContextSamples(options: Pick<SolaOptions, 'crossfadeSamples' | 'searchSamples' | 'lookaheadSamples'>): number {
  return options.crossfadeSamples + options.searchSamples + options.lookaheadSamples;
}

/**
 * Signal delay of the stitched stream, in samples: output sample k answers input sample k − delay
 * (when the stage itself is time-aligned and successive windows agree, the search settles on the centre).
 */
export function solaDelaySamples(options: Pick<SolaOptions, 'crossfadeSamples' | 'searchSamples' | 'lookaheadSamples'>): number {
  return options.lookaheadSamples + options.crossfadeSamples + options.searchSamples - Math.round(options.searchSamples / 2);
}

export class SolaStitcher {
  private readonly nominalStart: number;
  private readonly centreOffset: number;
  /** Reference tail from the previous window, crossfadeSamples long; null before the first window. */
  private tail: Float32Array | null = null;
  private readonly tailBuffer: Float32Array;

  constructor(private readonly options: SolaOptions) {
    const { blockSamples, windowSamples, crossfadeSamples, searchSamples, lookaheadSamples } = options;
    this.nominalStart = windowSamples - lookaheadSamples - crossfadeSamples - searchSamples - blockSamples;
    if (this.nominalStart < 0) {
      throw new RangeError(`SOLA window of ${windowSamples} samples is too short for block ${blockSamples} + crossfade ${crossfadeSamples} + search ${searchSamples} + lookahead ${lookaheadSamples}`);
    }
    if (crossfadeSamples > blockSamples) throw new RangeError(`SOLA crossfade (${crossfadeSamples}) must not exceed the block (${blockSamples})`);
    this.centreOffset = Math.round(searchSamples / 2);
    this.tailBuffer = new Float32Array(crossfadeSamples);
  }

  /** Stitches one stage output window (length windowSamples) and returns the next blockSamples of output. */
  process(window: Float32Array): Float32Array {
    const { blockSamples, windowSamples, crossfadeSamples, searchSamples } = this.options;
    if (window.length !== windowSamples) throw new RangeError(`SOLA expected a ${windowSamples}-sample window, got ${window.length}`);
    const out = new Float32Array(blockSamples);
    let start: number;
    if (this.tail === null) {
      start = this.nominalStart + this.centreOffset;
      out.set(window.subarray(start, start + blockSamples));
    } else {
      const region = window.subarray(this.nominalStart, this.nominalStart + crossfadeSamples + searchSamples);
      start = this.nominalStart + findSolaOffset(this.tail, region, searchSamples, this.centreOffset);
      crossfadeInto(out.subarray(0, crossfadeSamples), this.tail, window.subarray(start, start + crossfadeSamples));
      out.set(window.subarray(start + crossfadeSamples, start + blockSamples), crossfadeSamples);
    }
    this.tailBuffer.set(window.subarray(start + blockSamples, start + blockSamples + crossfadeSamples));
    this.tail = this.tailBuffer;
    return out;
  }

  reset(): void {
    this.tail = null;
  }
}
