// The So-VITS neural voice as a streaming converter stage. To the pipeline it is stateless per window:
// it gets `contextSamples` of past input plus one block at the model's rate, returns the converted audio
// for that whole window, and the pipeline SOLA-stitches consecutive windows. Inside, the window's new
// samples (known from its startSample) are pushed into the feature timeline (timeline.ts: f0, volume,
// the 16 kHz feed and content rows, the gap fill, the NSF source phase), which offline conversion and
// dataset preprocessing drain too. Only the generator re-runs per window, and only on what SOLA can emit
// plus bounded context: its left context (leftContextMs, per model size) + SOLA's crossfade/search + the
// block + GENERATED_RIGHT_FRAMES (or rightContextFrames, if more); the rest of the look-ahead is never
// emitted, so it is not generated (silence in the returned window). Of those right frames, only
// rightContextFrames must be final; the others get what the timeline knows so far (provisional context).
// Because the timeline, the noise (hashed by frame), the f0 and the rows are those of offline conversion,
// every final frame the generator is fed equals offline's; the output equals offline's outside SOLA's
// crossfades as far as the generator's reach allows (the tiny reference: ≥ 30 dB; the trained small model's
// attention and decoder reach further: docs/models.md, Latency).
// `lookaheadSamples` is what the features need before the right edge of a window is final.
// (Models by name for the server: ModelResolver in ../registry.ts.)
import { SvcError } from '../../errors.js';
import type { F0Choice } from '../../dsp/f0/index.js';
import { MODEL_CONTROLS, semitonesToRatio, stageShapeForBlock, type BlockTime, type ConverterStage, type StageFactory, type VoiceParams, type WholeFrameShape } from '../stage.js';
import { DEFAULT_NOISE_SCALE, defaultEncoderContext, SovitsModel, SVC_PHONE_ENCODER } from './model.js';
import { SovitsTimeline, type EncoderContext } from './timeline.js';
import { choiceRow, isSpeakerSchedule, parseSpeakerSchedule, SpeakerTrack } from './speakerTrack.js';

export interface NeuralStageOptions {
  speaker?: string | number;
  /** so-vits-svc's cluster_infer_ratio, 0..1 (needs a bundle with a cluster model). */
  clusterRatio?: number;
  f0Method?: F0Choice;
  /** The f0 estimator's low-latency mode (truncated look-ahead; default true for streaming). */
  f0LowLatency?: boolean;
  /** dsp f0: the Viterbi's lag in 10 ms frames (default: streamF0TrackLagFrames). */
  f0TrackLagFrames?: number;
  noiseScale?: number;
  seed?: number;
  /** Generator left context before the emitted region, in ms (default per model size: defaultLeftContextMs). More = closer to offline, slower. */
  leftContextMs?: number;
  /** Generator frames after the emitted region that must be final (RIGHT_CONTEXT_FRAMES; default per model: defaultRightContextFrames). */
  rightContextFrames?: number;
  /** Look-ahead of the unvoiced-gap f0 fill in frames (default DEFAULT_GAP_LOOKAHEAD_FRAMES = 0; see dsp/f0 unvoicedF0). */
  f0GapLookaheadFrames?: number;
  encoderContext?: EncoderContext;
  /** Runs the generator over the whole window, look-ahead included (the old behaviour; for benchmarks). */
  generateWholeWindow?: boolean;
  /** Logs a line when a block had to restart the stream state (e.g. after skipped input). */
  log?: (message: string) => void;
}

/**
 * Streaming f0 method default: YIN (low-latency mode: 74 ms at 44.1 kHz/512, 60 ms at 16 kHz/320, 50 ms with the
 * tracker lag the small model's stream takes: streamF0TrackLagFrames; SwiftF0/hybrid need 115–260 ms).
 */
