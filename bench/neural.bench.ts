// Neural (So-VITS) speed: per-block compute of the streaming stage and its real-time factor (compute /
// block duration, lower is better; < 1 keeps up) for the tiny and standard random-weight reference bundles
// at block sizes 50/100/200/500 ms and the small model (the shipped trained base, one thread) at
// 30/40/50/100/200 ms, each model's look-ahead and algorithmic latency, streamed vs offline SNR, with a breakdown (content encoder, generator, the rest: f0, vol,
// resampling, bookkeeping); offline conversion speed; model load time; memory. The DSP voice per block is
// the comparison. Bundles are built once into $TMPDIR/svc-bench-neural/<size>-<hash of the Python model code> (standard: ~40 s,
// ~500 MB);
// --quick runs the tiny bundle only (and standard if it is already built). SVC_BENCH_NEURAL_SIZES=small (a
// comma list of tiny, small, standard) runs only those sizes. Each size's latency breakdown row splits the
// algorithmic latency at 40 ms blocks into the parts the code adds (latencyBreakdown).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readMono } from '../src/audio/io.js';
import { resample } from '../src/audio/resample.js';
import { makeReference } from '../src/voices/sovits/bundle.js';
import { importSovits } from '../src/voices/sovits/import.js';
import { repoRoot } from '../src/paths.js';
import { defaultEncoderContext, SovitsModel } from '../src/voices/sovits/model.js';
import { SovitsTimeline } from '../src/voices/sovits/timeline.js';
import { convertAtModelRate } from '../src/voices/sovits/convert.js';
import { runPythonModule } from '../src/python.js';
import { openSession, startChildServer } from './stream.bench.js';
import { playoutTimesMs } from './live-latency.js';
import { scorePair } from '../src/eval/metrics.js';
import { DspVoiceStage } from '../src/voices/dsp/stage.js';
import { createNeuralStageFactory, DEFAULT_GAP_LOOKAHEAD_FRAMES, NeuralStage } from '../src/voices/sovits/stage.js';
import { convertChunks, createPipeline } from '../src/engine/pipeline.js';
import type { StageFactory } from '../src/voices/stage.js';
import { DSP_LOW_LATENCY_TRACK_LAG_FRAMES } from '../src/dsp/f0/index.js';
import { YIN_HOP, YIN_LEAD, YIN_WINDOW } from '../src/dsp/f0/yin.js';
import { concatFloat32 } from '../src/dsp/arrays.js';
import { from, lastValueFrom, toArray } from 'rxjs';
import type { BenchContext, BenchRow } from './lib.js';
import { realTimeFactor, summarizeTimes } from './lib.js';

const BLOCKS_MS = [50, 100, 200, 500];
/** The small model is the low-latency one: blocks down to 30 ms, on one core. */
const SMALL_BLOCKS_MS = [30, 40, 50, 100, 200];

/** Hash of the Python files that define the reference bundles: a cached bundle is reused only while they are unchanged. */
function referenceSourceHash(): string {
  const root = join(repoRoot, 'python', 'svc_py');
  const files = ['make_reference.py', 'encoders.py', 'bundle.py', 'quantize.py', ...readdirSync(join(root, 'sovits')).filter((f) => f.endsWith('.py')).sort().map((f) => join('sovits', f))];
  const hash = createHash('sha256');
  for (const file of files) hash.update(file).update(readFileSync(join(root, file)));
  return hash.digest('hex').slice(0, 12);
}

export type BenchModelSize = 'tiny' | 'small' | 'standard';

/** The small model's sources: the shipped base (trained weights) and svc's phone encoder. */
const SMALL_BASE = { checkpoint: join(repoRoot, 'models', 'sovits_small_base', 'G_0.pth'), config: join(repoRoot, 'models', 'sovits_small_base', 'config.json'), encoder: join(repoRoot, 'models', 'svc_phone_encoder', 'encoder.onnx') };

/** Where the bench's bundle of a size is cached (built or not). */
export function bundleDir(size: BenchModelSize): string {
  const key = size === 'small' ? createHash('sha256').update(referenceSourceHash()).update(readFileSync(SMALL_BASE.checkpoint)).update(readFileSync(SMALL_BASE.encoder)).digest('hex').slice(0, 12) : referenceSourceHash();
  return join(tmpdir(), 'svc-bench-neural', `${size}-${key}`);
}

