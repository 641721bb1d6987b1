// Neural (So-VITS) speed: per-block compute of the streaming stage and its real-time factor (compute /
// block duration, lower is better; < 1 keeps up) for the tiny and standard random-weight reference bundles
// at block sizes 50/100/200/500 ms, with a breakdown (content encoder, generator, the rest: f0, vol,
// resampling, bookkeeping); offline conversion speed; model load time; memory. The DSP voice per block is
// the comparison. Bundles are built once into $TMPDIR/svc-bench-neural/<size>-<hash of the Python model code> (standard: ~40 s,
// ~500 MB);
// --quick runs the tiny bundle only (and standard if it is already built).
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { repoRoot } from '../src/paths.js';
import { SovitsModel } from '../src/voices/sovits/model.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { DspVoiceStage } from '../src/voices/dsp/stage.js';
import { createNeuralStageFactory, NeuralStage } from '../src/voices/sovits/stage.js';
import type { BenchContext, BenchRow } from './lib.js';
import { realTimeFactor, summarizeTimes } from './lib.js';

const BLOCKS_MS = [50, 100, 200, 500];

/** Hash of the Python files that define the reference bundles: a cached bundle is reused only while they are unchanged. */
function referenceSourceHash(): string {
  const root = join(repoRoot, 'python', 'svc_py');
  const files = ['make_reference.py', 'encoders.py', 'bundle.py', ...readdirSync(join(root, 'sovits')).filter((f) => f.endsWith('.py')).sort().map((f) => join('sovits', f))];
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 12);
}

async function ensureBundle(size: 'tiny' | 'standard', ctx: BenchContext): Promise<string> {
  const dir = join(tmpdir(), 'svc-bench-neural', `${size}-${referenceSourceHash()}`);
  if (!existsSync(join(dir, 'manifest.json'))) {
    ctx.log(`neural: building the ${size} reference bundle in ${dir}`);
    await makeReference(size, dir, { force: true });
  }
  return dir;
}