export const DEFAULT_STREAM_F0_METHOD: F0Choice = 'dsp';
/**
 * Streaming gap fill: causal (0 frames). An unvoiced frame holds the last voiced f0 until voicing
 * resumes, instead of ramping towards an f0 seen `gap` frames ahead: each frame of look-ahead here
 * costs a hop of latency (11.6 ms standard, 20 ms small) and changes only the excitation pitch inside
 * unvoiced frames. Offline conversion keeps so-vits-svc's interpolation unless told otherwise.
 */
export const DEFAULT_GAP_LOOKAHEAD_FRAMES = 0;
/**
 * Generator frames after the last emitted one that must be final before a block leaves (`--right-context-frames`;
 * default per model: defaultRightContextFrames). Each is one hop of latency (20 ms for the small model, 11.6 ms
 * at 44.1 kHz/512) where the f0 or the content bounds the look-ahead. Whatever this says, the generator runs
 * GENERATED_RIGHT_FRAMES past the emitted region: frames not final yet are fed what the timeline knows so far
 * (SovitsTimeline.window: the last known frame's f0, voicing and loudness, the last final content row).
 */
export const RIGHT_CONTEXT_FRAMES = { min: 0, max: 8 } as const;

/**
 * Frames the generator runs past the last emitted one, final or provisional (what has been received bounds
 * it). Its convolutions and flows reach several frames ahead; a window that ends at the emitted region
 * leaves its last frame without them. Small model's fine-tuned voices, 100 ms blocks, right context 0: with
 * no provisional frames each block's last 10 ms lost 3 dB of SNR against offline, and the streamed speech
 * lost up to 20 points of ASV acceptance and up to 8 of phone error rate; with 2 it scores about as the
 * 2-final-frame stream does (bench/README.md, session 13).
 */
export const GENERATED_RIGHT_FRAMES = 2;

/**
 * Right context frames per model when nobody chose: 0 for svc's own voices (content from svc's phone encoder,
 * which is causal, so the f0 alone bounds the look-ahead): 40 ms less latency at a cost the quality bench
 * barely sees (`npm run bench -- --only quality`, rows "right context 0, the default" and "right context 2"). 2 for other models
 * (HuBERT/ContentVec ones): never measured here on trained weights, so they keep every generator input final.
 */
export function defaultRightContextFrames(model: SovitsModel): number {
  return model.manifest.speech_encoder === SVC_PHONE_ENCODER ? 0 : 2;
}

/**
 * A live speaker change on a speaker-mix graph glides over this long, from the first frame not yet
 * emitted: a step between two embeddings is a click in timbre; 200 ms is one syllable's worth.
 */
export const SPEAKER_RAMP_MS = 200;

/**
 * Generator left context per model size, ms. Measured against offline on the standard reference bundle
 * (200 ms blocks, SNR outside crossfades): 0 ms 22.9 dB, 10 ms 45.3, 25 ms 45.5, 50 ms 45.7, 100 ms
 * 46.4, 150 ms 46.6 dB; 50 ms keeps a 2× margin over the cliff. Each 50 ms of context costs the 44.1 kHz
 * generator ~10 % of its per-block time. The tiny bundle's generator is cheap: it keeps 150 ms.
 */
export function defaultLeftContextMs(model: SovitsModel): number {
  return model.manifest.encoder?.kind === 'tiny_conv' ? 150 : 50;
}

/** Facts measured once per model (the f0 estimator's latency), shared by every stage of a factory. */
interface StageShape {
  /** dsp f0 tracker lag the stages use (undefined: the f0 mode's own). */
  f0TrackLagFrames: number | undefined;
  f0LatencySamples: number;
  /** Generator frames after the last emitted one that must be final (the option, else defaultRightContextFrames). */
  rightContextFrames: number;
  lookaheadSamples: number;
  contextSamples: number;
  /** The look-ahead when every block is a whole number of frames (wholeFrameLookaheadSamples). */
  wholeFrameLookaheadSamples: number;
}

