// The server's Prometheus metrics on prom-client (a registry per server, so several servers in one process
// stay apart): Node's default process figures, server-wide histograms of block compute time and
// end-to-end latency, dropped/dry/late counters by reason and model load times — kept after sessions
// end — and per-session gauges read from the sessions at scrape time. Per-session series carry a public
// tag of the session id (never the id itself: the id is what a listener needs to follow a session).
import { createHash } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BlockTiming, ConvertSession } from '../stream/session.js';

/** The label /metrics uses for a session: a hash of its id, stable, that does not let anyone listen. */
export function sessionTag(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('hex').slice(0, 12);
}

/** Why audio was not converted or not delivered (`svc_dropped_total{reason}`). */
export type DropReason = 'policy_skip' | 'policy_dry' | 'policy_silence' | 'queue_overflow' | 'frame_rejected' | 'rate_limited' | 'output_backpressure';

export interface MetricsSource {
  sessions(): Iterable<{ session: ConvertSession; listeners: number }>;
  counts(): { convert: number; listen: number; pending: number };
  maxSessions: number;
  policy: string;
}

interface PolicySnapshot {
  skip: number;
  dry: number;
  silence: number;
  overflowMs: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly contentType = this.registry.contentType;
  private readonly connections: Counter<string>;
  private readonly upgradesRejected: Counter<'reason'>;
  private readonly errors: Counter<'code'>;
  private readonly blockCompute: Histogram<string>;
  private readonly blockLatency: Histogram<string>;
  private readonly lateBlocks: Counter<string>;
  private readonly dropped: Counter<'reason'>;
  private readonly modelLoad: Histogram<'outcome'>;
  /** Policy counts already added to svc_dropped_total, per live session. */
  private readonly reported = new WeakMap<ConvertSession, PolicySnapshot>();

