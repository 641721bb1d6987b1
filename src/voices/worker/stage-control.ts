// The control messages every stage thread (the DSP pool's, a model's) answers the same way: a voice change,
// a reset and a dispose of the stage a session owns there. `process`, `create` and the rest differ per thread.
import type { VoiceParams, ConverterStage } from '../stage.js';

export type StageControlRequest =
  | { op: 'voice'; id: number; voice: Partial<VoiceParams> }
  | { op: 'reset'; id: number }
  | { op: 'dispose'; id: number };

/** Applies `request` to the stage it names (a stage already gone is ignored: its session ended first). */
export function applyStageControl(stages: Map<number, Pick<ConverterStage, 'setVoice' | 'reset' | 'dispose'>>, request: StageControlRequest): void {
  const stage = stages.get(request.id);
  switch (request.op) {
    case 'voice':
      stage?.setVoice(request.voice);
      return;
    case 'reset':
      stage?.reset();
      return;
    case 'dispose':
      stage?.dispose();
      stages.delete(request.id);
      return;
  }
}