export class NeuralStage implements ConverterStage {
  readonly name: string;
  readonly sampleRate: number;
  readonly stateful = false;
  /** The timbre is the model speaker's: only the pitch shift applies. */
  readonly controls = MODEL_CONTROLS;
  /** Set by the pipeline's block (setBlockSamples): the worst case, or one frame less for whole-frame blocks. */
  lookaheadSamples: number;
  contextSamples: number;
  /** Blocks of whole generator frames need a frame less look-ahead (setBlockSamples). */
  readonly wholeFrame: WholeFrameShape;
  /** Blocks are whole frames: the timeline restarts on a frame too (process). */
  private wholeFrameBlocks = false;
  /** svc's exports hash the NSF source by frame: windows agree in phase (no SOLA search needed). */
  readonly windowsInPhase: boolean;
  private readonly hop: number;
  private speakerId: number;
  /** Per-frame speaker weights (speaker-mix graphs only; timeline frames). */
  private track: SpeakerTrack | null = null;
  private readonly noiseScale: number;
  private readonly seed: number;
  /** Frames the generator runs past the last emitted one: the final ones, at least GENERATED_RIGHT_FRAMES. */
  private readonly generatedRightFrames: number;
  /** Look-ahead of the unvoiced-gap f0 fill, in frames. */
  readonly gapFrames: number;
  private readonly encoderContext: EncoderContext;
  private readonly f0TrackLagFrames: number | undefined;
  private ratio: number;
  private timeline: SovitsTimeline | null = null;
  /** Stream sample (pipeline count) of the timeline's sample 0. */
  private origin = 0;
  private disposed = false;

  constructor(readonly model: SovitsModel, voice: VoiceParams, private readonly options: NeuralStageOptions, private readonly shape: StageShape) {
    if (!model.isOpen) throw new SvcError('INTERNAL', `model ${model.name} was already released`);
    this.name = model.name;
    this.sampleRate = model.sampleRate;
    this.windowsInPhase = model.manifest.generator.source_noise === 'hashed-by-frame';
    this.hop = model.hopSamples;
    // Context shrinks by as much as the look-ahead: the same samples before the emitted region.
    this.wholeFrame = { frameSamples: model.hopSamples, lookaheadSamples: shape.wholeFrameLookaheadSamples, contextSamples: shape.contextSamples - (shape.lookaheadSamples - shape.wholeFrameLookaheadSamples) };
    if (isSpeakerSchedule(options.speaker)) {
      // A schedule's times count from the start of the stream.
      const keys = parseSpeakerSchedule(model.manifest, options.speaker);
      this.speakerId = keys[0]!.choice.speakerId;
      if (model.manifest.speaker_mix) this.track = SpeakerTrack.fromSchedule(model.manifest, keys, model.sampleRate / model.hopSamples);
    } else {
      const choice = model.speakerChoice(options.speaker);
      this.speakerId = choice.speakerId;
      if (model.manifest.speaker_mix) this.track = SpeakerTrack.constant(model.manifest, choice);
    }
    this.noiseScale = options.noiseScale ?? DEFAULT_NOISE_SCALE;
    this.seed = options.seed ?? 0;
    this.generatedRightFrames = Math.max(shape.rightContextFrames, GENERATED_RIGHT_FRAMES);
    this.gapFrames = options.f0GapLookaheadFrames ?? DEFAULT_GAP_LOOKAHEAD_FRAMES;
    this.encoderContext = options.encoderContext ?? defaultEncoderContext(model);
    this.lookaheadSamples = shape.lookaheadSamples;
    this.f0TrackLagFrames = shape.f0TrackLagFrames;
    this.contextSamples = shape.contextSamples;
    this.ratio = semitonesToRatio(voice.pitch);
  }

