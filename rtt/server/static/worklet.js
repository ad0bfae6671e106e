// AudioWorklet: microphone samples (at the context's rate) -> 16 kHz mono PCM16LE frames of 0.1 s.
// Resampling is linear interpolation after a one-pole low-pass; good enough for speech recognition.
class Pcm16Writer extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.targetRate = (options.processorOptions && options.processorOptions.targetRate) || 16000;
    this.step = sampleRate / this.targetRate;  // input samples per output sample
    this.position = 0;  // fractional read position into the input stream
    this.previous = 0;  // the last input sample of the previous block
    this.smooth = 0;
    this.alpha = Math.min(1, (2 * Math.PI * this.targetRate * 0.45) / sampleRate);
    this.frame = new Int16Array(this.targetRate / 10);
    this.filled = 0;
  }

  process(inputs) {
    const channels = inputs[0];
    if (!channels || channels.length === 0) return true;
    const input = channels[0];
    const filtered = new Float32Array(input.length);
    for (let i = 0; i < input.length; i++) {
      let sum = 0;
      for (const ch of channels) sum += ch[i];
      this.smooth += this.alpha * (sum / channels.length - this.smooth);
      filtered[i] = this.step > 1 ? this.smooth : sum / channels.length;
    }
    while (this.position < input.length) {
      const i = Math.floor(this.position);
      const frac = this.position - i;
      const a = i === 0 ? this.previous : filtered[i - 1];
      const b = filtered[i];
      this.emit(a + (b - a) * frac);
      this.position += this.step;
    }
    this.position -= input.length;
    this.previous = filtered[input.length - 1];
    return true;
  }

  emit(sample) {
    const clipped = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled++] = clipped < 0 ? clipped * 0x8000 : clipped * 0x7fff;
    if (this.filled === this.frame.length) {
      this.port.postMessage(this.frame.buffer, [this.frame.buffer]);
      this.frame = new Int16Array(this.targetRate / 10);
      this.filled = 0;
    }
  }
}

registerProcessor("pcm16-writer", Pcm16Writer);