  constructor(private readonly source: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const self = this;
    new Gauge({
      name: 'svc_sessions',
      help: 'Open sessions by role.',
      labelNames: ['role'],
      registers,
      collect() {
        const c = source.counts();
        this.set({ role: 'convert' }, c.convert);
        this.set({ role: 'listen' }, c.listen);
      },
    });
    new Gauge({ name: 'svc_pending_connections', help: 'WebSocket connections that have not sent hello yet.', registers, collect() { this.set(source.counts().pending); } });
    new Gauge({ name: 'svc_max_sessions', help: 'Configured session limit.', registers, collect() { this.set(source.maxSessions); } });
    this.connections = new Counter({ name: 'svc_connections_total', help: 'WebSocket connections accepted since start.', registers });
    this.upgradesRejected = new Counter({ name: 'svc_upgrades_rejected_total', help: 'WebSocket upgrades or connections refused, by reason.', labelNames: ['reason'], registers });
    this.errors = new Counter({ name: 'svc_errors_total', help: 'Error messages sent to clients, by code.', labelNames: ['code'], registers });
    this.blockCompute = new Histogram({
      name: 'svc_block_compute_seconds',
      help: 'Stage compute time per converted block, all sessions, in seconds.',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5],
      registers,
    });
    this.blockLatency = new Histogram({
      name: 'svc_block_latency_seconds',
      help: 'End-to-end latency per block: algorithmic latency plus the wait from the arrival of the input that completed the block to its output, in seconds.',
      buckets: [0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2],
      registers,
    });
    this.lateBlocks = new Counter({ name: 'svc_late_blocks_total', help: 'Blocks output more than one block length after the input that completed them arrived.', registers });
    this.dropped = new Counter({
      name: 'svc_dropped_total',
      help: 'Audio not converted or not delivered, by reason: policy_skip/policy_dry/policy_silence (blocks the behind-real-time policy handled), queue_overflow (input blocks discarded), frame_rejected, rate_limited (client frames), output_backpressure (output frames a slow client did not read).',
      labelNames: ['reason'],
      registers,
      async collect() {
        for (const { session } of source.sessions()) self.reportPolicy(session);
      },
    });
    this.modelLoad = new Histogram({
      name: 'svc_model_load_seconds',
      help: 'Time to resolve a client\'s model switch (load, checks and warm-up on first use; cached afterwards), by outcome.',
      labelNames: ['outcome'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.sessionGauges(registers);
  }

  connectionAccepted(): void {
    this.connections.inc();
  }
  upgradeRejected(reason: string): void {
    this.upgradesRejected.inc({ reason });
  }
  errorSent(code: string): void {
    this.errors.inc({ code });
  }
  drop(reason: DropReason, count = 1): void {
    this.dropped.inc({ reason }, count);
  }
  modelLoaded(seconds: number, outcome: 'ok' | 'error'): void {
    this.modelLoad.observe({ outcome }, seconds);
  }

  /** Per-block timings from a session (SessionOptions.onBlock). */
  block(timing: BlockTiming): void {
    for (let i = 0; i < timing.computed; i++) this.blockCompute.observe(timing.computeMs / 1000);
    this.blockLatency.observe((timing.algorithmicMs + timing.waitMs) / 1000);
    if (timing.waitMs > timing.blockMs) this.lateBlocks.inc();
  }

  /** Adds what the session's policy did since the last report (call once more when it ends). */
  reportPolicy(session: ConvertSession): void {
    const s = session.stats('', 0).dropped;
    const now: PolicySnapshot = { skip: s.skippedBlocks, dry: s.dryBlocks, silence: s.silencedBlocks, overflowMs: s.overflowMs };
    const before = this.reported.get(session) ?? { skip: 0, dry: 0, silence: 0, overflowMs: 0 };
    if (now.skip > before.skip) this.dropped.inc({ reason: 'policy_skip' }, now.skip - before.skip);
    if (now.dry > before.dry) this.dropped.inc({ reason: 'policy_dry' }, now.dry - before.dry);
    if (now.silence > before.silence) this.dropped.inc({ reason: 'policy_silence' }, now.silence - before.silence);
    const blockMs = session.blockMs;
    const overflowBlocks = Math.floor(now.overflowMs / blockMs) - Math.floor(before.overflowMs / blockMs);
    if (overflowBlocks > 0) this.dropped.inc({ reason: 'queue_overflow' }, overflowBlocks);
    this.reported.set(session, now);
  }

  /** The exposition text (Prometheus format 0.0.4), without the blank lines prom-client puts between families. */
  async text(): Promise<string> {
    return (await this.registry.metrics()).replace(/\n{2,}/g, '\n');
  }

  dispose(): void {
    this.registry.clear();
  }

  /** svc_session_* families, read from the live sessions at each scrape. */
  private sessionGauges(registers: Registry[]): void {
    const source = this.source;
    type Row = { labels: { session: string }; stats: ReturnType<ConvertSession['stats']>; session: ConvertSession };
    let rows: Row[] = [];
    const rowsNow = (): Row[] => rows;
    // The first family's collect() takes the snapshot the others read (prom-client collects in registration order).
    new Gauge({
      name: 'svc_session_model_info',
      help: 'The voice converting the session right now (label model; value 1).',
      labelNames: ['session', 'model'],
      registers,
      collect() {
        this.reset();
        rows = [...source.sessions()].map(({ session, listeners }) => ({ labels: { session: sessionTag(session.id) }, stats: session.stats(source.policy, listeners), session }));
        for (const r of rows) this.set({ ...r.labels, model: r.session.modelName }, 1);
      },
    });
    const gauge = (name: string, help: string, value: (r: Row) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['session'],
        registers,
        collect() {
          this.reset();
          for (const r of rowsNow()) this.set(r.labels, value(r));
        },
      });
    const counter = (name: string, help: string, value: (r: Row) => number, extra?: { label: string; values: Array<[string, (r: Row) => number]> }) =>
      new Counter({
        name,
        help,
        labelNames: extra ? ['session', extra.label] : ['session'],
        registers,
        collect() {
          this.reset();
          for (const r of rowsNow()) {
            if (extra) for (const [labelValue, get] of extra.values) this.inc({ ...r.labels, [extra.label]: labelValue }, get(r));
            else this.inc(r.labels, value(r));
          }
        },
      });
    counter('svc_session_input_seconds_total', 'Client audio received by the session, in seconds.', (r) => r.stats.inputMs / 1000);
    counter('svc_session_output_seconds_total', 'Converted audio produced by the session, in seconds.', (r) => r.stats.outputMs / 1000);
    gauge('svc_session_algorithmic_latency_seconds', 'Algorithmic latency of the session (block + lookahead + crossfade + resampler delays), in seconds.', (r) => r.stats.latency.algorithmicMs / 1000);
    gauge('svc_session_block_seconds', 'Block length of the session, in seconds.', (r) => r.stats.latency.blockMs / 1000);
    new Gauge({
      name: 'svc_session_compute_seconds',
      help: 'Compute time per block over the recent blocks, by statistic, in seconds.',
      labelNames: ['session', 'stat'],
      registers,
      collect() {
        this.reset();
        for (const r of rowsNow()) {
          this.set({ ...r.labels, stat: 'mean' }, r.stats.latency.computeMsMean / 1000);
          this.set({ ...r.labels, stat: 'p95' }, r.stats.latency.computeMsP95 / 1000);
          this.set({ ...r.labels, stat: 'max' }, r.stats.latency.computeMsMax / 1000);
        }
      },
    });
    counter('svc_session_compute_seconds_total', 'Total compute time spent converting this session, in seconds.', (r) => r.session.totalComputeMs / 1000);
    gauge('svc_session_queue_seconds', 'Input queued for conversion now, in seconds.', (r) => r.stats.queueMs / 1000);
    counter('svc_session_dropped_blocks_total', 'Blocks handled by the behind-real-time policy, by policy action.', () => 0, {
      label: 'action',
      values: [
        ['skip', (r) => r.stats.dropped.skippedBlocks],
        ['dry', (r) => r.stats.dropped.dryBlocks],
        ['silence', (r) => r.stats.dropped.silencedBlocks],
      ],
    });
    counter('svc_session_overflow_seconds_total', 'Input discarded because the queue was full, in seconds.', (r) => r.stats.dropped.overflowMs / 1000);
    counter('svc_session_rejected_frames_total', 'Client frames rejected (malformed, too large, rate-limited).', (r) => r.stats.dropped.framesRejected);
    counter('svc_session_output_frames_dropped_total', 'Output frames dropped because the client did not read them in time.', (r) => r.stats.dropped.outputFramesDropped);
    counter('svc_session_underruns_total', 'Times the client input stopped for more than two blocks mid-stream.', (r) => r.stats.underruns);
    gauge('svc_session_listeners', 'Listeners following the session.', (r) => r.stats.listeners);
    gauge('svc_session_sinks', 'Output formats the session encodes (one resampler/encoder each, shared by their listeners).', (r) => r.session.sinkCount);
  }
}