/** Wraps the model's encoder and generator calls to accumulate their time (ms). */
function instrument(model: SovitsModel): { encoderMs: number; generatorMs: number; reset(): void } {
  const totals = { encoderMs: 0, generatorMs: 0, reset() { this.encoderMs = 0; this.generatorMs = 0; } };
  const encode = model.encode.bind(model);
  const generate = model.generate.bind(model);
  model.encode = async (audio) => {
    const t0 = performance.now();
    try { return await encode(audio); } finally { totals.encoderMs += performance.now() - t0; }
  };
  model.generate = async (window, options) => {
    const t0 = performance.now();
    try { return await generate(window, options); } finally { totals.generatorMs += performance.now() - t0; }
  };
  return totals;
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const speech = await readMono(ctx.shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  const sizes: Array<'tiny' | 'standard'> = ctx.quick && !existsSync(join(tmpdir(), 'svc-bench-neural', `standard-${referenceSourceHash()}`, 'manifest.json')) ? ['tiny'] : ['tiny', 'standard'];
  for (const size of sizes) {
    const dir = await ensureBundle(size, ctx);
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    const model = await SovitsModel.load(dir);
    const loadMs = performance.now() - t0;
    const rssModel = process.memoryUsage().rss - rssBefore;
    try {
      const sr = model.sampleRate;
      const note = `${size}: ${sr} Hz, hop ${model.hopSamples}, ${model.contentDim}-d ${model.manifest.encoder?.kind} encoder; cpu, default threads (1 for small graphs, else 2), no spinning`;
      rows.push({ group: 'neural', name: `${size} load (sessions + checks + warm-up)`, value: loadMs, unit: 'ms', note });
      rows.push({ group: 'neural', name: `${size} memory after load (rss increase)`, value: rssModel / 2 ** 20, unit: 'MiB' });
      const audio = await resample(speech.samples, speech.sampleRate, sr);
      const factory = await createNeuralStageFactory(model, { f0Method: 'dsp' });
      const lookaheadMs = (factory.shape.lookaheadSamples * 1000) / sr;
      rows.push({ group: 'neural', name: `${size} stage look-ahead (features final)`, value: lookaheadMs, unit: 'ms', note: `f0 dsp (low latency) ${((factory.shape.f0LatencySamples * 1000) / sr).toFixed(0)} ms; context ${((factory.shape.contextSamples * 1000) / sr).toFixed(0)} ms` });
      const timers = instrument(model);
      const measure = async (stageFactory: Awaited<ReturnType<typeof createNeuralStageFactory>>, timed: ReturnType<typeof instrument>, blockMs: number, label: string) => {
        const block = Math.round((blockMs * sr) / 1000);
        const windowSamples = stageFactory.shape.contextSamples + block;
        const stage = stageFactory({ clientSampleRate: sr, voice: { pitch: 0, formant: 1 } }) as NeuralStage;
        const window = new Float32Array(windowSamples);
        const times: number[] = [];
        let cpuMs = 0;
        const warmup = 3;
        const maxBlocks = Math.max(ctx.quick ? 4 : 10, Math.floor(audio.length / block));
        let encoderMs = 0;
        let generatorMs = 0;
        try {
          for (let n = 0; n < warmup + maxBlocks; n++) {
            const start = (n * block) % Math.max(1, audio.length - block);
            window.copyWithin(0, block);
            window.set(audio.subarray(start, start + block), windowSamples - block);
            timed.reset();
            const cpu = process.cpuUsage();
            const t = performance.now();
            await stage.process(window.slice(), { startSample: (n + 1) * block - windowSamples, discontinuity: n === 0 });
            const ms = performance.now() - t;
            const used = process.cpuUsage(cpu);
            if (n >= warmup) {
              times.push(ms);
              cpuMs += (used.user + used.system) / 1000;
              encoderMs += timed.encoderMs;
              generatorMs += timed.generatorMs;
            }
          }
        } finally {
          stage.dispose();
        }
        const { medianMs: median, meanMs: mean, p90Ms: p90 } = summarizeTimes(times);
        rows.push({
          group: 'neural',
          name: `${size} stream ${blockMs} ms blocks${label}: compute per block`,
          value: median,
          unit: 'ms',
          note: `p90 ${p90.toFixed(1)} ms; mean split: encoder ${(encoderMs / times.length).toFixed(1)}, generator ${(generatorMs / times.length).toFixed(1)}, rest ${(mean - (encoderMs + generatorMs) / times.length).toFixed(1)} ms; window ${(windowSamples * 1000 / sr).toFixed(0)} ms`,
        });
        rows.push({ group: 'neural', name: `${size} stream ${blockMs} ms blocks${label}: real-time factor`, value: realTimeFactor(median, blockMs / 1000), unit: 'x', note: `${(blockMs / median).toFixed(1)}× faster than real time (p90 ${(blockMs / p90).toFixed(1)}×)` });
        // CPU time of this process per block: the compute itself, less sensitive than wall time to other
        // processes sharing the cores (with several ONNX threads it sums them).
        const cpuPerBlock = cpuMs / times.length;
        rows.push({ group: 'neural', name: `${size} stream ${blockMs} ms blocks${label}: cpu time per block`, value: cpuPerBlock, unit: 'ms', note: `${(blockMs / cpuPerBlock).toFixed(1)}× real time in cpu time` });
      };
      // Before/after at 200 ms in the same run: the old per-block work (generator over the whole window,
      // look-ahead included; 150 ms generator context; HuBERT-size encoders re-running 25 rows of context;
      // ONNX pool threads spinning between runs), on a second load of the same bundle.
      const old = await SovitsModel.load(dir, { allowSpinning: true });
      try {
        const before = await createNeuralStageFactory(old, {
          f0Method: 'dsp',
          generateWholeWindow: true,
          leftContextMs: 150,
          ...(size === 'standard' ? { encoderContext: { leftRows: 25, rightRows: 3 } } : {}),
        });
        await measure(before, instrument(old), 200, ' (before: whole window, 150 ms context, ' + (size === 'standard' ? '25-row encoder context, ' : '') + 'spinning threads)');
      } finally {
        await old.dispose();
      }
      for (const blockMs of BLOCKS_MS) await measure(factory, timers, blockMs, '');
      if (size === 'standard' && !ctx.quick) {
        // Intra-op threads 1 vs the default 2 (a second load of the same bundle).
        const single = await SovitsModel.load(dir, { intraOpThreads: 1 });
        try {
          const singleTimers = instrument(single);
          await measure(await createNeuralStageFactory(single, { f0Method: 'dsp' }), singleTimers, 200, ' (1 intra-op thread)');
        } finally {
          await single.dispose();
        }
      }
      const seconds = ctx.quick ? 2 : Math.min(10, audio.length / sr);
      const clip = audio.subarray(0, Math.round(seconds * sr));
      const t = await ctx.timeIt(() => convertAtModelRate(model, clip, { f0Method: 'dsp' }), { minMs: 1000, minRuns: ctx.quick ? 1 : 2, warmupRuns: 0 });
      rows.push({ group: 'neural', name: `${size} offline convert (f0 dsp)`, value: realTimeFactor(t.medianMs, seconds), unit: 'x', note: `${seconds.toFixed(1)} s speech in ${t.medianMs.toFixed(0)} ms` });
    } finally {
      await model.dispose();
    }
  }
  rows.push({ group: 'neural', name: 'peak rss of the bench process', value: process.resourceUsage().maxRSS / 1024, unit: 'MiB', note: 'includes every bench run before this one' });

  // The DSP voice per block, for comparison (stateful, no context).
  for (const blockMs of [50, 200]) {
    const sr = 44100;
    const audio = await resample(speech.samples, speech.sampleRate, sr);
    const stage = new DspVoiceStage(sr, { pitch: 3, formant: 1 });
    const block = Math.round((blockMs * sr) / 1000);
    const times: number[] = [];
    try {
      for (let start = 0; start + block <= audio.length; start += block) {
        const t = performance.now();
        stage.process(audio.subarray(start, start + block));
        times.push(performance.now() - t);
      }
    } finally {
      stage.dispose();
    }
    const median = summarizeTimes(times.slice(3)).medianMs;
    rows.push({ group: 'neural', name: `DSP voice ${blockMs} ms blocks (comparison): compute per block`, value: median, unit: 'ms', note: `44.1 kHz; ${(blockMs / median).toFixed(0)}× faster than real time` });
  }
  return rows;
}
