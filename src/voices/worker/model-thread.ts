// Worker-thread side of ModelWorkers (model-host.ts): one thread per model bundle. It loads the bundle
// (ONNX sessions, checks, warm-up: hundreds of ms to seconds of synchronous work that would otherwise
// stall every session on the server's thread), builds its stage factories (one per speaker asked for),
// and runs the stages of every session using the model: each `process` gets a window with its time and
// answers with the converted window; buffers are transferred, not copied.
import { parentPort, workerData } from 'node:worker_threads';
import { isSvcError } from '../../errors.js';
import { ModelResolver, type ModelResolverOptions } from '../registry.js';
import { DEFAULT_VOICE, type BlockTime, type ConverterStage, type StageFactory, type VoiceControl, type VoiceParams, type WholeFrameShape } from '../stage.js';
import { applyStageControl, type StageControlRequest } from './stage-control.js';

/** What the main thread needs to know of a model's stages before the first block (the same for every session). */
export interface StageShape {
  name: string;
  sampleRate: number;
  lookaheadSamples: number;
  contextSamples: number;
  stateful: boolean;
  windowsInPhase?: boolean;
  /** Blocks of whole frames take these instead (ConverterStage.wholeFrame). */
  wholeFrame?: WholeFrameShape;
  controls?: VoiceControl[];
  /** The stage changes speakers in place, ramped (a So-VITS speaker-mix graph: NeuralStage.setSpeaker). */
  speakerRamp?: boolean;
}

/** An error as it crosses the thread boundary: SvcError's code, message and hint survive. */
export interface WireError {
  code?: string;
  message: string;
  hint?: string;
}

/** The resolver's options that cross to the thread (plain data: no functions). */
export type ThreadResolverOptions = Omit<ModelResolverOptions, 'builtin' | 'log'>;

export type ModelRequest =
  | { op: 'load'; id: number; dir: string; speaker: string | undefined }
  | { op: 'create'; id: number; load: number; clientSampleRate: number; voice: VoiceParams }
  | { op: 'process'; id: number; buffer: ArrayBuffer; time: BlockTime }
  | { op: 'speaker'; id: number; speaker: string | undefined }
  | { op: 'block'; id: number; blockSamples: number }
  | StageControlRequest;

export type ModelReply =
  | { op: 'loaded'; id: number; shape: StageShape }
  | { op: 'out'; id: number; buffer: ArrayBuffer }
  | { op: 'error'; id: number; error: WireError }
  | { op: 'log'; id: 0; line: string };

export function toWireError(error: unknown): WireError {
  if (isSvcError(error)) return { code: error.code, message: error.message, hint: error.hint };
  return { message: error instanceof Error ? error.message : String(error) };
}

const port = parentPort;
if (port) {
  const log = (line: string) => port.postMessage({ op: 'log', id: 0, line } satisfies ModelReply);
  const resolver = new ModelResolver({ ...(workerData as ThreadResolverOptions), builtin: () => Promise.reject(new Error('the built-in voice runs on the main thread')), log });
  const factories = new Map<number, StageFactory>();
  const stages = new Map<number, ConverterStage>();
  /** Stages whose creation failed: their blocks are answered with this error. */
  const failedStages = new Map<number, WireError>();
  const fail = (id: number, error: unknown) => port.postMessage({ op: 'error', id, error: toWireError(error) } satisfies ModelReply);

  port.on('message', (request: ModelRequest) => {
    switch (request.op) {
      case 'load':
        resolver.defaultFactory(request.dir, request.speaker).then((factory) => {
          // A probe stage tells the shape every session's stage will have (it depends on the model and the
          // server's options, not on the client's rate); it never sees a block.
          const probe = factory({ clientSampleRate: 48000, voice: { ...DEFAULT_VOICE } });
          const shape: StageShape = {
            name: probe.name, sampleRate: probe.sampleRate, lookaheadSamples: probe.lookaheadSamples,
            contextSamples: probe.contextSamples, stateful: probe.stateful, windowsInPhase: probe.windowsInPhase, wholeFrame: probe.wholeFrame, controls: probe.controls ? [...probe.controls] : undefined,
            // The probe is thrown away, so asking it to change speaker has no effect beyond the answer.
            speakerRamp: probe.setSpeaker?.(undefined) ?? false,
          };
          probe.dispose();
          factories.set(request.id, factory);
          port.postMessage({ op: 'loaded', id: request.id, shape } satisfies ModelReply);
        }).catch((error: unknown) => fail(request.id, error));
        return;
      case 'create':
        try {
          stages.set(request.id, factories.get(request.load)!({ clientSampleRate: request.clientSampleRate, voice: request.voice }));
        } catch (error) {
          failedStages.set(request.id, toWireError(error));
        }
        return;
      case 'process': {
        const stage = stages.get(request.id);
        if (!stage) {
          port.postMessage({ op: 'error', id: request.id, error: failedStages.get(request.id) ?? { code: 'INTERNAL', message: 'no such stage on the model thread' } } satisfies ModelReply);
          return;
        }
        Promise.resolve()
          .then(() => stage.process(new Float32Array(request.buffer), request.time))
          .then((output) => {
            // The stage may return a view of a buffer it keeps: only a whole, unshared buffer is transferred.
            const out = output.byteOffset === 0 && output.byteLength === output.buffer.byteLength ? output : output.slice();
            port.postMessage({ op: 'out', id: request.id, buffer: out.buffer as ArrayBuffer } satisfies ModelReply, [out.buffer as ArrayBuffer]);
          })
          .catch((error: unknown) => fail(request.id, error));
        return;
      }
      case 'block':
        stages.get(request.id)?.setBlockSamples?.(request.blockSamples);
        return;
      case 'speaker':
        // The main thread validated the name against the bundle's speakers; what else fails is logged.
        try {
          stages.get(request.id)?.setSpeaker?.(request.speaker);
        } catch (error) {
          log(`speaker change to ${JSON.stringify(request.speaker)} failed: ${toWireError(error).message}`);
        }
        return;
      default:
        if (request.op === 'dispose') failedStages.delete(request.id);
        applyStageControl(stages, request);
        return;
    }
  });
}