  /**
   * The pipeline's block: with whole frames (40 ms blocks of a 20 ms hop), the last sample each block
   * emits ends a frame, so the features are final a frame earlier than in the worst case and the
   * look-ahead (and the context, by as much) is one frame shorter (wholeFrameLookaheadSamples).
   */
  setBlockSamples(blockSamples: number): void {
    ({ lookaheadSamples: this.lookaheadSamples, contextSamples: this.contextSamples, wholeFrames: this.wholeFrameBlocks } = stageShapeForBlock(this.shape, this.wholeFrame, blockSamples));
  }

  setVoice(voice: Partial<VoiceParams>): void {
    // The neural voice's timbre is the model speaker's: formant does not apply.
    if (voice.pitch !== undefined) this.ratio = semitonesToRatio(voice.pitch);
  }

  reset(): void {
    this.dropTimeline();
  }

  /**
   * Another speaker or mix of the same model, while streaming: on a speaker-mix graph the weights ramp
   * over SPEAKER_RAMP_MS from the first frame not yet emitted (frames already heard keep theirs), and
   * true is returned. False for a single-sid graph (nothing to ramp: the caller swaps the stage).
   * INVALID_ARGUMENT for an unknown speaker.
   */
  setSpeaker(speaker: string | undefined): boolean {
    const choice = this.model.speakerChoice(speaker);
    this.model.checkClusterRatio(this.options.clusterRatio, choice.speakerId);
    if (!this.track) return false;
    const row = choiceRow(this.model.manifest, choice);
    const timeline = this.timeline;
    const fromFrame = timeline ? Math.max(0, Math.ceil((timeline.received - this.lookaheadSamples) / this.hop)) : 0;
    this.track.rampTo(row, fromFrame, Math.round((SPEAKER_RAMP_MS / 1000) * (this.sampleRate / this.hop)));
    return true;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.dropTimeline();
  }

  private dropTimeline(): void {
    this.timeline?.dispose();
    this.timeline = null;
  }

  async process(window: Float32Array, time: BlockTime): Promise<Float32Array> {
    if (this.disposed) throw new SvcError('INTERNAL', `neural stage ${this.name} used after dispose`);
    const w = window.length;
    const seenEnd = this.timeline ? this.origin + this.timeline.received : -Infinity;
    let fresh: Float32Array;
    if (this.timeline && time.startSample <= seenEnd && time.startSample + w >= seenEnd) {
      // Continuous: the window holds what was fed up to seenEnd, then new input (one block, or more after
      // blocks the pipeline handled by its behind policy).
      fresh = window.subarray(seenEnd - time.startSample);
    } else {
      if (this.timeline) this.options.log?.(`neural stage ${this.name}: input is not continuous; restarting its features`);
      // The track counts timeline frames: a new timeline starts from the weights last asked for.
      if (this.timeline) this.track?.settle();
      this.dropTimeline();
      this.timeline = await SovitsTimeline.create({
        sampleRate: this.sampleRate,
        hopSamples: this.hop,
        f0Method: this.options.f0Method ?? DEFAULT_STREAM_F0_METHOD,
        f0LowLatency: this.options.f0LowLatency ?? true,
        f0TrackLagFrames: this.f0TrackLagFrames,
        volume: this.model.volEmbedding,
        encoder: this.model,
        contentDim: this.model.contentDim,
        encoderContext: this.encoderContext,
        gapLookaheadFrames: this.gapFrames,
      });
      // The stream starts at sample 0 (as a file starts at its first sample; the context before it is
      // zeros). After a discontinuity the whole window becomes the new history.
      this.origin = Math.max(0, time.startSample);
      // With whole-frame blocks the timeline must end each block on a frame (the shorter look-ahead
      // relies on it): a restart drops the window's first (w − origin) mod hop samples of context.
      if (this.wholeFrameBlocks) this.origin += (time.startSample + w - this.origin) % this.hop;
      fresh = window.subarray(this.origin - time.startSample);
    }
    const timeline = this.timeline!;
    await timeline.push(fresh);
    // The generator stops generatedRightFrames frames after the last sample SOLA can use (the window's last
    // lookaheadSamples are never emitted): re-running that look-ahead region each block was ~40 % of the
    // generator's work at 200 ms blocks for nothing. Frames past the first shape.rightContextFrames are
    // provisional (the timeline's window holds what it knows). The unused tail of the window is silence.
    const received = timeline.received;
    const start = received - w;
    const usedEnd = received - this.lookaheadSamples;
    const generateEnd = this.options.generateWholeWindow ? received : Math.min(received, (Math.ceil(usedEnd / this.hop) + this.generatedRightFrames) * this.hop);
    return this.generateWindow(timeline, start, Math.max(1, generateEnd - start), w);
  }