export const bundleBuilt = (size: BenchModelSize): boolean => existsSync(join(bundleDir(size), 'manifest.json'));

/**
 * The bench's bundle of a size, built once into $TMPDIR/svc-bench-neural: tiny and standard are
 * random-weight references (make-reference); small is the shipped multi-speaker base
 * (models/sovits_small_base: trained, 16 kHz, hop 320, svc's phone encoder) imported as a one-speaker
 * graph, its cache keyed by the checkpoint and encoder too.
 */
export async function ensureBundle(size: BenchModelSize, ctx: BenchContext): Promise<string> {
  const dir = bundleDir(size);
  if (!bundleBuilt(size)) {
    ctx.log(`neural: building the ${size} bundle in ${dir}`);
    if (size === 'small') await importSovits({ ...SMALL_BASE, out: dir, name: 'small', singleSpeakerGraph: true, force: true });
    else await makeReference(size, dir, { force: true });
  }
  return dir;
}

interface Timers {
  encoderMs: number;
  generatorMs: number;
  /** Work of the last block: 16 kHz samples encoded, frames generated (for the PyTorch side-by-side). */
  encoderSamples: number;
  generatorFrames: number;
  reset(): void;
}

/** Wraps the model's encoder and generator calls to accumulate their time (ms) and work. */
function instrument(model: SovitsModel): Timers {
  const totals: Timers = { encoderMs: 0, generatorMs: 0, encoderSamples: 0, generatorFrames: 0, reset() { this.encoderMs = 0; this.generatorMs = 0; this.encoderSamples = 0; this.generatorFrames = 0; } };
  const encode = model.encode.bind(model);
  const generate = model.generate.bind(model);
  model.encode = async (audio) => {
    const t0 = performance.now();
    totals.encoderSamples += audio.length;
    try { return await encode(audio); } finally { totals.encoderMs += performance.now() - t0; }
  };
  model.generate = async (window, options) => {
    const t0 = performance.now();
    totals.generatorFrames += window.f0Hz.length;
    try { return await generate(window, options); } finally { totals.generatorMs += performance.now() - t0; }
  };
  return totals;
}

/** Median of a list (0 when empty). */
function medianOf(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[sorted.length >> 1]! : 0;
}

/**
 * A copy of a bundle whose generator graphs (float and int8) have a deterministic NSF source (no random
 * overtone phases or noise: python/svc_py/quantize.py --deterministic-source), so two precisions can be
 * compared sample by sample. Built once next to the cached bundle.
 */
