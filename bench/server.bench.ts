// Server load (issue 16): real-time DSP sessions (48 kHz, 20 ms blocks, built-in voice) against one
// `svc serve` process using the whole machine (not pinned), from real WebSocket clients in this process,
// with the voice on the main thread and on one worker thread per core (--dsp-workers), side by side.
// Steps up the session count and prints, per step, the late-block share the server itself measured
// (svc_late_blocks_total / blocks output: a block is late when it leaves more than one block length after
// the input that completed it arrived) and the sessions held: late share < 1 % and no block handed to the
// behind-real-time policy. Goal: ≥ 80 sessions on a 2-core machine.
import { availableParallelism, loadavg } from 'node:os';
import type { BenchContext, BenchRow } from './lib.js';
import { runLoad, speechFrames48k, startChildServer, type LoadResult } from './stream.bench.js';

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // The machine's own load (1, 5, 15 min averages, as `uptime` prints them): on a shared machine the
  // sessions held say as much about the neighbours as about the server.
  const load = () => `host load average ${loadavg().map((x) => x.toFixed(1)).join(', ')} on ${availableParallelism()} cores`;
  ctx.log(`server: before the run: ${load()}`);
  const frames = await speechFrames48k(ctx);
  const seconds = ctx.quick ? 3 : 8;
  const steps = ctx.quick ? [10, 20] : [10, 20, 40, 60, 80, 100, 120, 140];
  // Side by side: the voice on the main thread, and on one worker thread per core (--dsp-workers).
  for (const workers of [0, availableParallelism()]) {
    const label = workers === 0 ? 'main thread' : `--dsp-workers auto = ${workers} threads`;
    const server = await startChildServer(['--max-sessions', '1000', '--max-queue-ms', '200', '--dsp-workers', workers === 0 ? '0' : 'auto'], { pin: false });
    try {
      let held: LoadResult | null = null;
      /** Server CPU seconds per block output, from the last step run (a cost, so a busy machine inflates it little). */
      let cpuPerBlockS = 0;
      for (const count of steps) {
        ctx.log(`server: ${label}: ${count} real-time sessions for ${seconds} s`);
        const result = await runLoad(server.url, count, seconds, frames);
        const share = result.blocks > 0 ? result.lateBlocks / result.blocks : 1;
        const ok = share < 0.01 && result.policyBlocks === 0;
        ctx.log(`server:   ${count} sessions ${ok ? 'held' : 'not held'}: late share ${((share * 100).toFixed(2))} % (${result.lateBlocks}/${result.blocks}) policy=${result.policyBlocks} cpu=${result.cpuCores.toFixed(2)} cores clientLate=${result.clientLateMs.toFixed(1)} ms; ${load()}`);
        rows.push({
          group: 'server',
          name: `late-block share at ${count} sessions (${label})`,
          value: Math.round(share * 10000) / 100,
          unit: '%',
          note: `${result.lateBlocks} of ${result.blocks} blocks late, ${result.policyBlocks} handled by policy; server CPU ${result.cpuCores.toFixed(2)} cores; ${ok ? 'held' : 'not held'}; ${load()}`,
        });
        if (result.blocks > 0) cpuPerBlockS = (result.cpuCores * seconds) / result.blocks;
        if (ok) held = result;
        else break;
      }
      // What the server's CPU cost per block allows on this machine's cores if it had them to itself: an
      // upper bound that a shared machine can still measure (the clients' own CPU and contention not counted).
      const cores = availableParallelism();
      rows.push({
        group: 'server',
        name: `CPU-bound estimate of sessions on ${cores} cores (${label})`,
        value: cpuPerBlockS > 0 ? Math.floor(cores / (cpuPerBlockS * 50)) : 0,
        unit: 'sessions',
        note: `server CPU ${(cpuPerBlockS * 1000).toFixed(3)} ms per 20 ms block output (last step run), × 50 blocks/s per session; an upper bound (blocks the policy handled cost less); ${load()}`,
      });
      rows.push({
        group: 'server',
        name: `real-time sessions held, whole machine (${label}; late share < 1 %)`,
        value: held?.sessions ?? 0,
        unit: 'sessions',
        note: `built-in voice, 48 kHz, 20 ms blocks; one svc serve process, not pinned; ${load()}; higher is better; goal ≥ 80 on 2 cores`,
      });
    } finally {
      await server.stop();
    }
  }
  return rows;
}
