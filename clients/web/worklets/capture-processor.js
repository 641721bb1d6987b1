// AudioWorklet: microphone capture. Mixes the input to mono, cuts it into blocks of exactly
// `blockSamples` (the rate is the AudioContext's) and transfers each block to the main thread with
// its peak and RMS, so the main thread only forwards bytes to the WebSocket and draws meters.
class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.blockSamples = options.processorOptions.blockSamples;
    this.block = new Float32Array(this.blockSamples);
    this.filled = 0;
    this.enabled = true;
    this.port.onmessage = (event) => {
      if (event.data && event.data.type === 'enable') this.enabled = Boolean(event.data.enabled);
    };
  }

  process(inputs, outputs) {
    const input = inputs[0];
    // Keep the (silent) output alive so that the node is always pulled by the graph.
    for (const channel of outputs[0] ?? []) channel.fill(0);
    if (!this.enabled || !input || input.length === 0) return true;
    const frames = input[0].length;
    const channelCount = input.length;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < channelCount; c++) sum += input[c][i];
      this.block[this.filled++] = sum / channelCount;
      if (this.filled === this.blockSamples) this.flush();
    }
    return true;
  }

  flush() {
    const samples = this.block;
    let peak = 0;
    let energy = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      const a = s < 0 ? -s : s;
      if (a > peak) peak = a;
      energy += s * s;
    }
    const rms = Math.sqrt(energy / samples.length);
    // currentTime: context time (s) at the end of this block, for latency bookkeeping.
    this.port.postMessage({ type: 'block', samples, peak, rms, time: currentTime }, [samples.buffer]);
    this.block = new Float32Array(this.blockSamples);
    this.filled = 0;
  }
}

registerProcessor('svc-capture', CaptureProcessor);