async function deterministicTwin(dir: string): Promise<string> {
  const twin = `${dir}-deterministic`;
  if (existsSync(join(twin, 'manifest.json'))) return twin;
  mkdirSync(twin, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { generator: { file: string }; encoder: { file: string } | null; int8?: { generator: string; encoder: string | null } | null };
  for (const file of ['config.json', 'speakers.json']) copyFileSync(join(dir, file), join(twin, file));
  // Hard links (a copy across file systems): a bundle's files must stay inside it, and a symlink's target is outside.
  for (const file of [manifest.encoder?.file, manifest.int8?.encoder]) {
    if (!file || existsSync(join(twin, file))) continue;
    try {
      linkSync(join(dir, file), join(twin, file));
    } catch {
      copyFileSync(join(dir, file), join(twin, file));
    }
  }
  for (const file of [manifest.generator.file, manifest.int8?.generator]) {
    if (file) await runPythonModule('quantize', ['--in', join(dir, file), '--out', join(twin, file), '--no-matmul', '--deterministic-source']);
  }
  writeFileSync(join(twin, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return twin;
}

/**
 * End-to-end latency through the WebSocket loop: a client streams speech in real time (48 kHz, 128-sample
 * frames, as a browser worklet) to `svc serve --model` in a child process on loopback; output sample k is
 * the conversion of input sample k − delaySamples (docs/protocol.md), so every returned sample's latency is
 * when a client plays it (its block's arrival plus its place in the block: playoutTimesMs) minus the capture
 * time of the input sample it answers: block + look-ahead + SOLA + compute + transport. (Until session 12 a
 * sample counted at its block's arrival, which put the median half a block low: 238 ms for 298.)
 */
export async function loopLatency(url: string, blockMs: number, speech48k: Float32Array, seconds: number): Promise<{ medianMs: number; p90Ms: number; algorithmicMs: number; computeP95Ms: number }> {
  const rate = 48000;
  const frame = 128;
  const session = await openSession(url, { sampleRate: rate, blockMs });
  const delay = session.ready.latency.delaySamples as number;
  const algorithmicMs = session.ready.latency.algorithmicMs as number;
  const lengths: number[] = [];
  const arrivalMs: number[] = [];
  let startMs = 0;
  session.onBinary = (data, atMs) => {
    lengths.push(data.byteLength / 4);
    arrivalMs.push(atMs);
  };
  const total = Math.round((seconds * rate) / frame);
  startMs = performance.now();
  for (let f = 0; f < total; f++) {
    const due = startMs + ((f + 1) * frame * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = (f * frame) % (speech48k.length - frame);
    session.ws.send(Buffer.from(speech48k.slice(at, at + frame).buffer));
  }
  await new Promise((r) => setTimeout(r, algorithmicMs + 1000));
  session.ws.send(JSON.stringify({ type: 'stats' }));
  await new Promise((r) => setTimeout(r, 500));
  const stats = session.messages.filter((m) => m.type === 'stats').pop();
  session.ws.close();
  const playMs = playoutTimesMs(lengths, arrivalMs, rate);
  const latencies: number[] = [];
  for (let k = 0; k < playMs.length; k += 32) {
    const input = k - delay;
    if (input >= rate / 2) latencies.push(playMs[k]! - (startMs + ((input + 1) * 1000) / rate));
  }
  const sorted = latencies.sort((a, b) => a - b);
  return { medianMs: sorted[sorted.length >> 1] ?? NaN, p90Ms: sorted[Math.floor(sorted.length * 0.9)] ?? NaN, algorithmicMs, computeP95Ms: stats?.latency?.computeMsP95 ?? NaN };
}

interface BlockResult {
  medianMs: number;
  encoderSamples: number;
  generatorFrames: number;
}
type Measure = (stageFactory: Awaited<ReturnType<typeof createNeuralStageFactory>>, timed: Timers, blockMs: number, label: string) => Promise<BlockResult>;

/** SNR (dB) of `test` against `reference` over their common length. */
function snrDb(reference: Float32Array, test: Float32Array): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0, n = Math.min(reference.length, test.length); i < n; i++) {
    signal += reference[i]! ** 2;
    noise += (reference[i]! - test[i]!) ** 2;
  }
  return 10 * Math.log10(signal / Math.max(noise, 1e-30));
}

/**
 * Streamed vs offline (issue 12 point 5): the clip through the real pipeline (convertChunks, `blockMs`
 * blocks, SOLA) and through offline conversion with the same feature settings, SNR in dB outside the
 * first and last 0.3 s, over all samples and outside SOLA's crossfades (each block's first 10 ms).
 */
async function streamedVsOffline(model: SovitsModel, clip: Float32Array, blockMs: number, searchMs?: number): Promise<{ allDb: number; outsideCrossfadesDb: number }> {
  const sr = model.sampleRate;
  const settings = { f0Method: 'dsp' as const, f0LowLatency: true, f0GapLookaheadFrames: DEFAULT_GAP_LOOKAHEAD_FRAMES };
  const offline = (await convertAtModelRate(model, clip, settings)).samples;
  const factory = await createNeuralStageFactory(model, settings);
  const blockSamples = Math.round((blockMs * sr) / 1000);
  const crossfadeSamples = Math.round(0.01 * sr);
  const timing = { blockSamples, crossfadeSamples, searchSamples: searchMs === undefined ? undefined : Math.round((searchMs * sr) / 1000) };
  const chunks: Float32Array[] = [];
  for (let i = 0; i < clip.length; i += 997) chunks.push(clip.subarray(i, i + 997)); // any chunking
  const streamed = concatFloat32(await lastValueFrom(from(chunks).pipe(convertChunks(() => factory({ clientSampleRate: sr, voice: { pitch: 0, formant: 1 } }), timing), toArray())));
  // Output sample i is pipeline sample i + delay; a block's first crossfadeSamples are its crossfade.
  const delay = pipelineLatency(factory, blockMs, sr, searchMs).delaySamples;
  const edge = Math.round(0.3 * sr);
  const sums = { all: [0, 0], outside: [0, 0] };
  for (let i = edge; i < clip.length - edge; i++) {
    const signal = offline[i]! ** 2;
    const noise = (offline[i]! - streamed[i]!) ** 2;
    sums.all[0]! += signal;
    sums.all[1]! += noise;
    if ((i + delay) % blockSamples >= crossfadeSamples) {
      sums.outside[0]! += signal;
      sums.outside[1]! += noise;
    }
  }
  const db = ([signal, noise]: number[]) => 10 * Math.log10(signal! / Math.max(noise!, 1e-30));
  return { allDb: db(sums.all), outsideCrossfadesDb: db(sums.outside) };
}

/**
 * The standard bundle's int8 graphs against its float32 graphs (speed per block, memory, output quality)
 * and against the same model in PyTorch eager (python/svc_py/bench_torch.py: same weights, same work per
 * block, same threads), all in this run.
 */
async function sideBySide(ctx: BenchContext, rows: BenchRow[], dir: string, int8: SovitsModel, audio: Float32Array, measure: Measure, measured: Map<number, BlockResult>): Promise<void> {
  const rssBefore = process.memoryUsage().rss;
  const float = await SovitsModel.load(dir, { precision: 'float32' });
  rows.push({ group: 'neural', name: 'standard memory after load (rss increase, float32)', value: (process.memoryUsage().rss - rssBefore) / 2 ** 20, unit: 'MiB', note: 'a second model in the same process' });
  const floatResults = new Map<number, BlockResult>();
  try {
    const factory = await createNeuralStageFactory(float, { f0Method: 'dsp' });
    const timers = instrument(float);
    for (const blockMs of [100, 200]) {
      const result = await measure(factory, timers, blockMs, ' (float32)');
      floatResults.set(blockMs, result);
      const quantized = measured.get(blockMs)!;
      rows.push({ group: 'neural', name: `standard stream ${blockMs} ms blocks: int8 speed-up over float32`, value: result.medianMs / quantized.medianMs, unit: 'x', note: `float32 ${result.medianMs.toFixed(0)} ms vs int8 ${quantized.medianMs.toFixed(0)} ms per block, same run` });
    }
  } finally {
    await float.dispose();
  }

  // Quality: the two precisions with a deterministic NSF source, offline on the same speech.
  const twin = await deterministicTwin(dir);
  const seconds = ctx.quick ? 2 : 5;
  const clip = audio.subarray(0, Math.min(audio.length, Math.round(seconds * int8.sampleRate)));
  const outputs: Record<string, Float32Array> = {};
  for (const precision of ['float32', 'int8'] as const) {
    const model = await SovitsModel.load(twin, { precision });
    try {
      outputs[precision] = (await convertAtModelRate(model, clip, { f0Method: 'dsp' })).samples;
    } finally {
      await model.dispose();
    }
  }
  const sr = int8.sampleRate;
  const scores = await scorePair({ samples: outputs.float32!, sampleRate: sr }, { samples: outputs.int8!, sampleRate: sr }, { alignment: 'time', f0Method: 'dsp' });
  const note = `${seconds} s speech, offline, deterministic NSF source; goal ≥ 30 dB`;
  rows.push({ group: 'neural', name: 'standard int8 vs float32 output: SNR', value: snrDb(outputs.float32!, outputs.int8!), unit: 'dB', note });
  rows.push({ group: 'neural', name: 'standard int8 vs float32 output: MCD', value: scores.mcdDb, unit: 'dB', note: `f0 RMSE ${scores.f0RmseCents.toFixed(1)} cents over ${scores.bothVoicedFrames} frames voiced in both; voicing agreement ${(100 * scores.voicingAgreement).toFixed(1)} %` });

  // PyTorch eager, same work per block (encoder samples and generator frames of the ONNX stage's blocks).
  // One thread: Debian's torch runs OpenMP and OpenBLAS pools, and with 2 threads each on a busy 2-core
  // machine a 200 ms block took 30 s instead of 15 s (python/svc_py/bench_torch.py); svc's own one-thread
  // figure is the '1 intra-op thread' row.
  const blocks = [100, 200].map((blockMs) => ({ block_ms: blockMs, encoder_samples: measured.get(blockMs)!.encoderSamples, generator_frames: measured.get(blockMs)!.generatorFrames }));
  ctx.log('neural: PyTorch eager side of the side-by-side (builds the standard model in torch)');
  const torch = await runPythonModule<{ torch: string; threads: number; blocks: Array<{ block_ms: number; total_ms: number; encoder_ms: number; generator_ms: number; encoder_samples: number; generator_frames: number; runs: number }>; peak_rss_mib: number; peak_rss_after_load_mib: number; rss_start_mib: number }>(
    'bench_torch', ['--blocks', JSON.stringify(blocks), '--threads', '1', '--runs', ctx.quick ? '2' : '5', '--budget-s', ctx.quick ? '20' : '60'], { onProgress: (m) => ctx.log(`neural: ${m}`), env: { OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' } },
  );
  // svc on one thread too, so that one row compares like with like: the rows above give svc both cores
  // (its default) against torch's one, which flatters svc by up to the second core.
  const single = await SovitsModel.load(dir, { intraOpThreads: 1 });
  const singleResults = new Map<number, BlockResult>();
  try {
    const singleFactory = await createNeuralStageFactory(single, { f0Method: 'dsp' });
    const singleTimers = instrument(single);
    for (const blockMs of [100, 200]) singleResults.set(blockMs, await measure(singleFactory, singleTimers, blockMs, ` (${single.precision}, 1 intra-op thread)`));
  } finally {
    await single.dispose();
  }
  for (const block of torch.blocks) {
    const ms = block.block_ms;
    rows.push({ group: 'neural', name: `standard PyTorch eager ${ms} ms blocks: encoder + generator per block`, value: block.total_ms, unit: 'ms', note: `torch ${torch.torch}, ${torch.threads} threads (OpenMP and OpenBLAS), median of ${block.runs}; encoder ${block.encoder_ms.toFixed(0)} ms (${block.encoder_samples} samples at 16 kHz), generator ${block.generator_ms.toFixed(0)} ms (${block.generator_frames} frames)` });
    rows.push({ group: 'neural', name: `standard ${ms} ms blocks: svc ONNX int8 (whole stage, both cores) vs PyTorch eager (1 thread)`, value: block.total_ms / measured.get(ms)!.medianMs, unit: 'x', note: `float32 ONNX: ${(block.total_ms / floatResults.get(ms)!.medianMs).toFixed(2)}×; goal ≥ 3×` });
    rows.push({ group: 'neural', name: `standard ${ms} ms blocks: svc ONNX int8 vs PyTorch eager, both on 1 thread`, value: block.total_ms / singleResults.get(ms)!.medianMs, unit: 'x', note: `svc ${singleResults.get(ms)!.medianMs.toFixed(0)} ms vs torch ${block.total_ms.toFixed(0)} ms per block, same run; goal ≥ 3×` });
  }
  rows.push({ group: 'neural', name: 'standard PyTorch eager: peak rss of its process', value: torch.peak_rss_mib, unit: 'MiB', note: `interpreter with torch imported ${torch.rss_start_mib.toFixed(0)} MiB, after building the model ${torch.peak_rss_after_load_mib.toFixed(0)} MiB; compare the svc server row below` });

  // End-to-end through the WebSocket loop, svc serve --model (int8, both cores) in a child process.
  const speech = await readMono(ctx.shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  const speech48k = speech.sampleRate === 48000 ? speech.samples : await resample(speech.samples, speech.sampleRate, 48000);
  const server = await startChildServer(['--model', dir, '--max-queue-ms', '2000'], { pin: false });
  try {
    const serverRss = (() => {
      try {
        return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
      } catch {
        return NaN;
      }
    })();
    rows.push({ group: 'neural', name: 'standard svc serve --model: server rss after load (int8)', value: serverRss, unit: 'MiB', note: 'whole server process, model loaded and warmed up; goal ≤ 1 GB' });
    for (const blockMs of [100, 200]) {
      ctx.log(`neural: WebSocket loop latency, standard model, ${blockMs} ms blocks`);
      const r = await loopLatency(server.url, blockMs, speech48k, ctx.quick ? 4 : 8);
      rows.push({ group: 'neural', name: `standard end-to-end latency through WebSocket, ${blockMs} ms blocks (median)`, value: r.medianMs, unit: 'ms', note: `p90 ${r.p90Ms.toFixed(0)} ms; algorithmic ${r.algorithmicMs.toFixed(0)} ms (block + look-ahead + SOLA); server compute p95 ${r.computeP95Ms.toFixed(0)} ms; 48 kHz client, loopback; goal ≤ 250 ms` });
    }
  } finally {
    await server.stop();
  }
}

/**
 * Where a stream's algorithmic latency goes at `blockMs` blocks (ms, at the model's rate), from the code's own
 * constants: the block; the look-ahead = the later of the f0 (YIN's window reaching past the frame centre +
 * the dsp tracker's lag + the rest: an interpolation frame where model frames fall between YIN's 10 ms
 * frames, the 16 kHz feed's resampler) and the content rows (encoder right context + feed), each plus the
 * generator's right-context frames; SOLA's crossfade and half its search (10 ms each, the defaults).
 */
function latencyBreakdown(model: SovitsModel, shape: { f0LatencySamples: number; rightContextFrames: number; lookaheadSamples: number; f0TrackLagFrames: number | undefined }, blockMs: number, at: PipelineLatency): { totalMs: number; note: string } {
  const right = shape.rightContextFrames;
  const sr = model.sampleRate;
  const ms = (samples: number) => (samples * 1000) / sr;
  const f0Ms = ms(shape.f0LatencySamples);
  const reachMs = ((YIN_WINDOW - YIN_LEAD) * 1000) / 16000;
  const lag = shape.f0TrackLagFrames ?? DSP_LOW_LATENCY_TRACK_LAG_FRAMES;
  const lagMs = (lag * YIN_HOP * 1000) / 16000;
  const rightMs = ms(right * model.hopSamples);
  const encoderMs = ms(SovitsTimeline.encoderLatencySamples(sr, defaultEncoderContext(model)));
  const solaMs = ms(at.delaySamples - at.lookaheadSamples);
  const lookaheadMs = ms(at.lookaheadSamples);
  const wholeFrames = at.lookaheadSamples < shape.lookaheadSamples;
  const bound = f0Ms >= encoderMs ? 'f0' : 'content';
  const f = (x: number) => x.toFixed(1);
  return {
    totalMs: blockMs + lookaheadMs + solaMs,
    note: `block ${blockMs} + look-ahead ${f(lookaheadMs)} (${bound} bound: f0 ${f(f0Ms)} = YIN window reach ${f(reachMs)} + tracker lag ${lag} × 10 ms + interpolation frame/resampler ${f(f0Ms - reachMs - lagMs)}; content ${f(encoderMs)}; + final generator right context ${right} frames ${f(rightMs)}${wholeFrames ? `; whole-frame blocks: one frame less, rounded to frames, ${f(ms(shape.lookaheadSamples))} → ${f(lookaheadMs)}` : ''}) + SOLA crossfade ${f(ms(at.crossfadeSamples))} and half its search ${f(ms(at.searchSamples) / 2)}${at.searchSamples === 0 ? ' (windows in phase: no search)' : ''}`,
  };
}

interface PipelineLatency {
  lookaheadSamples: number;
  delaySamples: number;
  crossfadeSamples: number;
  searchSamples: number;
}

/** The look-ahead and delay a session's pipeline at `blockMs` has with this factory's stage (its defaults: SOLA 10 ms, the search the stage needs). */
function pipelineLatency(factory: StageFactory, blockMs: number, sampleRate: number, searchMs?: number): PipelineLatency {
  const stage = factory({ clientSampleRate: sampleRate, voice: { pitch: 0, formant: 1 } });
  try {
    const pipeline = createPipeline(stage, { blockMs, searchMs });
    try {
      return { lookaheadSamples: stage.lookaheadSamples, delaySamples: pipeline.delaySamples, crossfadeSamples: pipeline.crossfadeSamples, searchSamples: pipeline.searchSamples };
    } finally {
      pipeline.dispose();
    }
  } finally {
    stage.dispose();
  }
}

export async function run(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const speech = await readMono(ctx.shared('speech', 'kathleen_arctic_cc0_48k', 'arctic_a0001.wav'));
  const onlySizes = process.env.SVC_BENCH_NEURAL_SIZES?.split(',').map((x) => x.trim()) as BenchModelSize[] | undefined;
  const sizes: BenchModelSize[] = onlySizes ?? (ctx.quick && !bundleBuilt('standard') ? ['tiny', 'small'] : ['tiny', 'small', 'standard']);
  for (const size of sizes) {
    const dir = await ensureBundle(size, ctx);
    const rssBefore = process.memoryUsage().rss;
    const t0 = performance.now();
    // The small model's goal is real time on one core (issue 12): one intra-op thread.
    const model = await SovitsModel.load(dir, size === 'small' ? { intraOpThreads: 1 } : {});
    const loadMs = performance.now() - t0;
    const rssModel = process.memoryUsage().rss - rssBefore;
    try {
      const sr = model.sampleRate;
      const note = `${size}: ${sr} Hz, hop ${model.hopSamples}, ${model.contentDim}-d ${model.manifest.speech_encoder} encoder (${model.manifest.encoder?.kind}); ${model.precision} graphs; cpu, ${size === 'small' ? '1 intra-op thread (one core)' : 'default threads (1 for small graphs, else 2)'}, no spinning`;
      rows.push({ group: 'neural', name: `${size} load (sessions + checks + warm-up)`, value: loadMs, unit: 'ms', note });
      rows.push({ group: 'neural', name: `${size} memory after load (rss increase, ${model.precision})`, value: rssModel / 2 ** 20, unit: 'MiB' });
      const audio = await resample(speech.samples, speech.sampleRate, sr);
      const factory = await createNeuralStageFactory(model, { f0Method: 'dsp' });
      const lookaheadMs = (factory.shape.lookaheadSamples * 1000) / sr;
      const breakdown = latencyBreakdown(model, factory.shape, 40, pipelineLatency(factory, 40, sr));
      rows.push({ group: 'neural', name: `${size} algorithmic latency at 40 ms blocks, where it goes`, value: breakdown.totalMs, unit: 'ms', note: breakdown.note });
      if (factory.shape.f0TrackLagFrames !== undefined) {
        // The same stream with the low-latency mode's own tracker lag (this stream's default before the f0 budget).
        const modeLag = await createNeuralStageFactory(model, { f0Method: 'dsp', f0TrackLagFrames: DSP_LOW_LATENCY_TRACK_LAG_FRAMES });
        const before = latencyBreakdown(model, modeLag.shape, 40, pipelineLatency(modeLag, 40, sr));
        rows.push({ group: 'neural', name: `${size} algorithmic latency at 40 ms blocks, f0 tracker lag ${DSP_LOW_LATENCY_TRACK_LAG_FRAMES} (before)`, value: before.totalMs, unit: 'ms', note: before.note });
      }
      const right = factory.shape.rightContextFrames;
      if (right !== 2) {
        // svc's voices take provisional right context (session 13): the same stream with 2 final frames, as before.
        const twoFinal = await createNeuralStageFactory(model, { f0Method: 'dsp', rightContextFrames: 2 });
        for (const blockMs of [40, 100]) {
          const was = latencyBreakdown(model, twoFinal.shape, blockMs, pipelineLatency(twoFinal, blockMs, sr));
          const now = latencyBreakdown(model, factory.shape, blockMs, pipelineLatency(factory, blockMs, sr));
          rows.push({ group: 'neural', name: `${size} algorithmic latency at ${blockMs} ms blocks, right context 2 final frames (before) → ${right}`, value: now.totalMs, unit: 'ms', note: `before ${was.totalMs.toFixed(0)} ms; the generator still runs 2 frames past the last emitted one, the rest provisional` });
        }
      }
      rows.push({ group: 'neural', name: `${size} stage look-ahead (features final)`, value: lookaheadMs, unit: 'ms', note: `f0 dsp (low latency${factory.shape.f0TrackLagFrames !== undefined ? `, tracker lag ${factory.shape.f0TrackLagFrames}` : ''}) ${((factory.shape.f0LatencySamples * 1000) / sr).toFixed(0)} ms + ${right} final right-context frames (${((right * model.hopSamples * 1000) / sr).toFixed(1)} ms), causal gap fill; encoder ${((SovitsTimeline.encoderLatencySamples(sr, defaultEncoderContext(model)) * 1000) / sr).toFixed(0)} ms; context ${((factory.shape.contextSamples * 1000) / sr).toFixed(0)} ms` });
      for (const blockMs of [100, 50, 40]) {
        // What a session at the model's rate reports (stream/session.ts: block + pipeline delay, the pipeline's defaults).
        const at = pipelineLatency(factory, blockMs, sr);
        const algorithmicMs = blockMs + (at.delaySamples * 1000) / sr;
        rows.push({ group: 'neural', name: `${size} algorithmic latency at ${blockMs} ms blocks`, value: algorithmicMs, unit: 'ms', note: `block + look-ahead ${((at.lookaheadSamples * 1000) / sr).toFixed(1)} + SOLA crossfade ${((at.crossfadeSamples * 1000) / sr).toFixed(0)} ms + half its ${((at.searchSamples * 1000) / sr).toFixed(0)} ms search; a client at another rate adds its resamplers (1–8 ms); goal ${size === 'small' ? '≤ 150' : size === 'standard' ? '≤ 250 end to end' : '-'}` });
      }
      const timers = instrument(model);
      const measure = async (stageFactory: Awaited<ReturnType<typeof createNeuralStageFactory>>, timed: Timers, blockMs: number, label: string) => {
        const block = Math.round((blockMs * sr) / 1000);
        const stage = stageFactory({ clientSampleRate: sr, voice: { pitch: 0, formant: 1 } }) as NeuralStage;
        stage.setBlockSamples?.(block); // as a pipeline would (whole-frame blocks: a frame less look-ahead and context)
        const windowSamples = stage.contextSamples + block;
        const window = new Float32Array(windowSamples);
        const times: number[] = [];
        let cpuMs = 0;
        const warmup = 3;
        const maxBlocks = Math.max(ctx.quick ? 4 : 10, Math.floor(audio.length / block));
        let encoderMs = 0;
        let generatorMs = 0;
        const encoderSamples: number[] = [];
        const generatorFrames: number[] = [];
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
              encoderSamples.push(timed.encoderSamples);
              generatorFrames.push(timed.generatorFrames);
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
        return { medianMs: median, encoderSamples: medianOf(encoderSamples), generatorFrames: medianOf(generatorFrames) };
      };
      // Before/after at 200 ms in the same run: the old per-block work (generator over the whole window,
      // look-ahead included; 150 ms generator context; HuBERT-size encoders re-running 25 rows of context;
      // ONNX pool threads spinning between runs), on a second load of the same bundle.
      const old = size === 'small' ? null : await SovitsModel.load(dir, { allowSpinning: true, precision: 'float32' });
      if (old) try {
        const before = await createNeuralStageFactory(old, {
          // (float32: int8 graphs came later)
          f0Method: 'dsp',
          generateWholeWindow: true,
          leftContextMs: 150,
          ...(size === 'standard' ? { encoderContext: { leftRows: 25, rightRows: 3 } } : {}),
        });
        await measure(before, instrument(old), 200, ' (before: whole window, 150 ms context, ' + (size === 'standard' ? '25-row encoder context, ' : '') + 'spinning threads)');
      } finally {
        await old.dispose();
      }
      const measured = new Map<number, Awaited<ReturnType<typeof measure>>>();
      for (const blockMs of size === 'small' ? SMALL_BLOCKS_MS : BLOCKS_MS) measured.set(blockMs, await measure(factory, timers, blockMs, ` (${model.precision}${size === 'small' ? ', 1 thread' : ''})`));
      if (size !== 'standard') {
        const parity = await streamedVsOffline(model, audio.subarray(0, Math.round((ctx.quick ? 3 : 6) * sr)), 100);
        rows.push({ group: 'neural', name: `${size} streamed vs offline output, 100 ms blocks: SNR outside crossfades`, value: parity.outsideCrossfadesDb, unit: 'dB', note: `${parity.allDb.toFixed(1)} dB with SOLA's crossfades; same settings (f0 dsp low latency, causal gap fill), NSF source noise hashed by frame; ${size === 'small' ? 'goal ≥ 30 dB (issue 12.5)' : 'random weights'}` });
        if (size === 'small') {
          // SOLA's search (±5 ms per block) against none: the hashed NSF source keeps consecutive windows in phase.
          for (const searchMs of [10, 0]) {
            const p = await streamedVsOffline(model, audio.subarray(0, Math.round((ctx.quick ? 3 : 6) * sr)), 40, searchMs);
            rows.push({ group: 'neural', name: `small streamed vs offline output, 40 ms blocks, SOLA search ${searchMs} ms: SNR outside crossfades`, value: p.outsideCrossfadesDb, unit: 'dB', note: `${p.allDb.toFixed(1)} dB with crossfades; the search adds ${searchMs / 2} ms of latency` });
          }
        }
      }
      if (size === 'standard' && model.precision === 'int8') {
        await sideBySide(ctx, rows, dir, model, audio, measure, measured);
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