  /** Generates samples [start, start + length) of the stream into a zeroed array of `outLength` samples (the pipeline's window). */
  private async generateWindow(timeline: SovitsTimeline, start: number, length: number, outLength: number): Promise<Float32Array> {
    const hop = this.hop;
    const k0 = Math.floor(start / hop);
    const k1 = Math.ceil((start + length) / hop);
    const window = timeline.window(k0, k1, this.ratio);
    const track = this.track;
    // The cluster model (if any) of the speaker weighing most at the window's end applies.
    if (track) this.speakerId = this.model.manifest.speakers[this.model.manifest.speaker_mix!.columns[track.heaviestColumn(k1 - 1)]!]!;
    const audio = await this.model.generate(window, {
      speakerId: this.speakerId,
      speakerRows: track?.rows(k0, k1 - k0),
      clusterRatio: this.options.clusterRatio,
      noiseScale: this.noiseScale,
      seed: this.seed,
      sourcePhaseCycles: timeline.sourcePhase(k0, this.ratio, window.f0Hz),
    });
    timeline.forgetBefore(k0);
    track?.forgetBefore(k0);
    const offset = start - k0 * hop;
    const out = new Float32Array(outLength);
    out.set(audio.subarray(offset, offset + Math.min(length, outLength)));
    return out;
  }
}

/**
 * Stage factory for a loaded model (the model is shared; each session gets its own stage and streams).
 * Measures the f0 estimator's latency once, to size the look-ahead.
 */
export async function createNeuralStageFactory(model: SovitsModel, options: NeuralStageOptions = {}): Promise<StageFactory & { shape: StageShape }> {
  await SovitsTimeline.ready();
  // Unknown speaker, a mix the graph cannot take or a cluster ratio without a cluster: fail now, not per session.
  const keys = isSpeakerSchedule(options.speaker) ? parseSpeakerSchedule(model.manifest, options.speaker).map((key) => key.choice) : [model.speakerChoice(options.speaker)];
  for (const choice of keys) model.checkClusterRatio(options.clusterRatio, choice.speakerId);
  // A feature index is parsed before the first block, not during it.
  if (options.clusterRatio && model.manifest.cluster?.kind === 'index') for (const choice of keys) await model.indexSearcher(choice.speakerId);
  const f0Method = options.f0Method ?? DEFAULT_STREAM_F0_METHOD;
  const f0LowLatency = options.f0LowLatency ?? true;
  const f0TrackLagFrames = await streamF0TrackLagFrames(model, { ...options, f0Method, f0LowLatency });
  const f0LatencySamples = await SovitsTimeline.f0LatencySamples({ sampleRate: model.sampleRate, hopSamples: model.hopSamples, f0Method, f0LowLatency, f0TrackLagFrames });
  const shape = { ...neuralStageShape(model, f0LatencySamples, options), f0TrackLagFrames };
  const factory: StageFactory = ({ voice }) => new NeuralStage(model, voice, options, shape);
  return Object.assign(factory, { shape });
}

