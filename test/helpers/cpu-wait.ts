// How much of a span runnable tasks waited for a CPU: the kernel's pressure stall information
// (/proc/pressure/cpu, line "some": total = µs during which at least one runnable task waited), read at
// the start and the end. Unlike the load average, which trails by a minute, it covers exactly the span
// measured, so a test can tell a machine that other work kept busy from its own code going wrong.
// On this 2-core machine during one `svc live` latency run (bench/live-latency.ts, 2026-12-07): alone,
// 0.10 of the time; beside one busy loop 0.15–0.16; beside two 0.37–0.40 (the load average then read
// 0.6–2.4, still rising).
import { readFileSync } from 'node:fs';

function someStallMicros(): number | null {
  try {
    const match = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    return match ? Number(match[1]) : null;
  } catch {
    return null; // a kernel without PSI, or a container that hides it
  }
}

/** Starts measuring; `share()` is the share of wall time since then that some task waited for a CPU, or null where the kernel does not say. */
export function cpuWaitMeter(): { share(): number | null } {
  const startMicros = someStallMicros();
  const startMs = performance.now();
  return {
    share(): number | null {
      const nowMicros = someStallMicros();
      const elapsedMs = performance.now() - startMs;
      if (startMicros === null || nowMicros === null || elapsedMs <= 0) return null;
      return (nowMicros - startMicros) / 1000 / elapsedMs;
    },
  };
}
