// Click-to-output latency, measured, next to what each route reports (`npm run bench -- --only latency`):
// the server through a protocol client (the reported figure: stats' latency.serverMs = algorithmicMs +
// compute median + queue), the web page in a real Chromium whose microphone and speakers are a private
// PulseAudio (the figure the page shows, at the moments the events came out), and `svc live` through a
// private PulseAudio (its own latency.totalMs), each with the built-in DSP voice (click probe) and the
// small model (the trained shipped base, models/sovits_small_base, imported into a temp models folder
// as "small") at its default block (the one the server or svc live measures for it at load), with the
// pitch-step probe: the base does not follow the input's level (its output in silence is a noise floor,
// so clicks do not come out as onsets), but it follows f0. A pitch step comes out of the model itself a
// little late (the f0 tracker's octave jump, the generator's response): that bias, measured offline (no
// streaming), is in the small rows' note (offlinePitchProbeBiasMs).
// The server rows add the small model on ONE core at 100/50/40 ms blocks and the standard reference
// (int8) at 100 ms. (The tiny random-weight reference is not used: its pitch does not follow the input
// reliably enough for the probe to come back through the page, and the trained base says more.)
// Rows come in pairs: "measured" and "reported", side by side; the note gives the spread and the parts.
import { spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { makeTempDir } from '../test/helpers/index.js';
import { pipeWireInstalled } from '../test/helpers/pipewire.js';
import type { BenchContext, BenchRow } from './lib.js';
import { CLICK_RATE, matchOnsets, median, measureLive, measurePage, measureServer, pitchStepEvents, pitchSteps, type LatencyMeasurement } from './live-latency.js';
import { resample } from '../src/audio/resample.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { DEFAULT_GAP_LOOKAHEAD_FRAMES } from '../src/voices/sovits/stage.js';
import { startChildServer } from './stream.bench.js';
import { bundleBuilt, ensureBundle } from './neural.bench.js';

const round1 = (x: number) => Math.round(x * 10) / 10;

function rowsFor(m: LatencyMeasurement, what = m.what): BenchRow[] {
  m = { ...m, what };
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

/** Median delay (ms) of the pitch-step events through offline conversion: what the probe adds by itself. */
async function pitchProbeBiasMs(dir: string): Promise<number> {
  const model = await SovitsModel.load(dir, { intraOpThreads: 1 });
  try {
    const probe = pitchSteps(CLICK_RATE);
    const input = await resample(probe, CLICK_RATE, model.sampleRate);
    const converted = (await convertAtModelRate(model, input, { f0Method: 'dsp', f0LowLatency: true, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES })).samples;
    const output = await resample(converted, model.sampleRate, CLICK_RATE);
    return round1(median(matchOnsets(pitchStepEvents(probe, CLICK_RATE), pitchStepEvents(output, CLICK_RATE), CLICK_RATE).map((d) => (d * 1000) / CLICK_RATE)));
  } finally {
    await model.dispose();
  }
}

/** A child `svc serve` for the length of `use`, stopped on every path. */
async function withServer(args: string[], pin: boolean, use: (url: string) => Promise<void>): Promise<void> {
  const server = await startChildServer(args, { pin });
  try {
    await use(server.url);
  } finally {
    await server.stop();
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const temp = makeTempDir('svc-bench-latency-');
  const previous = process.env.SVC_MODELS_DIR;
  try {
    const small = await ensureBundle('small', ctx);
    const modelsDir = join(temp.dir, 'models');
    cpSync(small, join(modelsDir, 'small'), { recursive: true });
    process.env.SVC_MODELS_DIR = modelsDir; // the child server and svc live find the model by name
    const biasMs = await pitchProbeBiasMs(small);
    const withBias = (m: LatencyMeasurement): LatencyMeasurement => ({ ...m, detail: { ...m.detail, offlinePitchProbeBiasMs: biasMs } });

    ctx.log('latency: server, protocol client');
    await withServer([], false, async (url) => {
      rows.push(...rowsFor(await measureServer(url)));
    });

    // Neural voices end to end (issues 17.2, 12.5): the small model served on ONE core (pinned, 1 ONNX
    // thread), and the standard reference (int8, random weights) on both cores when its bundle is built.
    await withServer(['--model', small, '--threads', '1'], true, async (url) => {
      for (const blockMs of [100, 50, 40]) {
        ctx.log(`latency: small model, ${blockMs} ms blocks`);
        rows.push(...rowsFor(withBias(await measureServer(url, { blockMs, probe: 'pitch' })), `server, small model (1 core), ${blockMs} ms blocks, pitch probe`));
      }
    });
    if (!ctx.quick || bundleBuilt('standard')) {
      const standard = await ensureBundle('standard', ctx);
      await withServer(['--model', standard, '--max-queue-ms', '2000'], false, async (url) => {
        ctx.log('latency: standard model, 100 ms blocks');
        rows.push(...rowsFor(await measureServer(url, { blockMs: 100, probe: 'pitch' }), 'server, standard model (int8, 2 cores), 100 ms blocks, pitch probe'));
      });
    }

    if (spawnSync('pulseaudio', ['--version']).status !== 0) {
      ctx.log('latency: no pulseaudio here, page and svc live rows skipped');
      return rows;
    }
    ctx.log('latency: the page in Chromium');
    await withServer([], false, async (url) => {
      rows.push(...rowsFor(await measurePage(url)));
      // The model's default block: the page asks for none, so the server's measured choice applies.
      rows.push(...rowsFor(withBias(await measurePage(url, { model: 'small', probe: 'pitch' }))));
      // Chromium's own microphone → speakers path, against the terms the page counts for it.
      rows.push(...rowsFor(await measurePage(url, { loopback: true })));
    });
    // The default (--latency-ms auto), and off (the short output queue of before, which crackles on PulseAudio);
    // the virtual microphone (what OBS or Discord records) at the default.
    for (const options of [{}, { latencyMs: 'off' }, { model: 'small', probe: 'pitch' }, { virtualMic: true }] as const) {
      ctx.log(`latency: svc live ${JSON.stringify(options)}`);
      const m = await measureLive(options);
      rows.push(...rowsFor('model' in options ? withBias(m) : m));
    }
    // --latency-ms: the target, then the measured delay and what svc live printed (the delay held), side
    // by side. 400 ms holds the DSP voice on a loaded machine; 200 is near its floor here; the small model
    // at 1000 ms (the probe matches events up to a second after the voice's block and delay).
    for (const options of [{ latencyMs: 200 }, { latencyMs: 400 }, { model: 'small', probe: 'pitch', latencyMs: 1000 }] as const) {
      ctx.log(`latency: svc live ${JSON.stringify(options)}`);
      const m = await measureLive(options);
      rows.push({ group: 'latency', name: `${m.what}: target`, value: options.latencyMs, unit: 'ms', note: 'what --latency-ms asks for; the next two rows: measured, reported' });
      rows.push(...rowsFor('model' in options ? withBias(m) : m));
    }
    // Through PipeWire's PulseAudio server (its own rig: bench/live-latency.ts), which lists no stream
    // latencies: the rows show the share svc's figure leaves out there (and says it does).
    if (pipeWireInstalled()) {
      for (const options of [{ pipeWire: true }, { pipeWire: true, latencyMs: 400 }] as const) {
        ctx.log(`latency: svc live ${JSON.stringify(options)}`);
        rows.push(...rowsFor(await measureLive(options)));
      }
    } else rows.push({ group: 'latency', name: 'svc live through PipeWire', value: NaN, unit: 'ms', note: 'not measured: PipeWire is not installed (scripts/setup.sh installs it)' });
    return rows;
  } finally {
    if (previous === undefined) delete process.env.SVC_MODELS_DIR;
    else process.env.SVC_MODELS_DIR = previous;
    temp.cleanup();
  }
}
