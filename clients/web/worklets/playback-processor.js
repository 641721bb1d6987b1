// AudioWorklet: playback of the converted voice through a small, bounded jitter buffer.
//  - Blocks from the network are appended to a ring buffer of `capacitySamples`; when a write does
//    not fit, the OLDEST samples are dropped (latency stays bounded; `droppedSamples` counts them).
//  - Playback starts (and restarts after an underrun) once `targetSamples` are buffered, or once the
//    first samples have waited `targetSamples` long, whichever comes first, which absorbs network
//    jitter. The second rule matters for blocks longer than the target (neural voices at 100–200 ms):
//    audio then arrives a block at a time, and starting on arrival leaves nothing for the next
//    block's jitter; waiting the target after arrival leaves the target. An underrun (the buffer ran
//    dry mid-quantum) is counted and the rest of the quantum is silence.
//  - The ring always holds the target plus two of the largest frames seen (it grows, keeping its
//    contents, when frames grow: a longer block, a model switch), so a whole block is never dropped.
//  - Bursts can leave the buffer fuller than needed for good. Once a second, if the buffer never went
//    below target + 10 ms during that second, the excess is skipped with a short crossfade, so the
//    delay returns to the target instead of staying high (`trimmedSamples` counts it).
//  - About 20 times a second it reports buffer level, counters and output peak/RMS to the main thread,
//    and the wait audio really had: the level each frame found when it arrived (its first sample
//    plays that much later), averaged over the report. The level at report time is a sawtooth between
//    that and a block more, so it is not what arriving audio waits.
class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const o = options.processorOptions;
    this.configure(o.targetSamples, o.capacitySamples);
    this.playing = false;
    this.waitedFrames = 0;
    this.largestFrame = 0;
    this.underruns = 0;
    this.droppedSamples = 0;
    this.receivedSamples = 0;
    this.playedSamples = 0;
    this.peak = 0;
    this.energy = 0;
    this.energyCount = 0;
    this.quantaSinceReport = 0;
    this.arrivalWaitSum = 0;
    this.arrivals = 0;
    this.trimmedSamples = 0;
    this.minLengthThisWindow = Infinity;
    this.windowFrames = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  configure(targetSamples, capacitySamples) {
    this.targetSamples = Math.max(128, targetSamples | 0);
    const capacity = Math.max(this.targetSamples + 256, this.targetSamples + 2 * (this.largestFrame ?? 0), capacitySamples | 0);
    const pending = this.ring ? this.takeAll() : null;
    this.ring = new Float32Array(capacity);
    this.readIndex = 0;
    this.length = 0;
    if (pending) this.append(pending); // keeps the newest samples that fit
  }

  onMessage(message) {
    if (!message) return;
    if (message.type === 'samples') {
      const n = message.samples.length;
      this.receivedSamples += n;
      // Before the audio starts (or re-buffers after an underrun) a frame also waits for the start: on
      // the target level or once the first samples waited the target, whichever comes first.
      this.arrivalWaitSum += this.length + (this.playing ? 0 : Math.max(0, Math.min(this.targetSamples - this.waitedFrames, this.targetSamples - this.length - n)));
      this.arrivals++;
      if (n > this.largestFrame) {
        this.largestFrame = n;
        if (this.targetSamples + 2 * n > this.ring.length) this.configure(this.targetSamples, this.targetSamples + 2 * n);
      }
      this.append(message.samples);
    } else if (message.type === 'configure') {
      this.configure(message.targetSamples, message.capacitySamples);
    } else if (message.type === 'reset') {
      this.readIndex = 0;
      this.length = 0;
      this.playing = false;
    }
  }

  /** Removes and returns everything buffered, oldest first. */
  takeAll() {
    const out = new Float32Array(this.length);
    for (let i = 0; i < out.length; i++) out[i] = this.ring[(this.readIndex + i) % this.ring.length];
    this.readIndex = 0;
    this.length = 0;
    return out;
  }

  append(samples) {
    const capacity = this.ring.length;
    let source = samples;
    if (source.length > capacity) {
      this.droppedSamples += source.length - capacity;
      source = source.subarray(source.length - capacity);
    }
    const overflow = this.length + source.length - capacity;
    if (overflow > 0) {
      // Drop the oldest audio: what is late is worth less than what is new.
      this.readIndex = (this.readIndex + overflow) % capacity;
      this.length -= overflow;
      this.droppedSamples += overflow;
    }
    let writeIndex = (this.readIndex + this.length) % capacity;
    for (let i = 0; i < source.length; i++) {
      this.ring[writeIndex] = source[i];
      writeIndex = writeIndex + 1 === capacity ? 0 : writeIndex + 1;
    }
    this.length += source.length;
  }

  process(inputs, outputs) {
    const output = outputs[0];
    const out = output[0];
    const frames = out.length;
    if (!this.playing) {
      this.waitedFrames = this.length > 0 ? this.waitedFrames + frames : 0;
      if (this.length >= this.targetSamples || this.waitedFrames >= this.targetSamples) {
        this.playing = true;
        this.waitedFrames = 0;
      }
    }
    let produced = 0;
    if (this.playing) {
      produced = Math.min(frames, this.length);
      const capacity = this.ring.length;
      for (let i = 0; i < produced; i++) {
        const s = this.ring[this.readIndex];
        this.readIndex = this.readIndex + 1 === capacity ? 0 : this.readIndex + 1;
        out[i] = s;
        const a = s < 0 ? -s : s;
        if (a > this.peak) this.peak = a;
        this.energy += s * s;
      }
      this.length -= produced;
      this.playedSamples += produced;
      if (produced < frames) {
        this.underruns++;
        this.playing = false; // re-buffer to the target before playing again
      }
    }
    for (let i = produced; i < frames; i++) out[i] = 0;
    this.trackExcess(frames);
    this.energyCount += frames;
    for (let c = 1; c < output.length; c++) output[c].set(out);

    if (++this.quantaSinceReport >= 20) this.report();
    return true;
  }

  /** Skips audio the buffer has held beyond target + 10 ms for a whole second (see the header). */
  trackExcess(frames) {
    if (!this.playing) {
      this.minLengthThisWindow = Infinity;
      this.windowFrames = 0;
      return;
    }
    if (this.length < this.minLengthThisWindow) this.minLengthThisWindow = this.length;
    this.windowFrames += frames;
    if (this.windowFrames < sampleRate) return;
    const fade = 64;
    const margin = Math.round(0.01 * sampleRate);
    const excess = this.minLengthThisWindow - this.targetSamples;
    if (excess > margin && this.length - excess >= fade) this.skip(excess, fade);
    this.minLengthThisWindow = Infinity;
    this.windowFrames = 0;
  }

  /** Drops `count` samples at the read position, crossfading `fade` samples so there is no click. */
  skip(count, fade) {
    const capacity = this.ring.length;
    for (let k = 0; k < fade; k++) {
      const w = (k + 1) / (fade + 1);
      const a = this.ring[(this.readIndex + k) % capacity];
      const j = (this.readIndex + count + k) % capacity;
      this.ring[j] = a * (1 - w) + this.ring[j] * w;
    }
    this.readIndex = (this.readIndex + count) % capacity;
    this.length -= count;
    this.trimmedSamples += count;
  }

  report() {
    this.port.postMessage({
      type: 'status',
      bufferedSamples: this.length,
      // null when no frame arrived since the last report (a block longer than the report interval).
      arrivalWaitSamples: this.arrivals > 0 ? this.arrivalWaitSum / this.arrivals : null,
      targetSamples: this.targetSamples,
      capacitySamples: this.ring.length,
      playing: this.playing,
      underruns: this.underruns,
      droppedSamples: this.droppedSamples,
      trimmedSamples: this.trimmedSamples,
      receivedSamples: this.receivedSamples,
      playedSamples: this.playedSamples,
      peak: this.peak,
      rms: Math.sqrt(this.energy / Math.max(1, this.energyCount)),
    });
    this.quantaSinceReport = 0;
    this.arrivalWaitSum = 0;
    this.arrivals = 0;
    this.peak = 0;
    this.energy = 0;
    this.energyCount = 0;
  }
}

registerProcessor('svc-playback', PlaybackProcessor);
