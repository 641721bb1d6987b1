// Click-to-output latency, measured, next to what each route reports (`npm run bench -- --only latency`):
// the server through a protocol client (the reported figure: stats' latency.serverMs = algorithmicMs +
// compute median + queue), and `svc live` through a private PulseAudio (its own latency.totalMs), each with the built-in
// DSP voice and the tiny reference model (`svc make-reference --size tiny`, installed in a temp folder)
// at its default block (measured at load). The probes and the measurements are bench/live-latency.ts's:
// clicks for the DSP voice; pitch steps for the model, whose random weights make steady sound whatever
// the input's level, but whose source follows the input's f0.
// Rows come in pairs: "measured" and "reported", side by side; the note gives the spread and the parts.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { makeTempDir } from '../test/helpers/index.js';
import type { BenchContext, BenchRow } from './lib.js';
import { median, measureLive, measureServer, type LatencyMeasurement } from './live-latency.js';
import { startChildServer } from './stream.bench.js';

const round1 = (x: number) => Math.round(x * 10) / 10;

function rowsFor(m: LatencyMeasurement): BenchRow[] {
  if (m.measuredMs.length === 0) return [{ group: 'latency', name: `${m.what}: click → output, measured`, value: NaN, unit: 'ms', note: `no event came back: ${JSON.stringify(m.detail)}` }];
  const measured = median(m.measuredMs);
  const reported = median(m.reportedMs);
  const spread = `${round1(Math.min(...m.measuredMs))}–${round1(Math.max(...m.measuredMs))} ms over ${m.measuredMs.length} of ${m.clicks} clicks`;
  return [
    { group: 'latency', name: `${m.what}: click → output, measured (median)`, value: round1(measured), unit: 'ms', note: `${spread}; load ${loadavg()[0].toFixed(1)}` },
    {
      group: 'latency',
      name: `${m.what}: reported (median)`,
      value: round1(reported),
      unit: 'ms',
      note: `${reported >= measured ? '+' : ''}${round1(reported - measured)} ms vs measured; ${JSON.stringify(m.detail)}`,
    },
  ];
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const temp = makeTempDir('svc-bench-latency-');
  const previous = process.env.SVC_MODELS_DIR;
  try {
    const modelsDir = join(temp.dir, 'models');
    await makeReference('tiny', join(modelsDir, 'tiny'), { seed: 1234 });
    process.env.SVC_MODELS_DIR = modelsDir; // the child server and svc live find the model by name

    ctx.log('latency: server, protocol client');
    const server = await startChildServer([], { pin: false });
    try {
      rows.push(...rowsFor(await measureServer(server.url)));
      rows.push(...rowsFor(await measureServer(server.url, { model: 'tiny', probe: 'pitch' })));
    } finally {
      await server.stop();
    }

    if (spawnSync('pulseaudio', ['--version']).status !== 0) {
      ctx.log('latency: no pulseaudio here, svc live rows skipped');
      return rows;
    }
    for (const options of [{}, { model: 'tiny', probe: 'pitch' }, { latencyMs: 200 }] as const) {
      ctx.log(`latency: svc live ${JSON.stringify(options)}`);
      rows.push(...rowsFor(await measureLive(options)));
    }
    return rows;
  } finally {
    if (previous === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previous;
    temp.cleanup();
  }
}
