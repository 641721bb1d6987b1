// Public surface of the streaming area: the converter-stage interface, the rxjs pipeline (ring buffer →
// blocks + context → stage → SOLA), sessions, the WebSocket server (protocol v1, docs/protocol.md) and a
// protocol client.
export { type ConverterStage, type StageFactory, type VoiceParams, PassThroughStage } from './stage.js';
export { DspVoiceStage, createDspStageFactory } from './dspStage.js';
export { StreamPipeline, convertChunks, BEHIND_POLICIES, type BehindPolicy, type PipelineOptions, type PipelineStats } from './pipeline.js';
export { SolaStitcher, findSolaOffset, crossfadeInto, solaDelaySamples, solaMinimumContextSamples, type SolaOptions } from './sola.js';
export { Float32RingBuffer } from './ringBuffer.js';
export { ConvertSession, OutputEncoder, type SessionOptions, type StreamFormat } from './session.js';
export { createServer, startServer, loadBuiltinStageFactory, hardMaxPayloadBytes, type ServerOptions, type SvcServer } from './server.js';
export { StreamClient, streamAudio, normalizeServerUrl, type StreamClientOptions, type StreamAudioOptions, type StreamAudioResult } from './client.js';
export * from './protocol.js';