/**
 * The dsp f0 tracker lag of a stream of this model with these options: the caller's, else in low-latency
 * mode the shortest one that still buys latency (SovitsTimeline.lowLatencyF0TrackLagFrames: 1 frame for the
 * small model, whose causal encoder leaves the f0 as the look-ahead's bound; else the mode's 2).
 * Offline conversion with f0LowLatency takes the same, so streamed and offline frames stay equal.
 */
export async function streamF0TrackLagFrames(model: SovitsModel, options: Pick<NeuralStageOptions, 'f0Method' | 'f0LowLatency' | 'f0TrackLagFrames' | 'f0GapLookaheadFrames' | 'encoderContext'>): Promise<number | undefined> {
  if (options.f0TrackLagFrames !== undefined || !(options.f0LowLatency ?? true)) return options.f0TrackLagFrames;
  const gap = options.f0GapLookaheadFrames;
  return SovitsTimeline.lowLatencyF0TrackLagFrames({
    sampleRate: model.sampleRate,
    hopSamples: model.hopSamples,
    f0Method: options.f0Method ?? DEFAULT_STREAM_F0_METHOD,
    encoderContext: options.encoderContext ?? defaultEncoderContext(model),
    // Offline's unbounded gap fill (Infinity) is no stream setting: the stream default stands in for it.
    gapLookaheadFrames: gap !== undefined && Number.isFinite(gap) ? gap : DEFAULT_GAP_LOOKAHEAD_FRAMES,
  });
}

/** Look-ahead and context of a model's stage (samples at the model rate). */
export function neuralStageShape(model: SovitsModel, f0LatencySamples: number, options: NeuralStageOptions = {}): Omit<StageShape, 'f0TrackLagFrames'> {
  const sr = model.sampleRate;
  const hop = model.hopSamples;
  const right = options.rightContextFrames ?? defaultRightContextFrames(model);
  const encoderLatency = SovitsTimeline.encoderLatencySamples(sr, options.encoderContext ?? defaultEncoderContext(model));
  const gap = options.f0GapLookaheadFrames ?? DEFAULT_GAP_LOOKAHEAD_FRAMES;
  // The last sample SOLA can emit is u − 1 (u = received − lookahead), in frame k = floor((u − 1)/hop);
  // the generator runs up to frame k + right (process()), so frames ≤ k + right must be final:
  //   f0: frame j is known at j·hop + f0Latency, and its gap fill needs `gap` more frames;
  //   content: frame j's row is final at j·hop + encoderLatency.
  // With k·hop ≤ u − 1 that is exactly the bound below (the parity tests check it: streamed = offline).
  // (It once added 2 hops more: 23 ms at 44.1 kHz/512, 40 ms at 16 kHz/320.)
  const lookaheadSamples = Math.max(f0LatencySamples + (right + gap) * hop, encoderLatency + right * hop);
  const leftContext = Math.round(((options.leftContextMs ?? defaultLeftContextMs(model)) * sr) / 1000);
  return { f0LatencySamples, rightContextFrames: right, lookaheadSamples, contextSamples: lookaheadSamples + leftContext + Math.round(0.02 * sr), wholeFrameLookaheadSamples: wholeFrameLookaheadSamples(lookaheadSamples, hop) };
}

/**
 * The look-ahead when blocks are whole frames and the timeline starts on one: the last emitted sample u − 1
 * then always ends frame k = u/hop − 1 (not, at worst, starts it), so the frames up to k + right are final
 * a hop earlier than the worst case above; rounded up to whole frames, so that u stays on a frame
 * boundary block after block. Small model (hop 20 ms, worst 90 ms): 80 ms; tiny 105 → 100 ms; the
 * 44.1 kHz template 97.2 → 92.9 ms (blocks of whole 11.6 ms frames).
 */
export function wholeFrameLookaheadSamples(worstLookaheadSamples: number, hopSamples: number): number {
  return Math.max(0, Math.ceil((worstLookaheadSamples - hopSamples) / hopSamples) * hopSamples);
}
