// The contract between the streaming wrapper (stream.ts) and each analyser: 16 kHz audio in,
// frames on the analyser's own grid out (frame j centred at 16 kHz sample j*hop + centreOffset).
import type { NativeFrame } from './types.js';

export interface NativeSource {
  /** Native hop in 16 kHz samples. */
  readonly hop: number;
  /** Centre of native frame 0, in 16 kHz samples. */
  readonly centreOffset: number;
  /** 16 kHz samples needed after a frame's centre before that frame is final (fixed latency). */
  readonly lookahead: number;
  push(samples16k: Float32Array): void;
  /**
   * Resolves the frames that became final. With `final` the input has ended: the source pads
   * zeros and emits every frame whose centre is ≤ endCentre (16 kHz samples).
   */
  frames(final: boolean, endCentre?: number): Promise<NativeFrame[]>;
  dispose(): void | Promise<void>;
}
