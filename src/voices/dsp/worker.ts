// Worker-thread side of the DSP voice pool (pool.ts): holds the DspVoiceStage of every session assigned
// to this thread and answers each `process` with the converted block (buffers are transferred, not copied).
import { parentPort } from 'node:worker_threads';
import { errorMessage } from '../../errors.js';
import type { VoiceParams } from '../stage.js';
import { DspVoiceStage } from './stage.js';
import { applyStageControl, type StageControlRequest } from '../worker/stage-control.js';

export type PoolRequest =
  | { op: 'create'; id: number; sampleRate: number; voice: VoiceParams }
  | { op: 'process'; id: number; buffer: ArrayBuffer }
  | StageControlRequest;

export type PoolReply = { op: 'out'; id: number; buffer: ArrayBuffer } | { op: 'error'; id: number; message: string } | { op: 'ready'; id: 0 };

const stages = new Map<number, DspVoiceStage>();
const port = parentPort!;
port.postMessage({ op: 'ready', id: 0 } satisfies PoolReply);

port.on('message', (request: PoolRequest) => {
  try {
    switch (request.op) {
      case 'create':
        stages.set(request.id, new DspVoiceStage(request.sampleRate, request.voice));
        return;
      case 'process': {
        const output = stages.get(request.id)!.process(new Float32Array(request.buffer));
        const reply: PoolReply = { op: 'out', id: request.id, buffer: output.buffer as ArrayBuffer };
        port.postMessage(reply, [output.buffer as ArrayBuffer]);
        return;
      }
      default:
        applyStageControl(stages, request);
        return;
    }
  } catch (error) {
    const reply: PoolReply = { op: 'error', id: request.id, message: errorMessage(error) };
    port.postMessage(reply);
  }
});
