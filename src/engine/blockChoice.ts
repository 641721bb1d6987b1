// The default block length for a voice, chosen from its measured speed on this machine: the smallest
// candidate block whose compute time (p95 over a few blocks, after a warm-up) leaves a margin to real
// time. A neural voice at 20 ms blocks spends more per block on fixed costs (encoder and generator
// calls) than the block lasts, falls behind, and most of its blocks are then not converted; the same
// voice at 100–200 ms keeps up. Uses the pipeline itself (offline write: nothing dropped), so context
// windows and SOLA are timed as they will run.
import { StreamPipeline } from './pipeline.js';
import type { StageFactory, VoiceParams } from '../voices/stage.js';

export const CANDIDATE_BLOCK_MS = [20, 40, 80, 160, 320] as const;

export interface BlockChoice {
  blockMs: number;
  /** p95 compute per block at each candidate tried, ms (the last one is the chosen block's). */
  measured: Array<{ blockMs: number; computeMsP95: number }>;
  /** False when even the largest candidate is slower than `budget` × the block (the voice cannot keep up here). */
  keepsUp: boolean;
}

/**
 * Times `stageFactory` at growing block lengths until p95 compute ≤ `budget` × block (default 0.6: the
 * rest is headroom for the rest of the machine). `blocks` blocks of quiet noise per candidate, the first
 * two not counted (warm-up: lazy allocations, caches).
 */
export async function chooseBlockMs(
  stageFactory: StageFactory,
  options: { sampleRate: number; voice?: VoiceParams; budget?: number; blocks?: number; candidatesMs?: readonly number[] },
): Promise<BlockChoice> {
  const budget = options.budget ?? 0.6;
  const blocks = options.blocks ?? 6;
  const measured: BlockChoice['measured'] = [];
  for (const blockMs of options.candidatesMs ?? CANDIDATE_BLOCK_MS) {
    const stage = stageFactory({ clientSampleRate: options.sampleRate, voice: options.voice ?? { pitch: 0, formant: 1 } });
    try {
      const blockSamples = Math.round((blockMs * stage.sampleRate) / 1000);
      // Quiet noise rather than zeros: some stages take shortcuts on digital silence.
      const noise = (n: number) => Float32Array.from({ length: n }, () => (Math.random() - 0.5) * 1e-3);
      // Warm-up on a pipeline of its own, so its slow first calls do not count.
      const warmUp = new StreamPipeline(stage, { blockSamples });
      try {
        await warmUp.write(noise(2 * blockSamples));
        await warmUp.drain();
      } finally {
        warmUp.dispose();
      }
      const pipeline = new StreamPipeline(stage, { blockSamples });
      try {
        await pipeline.write(noise(blocks * blockSamples));
        await pipeline.drain();
        const computeMsP95 = pipeline.stats().compute.p95Ms;
        measured.push({ blockMs, computeMsP95 });
        if (computeMsP95 <= budget * blockMs) return { blockMs, measured, keepsUp: true };
      } finally {
        pipeline.dispose();
      }
    } finally {
      stage.dispose();
    }
  }
  return { blockMs: measured.at(-1)!.blockMs, measured, keepsUp: false };
}

/** "computes 20 ms → 31.0 ms, 40 ms → 33.2 ms per block (p95): using 40 ms blocks" — for logs and `svc live`. */
export function describeBlockChoice(choice: BlockChoice): string {
  const timings = choice.measured.map((m) => `${m.blockMs} ms → ${m.computeMsP95.toFixed(1)} ms`).join(', ');
  return `computes ${timings} per block (p95) here: ${choice.keepsUp ? `using ${choice.blockMs} ms blocks` : `too slow even at ${choice.blockMs} ms blocks; expect silenced blocks`}`;
}
