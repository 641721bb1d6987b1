// Click-to-output latency of `svc live`, measured through a real (private) PulseAudio, next to the
// latency svc live reports. Not part of `npm run bench` (it needs pulseaudio and takes ~1 min per run):
//   node --import tsx bench/live-latency.ts [--model BUNDLE_OR_NAME] [--block-ms MS] [--latency-ms MS]
// One stereo null sink "bench" is the common clock: a click train plays into its LEFT channel; svc live
// records the left channel (a remapped source) and plays into the RIGHT channel (a remapped sink);
// parec records both channels of the sink's monitor, so the delay between a click on the left and its
// converted copy on the right is what a listener would measure.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeWav } from '../src/audio/io.js';
import { makeTempDir, repoRoot } from '../test/helpers/index.js';
import { float32FromBytes, startPulseDaemon } from '../test/helpers/pulse.js';

const RATE = 48000;
const CLICKS = 8;
const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};

/** A 40 ms voiced burst (150 Hz pulse train through a decaying resonance) every second, on the left. */
function clickTrain(): Float32Array[] {
  const left = new Float32Array(RATE * (CLICKS + 2));
  for (let k = 0; k < CLICKS; k++) {
    const start = RATE * (k + 1);
    for (let i = 0; i < 0.04 * RATE; i++) {
      const t = i / RATE;
      const phase = (t * 150) % 1;
      left[start + i] = 0.6 * Math.exp(-phase * 30) * Math.sin(2 * Math.PI * 700 * t) * Math.min(1, i / 48);
    }
  }
  return [left, new Float32Array(left.length)];
}

/** Onsets: first samples whose 2 ms envelope exceeds `fraction` of the channel's peak envelope, ≥ 0.5 s apart. */
function onsets(x: Float32Array, fraction: number): number[] {
  const win = Math.round(0.002 * RATE);
  const env = new Float32Array(x.length);
  let acc = 0;
  for (let i = 0; i < x.length; i++) {
    acc += Math.abs(x[i]!) - (i >= win ? Math.abs(x[i - win]!) : 0);
    env[i] = acc / win;
  }
  let peak = 0;
  for (const v of env) peak = Math.max(peak, v);
  const out: number[] = [];
  for (let i = 1; i < env.length; i++) if (env[i]! > fraction * peak && env[i - 1]! <= fraction * peak && (out.length === 0 || i - out.at(-1)! > 0.5 * RATE)) out.push(i);
  return out;
}

const temp = makeTempDir('svc-click-');
const pulse = await startPulseDaemon(temp.dir, {
  modules: [
    `module-null-sink sink_name=bench rate=${RATE} channels=2`,
    'module-remap-source source_name=bench_left master=bench.monitor channels=1 master_channel_map=front-left channel_map=mono',
    'module-remap-sink sink_name=bench_right master=bench channels=1 master_channel_map=front-right channel_map=mono',
  ],
  alsaPcms: { svc_in: 'bench_left', svc_out: 'bench_right' },
});
try {
  const clicks = join(temp.dir, 'clicks.wav');
  await writeWav(clicks, { sampleRate: RATE, channels: clickTrain() }, { format: 'float32' });
  const svcArgs = ['live', '--rate', String(RATE), '--output-channels', '1', '--json', '--stats-interval', '1', '--duration', String(CLICKS + 6)];
  for (const name of ['--model', '--block-ms', '--latency-ms']) if (arg(name)) svcArgs.push(name, arg(name)!);
  const devices = await new Promise<string>((resolve) => {
    const c = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'devices', '--json'], { env: pulse.env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('close', () => resolve(out));
  });
  const list = JSON.parse(devices) as { id: number; name: string }[];
  svcArgs.push('--input', String(list.find((d) => d.name === 'svc_in')!.id), '--output', String(list.find((d) => d.name === 'svc_out')!.id));
  const svc = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), ...svcArgs], { env: pulse.env });
  let stdout = '';
  svc.stdout.on('data', (d) => (stdout += d));
  svc.stderr.on('data', (d) => process.stderr.write(d));
  while (!/"type":"stats"/.test(stdout)) await new Promise((r) => setTimeout(r, 100));
  const parec = spawn('parec', ['-d', 'bench.monitor', '--format=float32le', `--rate=${RATE}`, '--channels=2', '--raw'], { env: pulse.env });
  const chunks: Buffer[] = [];
  parec.stdout.on('data', (d: Buffer) => chunks.push(d));
  await new Promise((r) => spawn('paplay', ['-d', 'bench', clicks], { env: pulse.env }).on('close', r));
  await new Promise((r) => setTimeout(r, 1500));
  parec.kill('SIGTERM');
  await new Promise((r) => svc.on('close', r));
  const both = float32FromBytes(Buffer.concat(chunks));
  const left = both.filter((_, i) => i % 2 === 0);
  const right = both.filter((_, i) => i % 2 === 1);
  const l = onsets(left, 0.3);
  const r = onsets(right, 0.3);
  const delaysMs = l.map((t) => r.find((u) => u > t && u - t < RATE)).map((u, k) => (u === undefined ? NaN : ((u - l[k]!) * 1000) / RATE)).filter(Number.isFinite);
  delaysMs.sort((a, b) => a - b);
  const stats = stdout.split('\n').filter((x) => x.startsWith('{')).map((x) => JSON.parse(x));
  const reported = stats.filter((x) => x.type === 'stats').map((x) => x.latency.totalMs as number);
  reported.sort((a, b) => a - b);
  const median = (a: number[]) => (a.length ? a[Math.floor(a.length / 2)]! : NaN);
  console.log(
    JSON.stringify({
      config: svcArgs.filter((x, i) => ['--model', '--block-ms', '--latency-ms'].includes(svcArgs[i - 1]!) || x.startsWith('--model')).join(' ') || 'builtin DSP, 20 ms blocks',
      clicks: l.length,
      matched: delaysMs.length,
      measuredMs: { median: median(delaysMs), min: delaysMs[0], max: delaysMs.at(-1) },
      reportedMs: { median: median(reported), min: reported[0], max: reported.at(-1) },
      summary: stats.find((x) => x.type === 'summary')?.blocks,
    }),
  );
} finally {
  await pulse.stop();
  temp.cleanup();
}
