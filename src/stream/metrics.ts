// Prometheus text exposition (format 0.0.4) for GET /metrics: a tiny writer that groups samples by
// metric family with HELP/TYPE lines and escapes label values, plus the process figures every scrape
// carries (resident memory, heap, CPU seconds, event-loop lag).
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export type MetricType = 'gauge' | 'counter';

interface Family {
  help: string;
  type: MetricType;
  samples: string[];
}

export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

export class MetricsWriter {
  private readonly families = new Map<string, Family>();

  /** Adds one sample; the first call for a name fixes its HELP and TYPE. */
  add(name: string, type: MetricType, help: string, value: number, labels: Record<string, string> = {}): void {
    let family = this.families.get(name);
    if (!family) {
      family = { help, type, samples: [] };
      this.families.set(name, family);
    }
    const labelText = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
      .join(',');
    family.samples.push(`${name}${labelText ? `{${labelText}}` : ''} ${formatValue(value)}`);
  }

  /** Declares a family that may have no samples now (so scrapers always see it). */
  declare(name: string, type: MetricType, help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: [] });
  }

  toString(): string {
    const lines: string[] = [];
    for (const [name, family] of this.families) {
      lines.push(`# HELP ${name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
      lines.push(`# TYPE ${name} ${family.type}`);
      lines.push(...family.samples);
    }
    return `${lines.join('\n')}\n`;
  }
}

/** Process-wide figures; owns an event-loop delay histogram (reset at every scrape). */
export class ProcessMetrics {
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });

  constructor() {
    this.loopDelay.enable();
  }

  write(writer: MetricsWriter): void {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    writer.add('process_resident_memory_bytes', 'gauge', 'Resident set size of the server process in bytes.', memory.rss);
    writer.add('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.', memory.heapUsed);
    writer.add('nodejs_external_memory_bytes', 'gauge', 'Memory held outside the V8 heap (buffers, WASM), in bytes.', memory.external + memory.arrayBuffers);
    writer.add('process_cpu_seconds_total', 'counter', 'User plus system CPU time of the server process, in seconds.', (cpu.user + cpu.system) / 1e6);
    writer.add('process_cpu_user_seconds_total', 'counter', 'User CPU time of the server process, in seconds.', cpu.user / 1e6);
    writer.add('process_cpu_system_seconds_total', 'counter', 'System CPU time of the server process, in seconds.', cpu.system / 1e6);
    writer.add('process_uptime_seconds', 'gauge', 'Seconds since the server process started.', process.uptime());
    // Event-loop lag since the previous scrape: how late timers fire (what delays every session).
    const h = this.loopDelay;
    const hasData = h.count > 0;
    writer.add('nodejs_eventloop_lag_seconds', 'gauge', 'Event-loop delay since the previous scrape, by statistic, in seconds.', hasData ? h.mean / 1e9 : 0, { stat: 'mean' });
    writer.add('nodejs_eventloop_lag_seconds', 'gauge', 'Event-loop delay since the previous scrape, by statistic, in seconds.', hasData ? h.percentile(99) / 1e9 : 0, { stat: 'p99' });
    writer.add('nodejs_eventloop_lag_seconds', 'gauge', 'Event-loop delay since the previous scrape, by statistic, in seconds.', hasData ? h.max / 1e9 : 0, { stat: 'max' });
    h.reset();
  }

  dispose(): void {
    this.loopDelay.disable();
  }
}
