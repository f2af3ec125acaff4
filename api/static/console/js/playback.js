// Plays spans of the uploaded recording in the browser (Web Audio API): the service does
// not keep raw audio, so the highest-scoring windows are sliced from the local file.

export class Player {
  constructor() {
    this.ctx = null;
    this.buffer = null;
    this.mono = new Map();
    this.source = null;
  }

  /** Decode a File/Blob; return {channels, duration} or throw when the browser cannot. */
  async load(blob) {
    this.stop();
    this.buffer = null;
    this.mono.clear();
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) throw new Error("Web Audio is not available in this browser.");
    if (!this.ctx) this.ctx = new Ctx();
    const bytes = await blob.arrayBuffer();
    this.buffer = await this.ctx.decodeAudioData(bytes);
    return { channels: this.buffer.numberOfChannels, duration: this.buffer.duration };
  }

  get ready() {
    return this.buffer !== null;
  }

  #channelBuffer(channel) {
    const buf = this.buffer;
    if (channel === "mix" || buf.numberOfChannels < 2) return buf;
    const ch = Math.min(Number(channel), buf.numberOfChannels - 1);
    if (!this.mono.has(ch)) {
      const mono = this.ctx.createBuffer(1, buf.length, buf.sampleRate);
      mono.copyToChannel(buf.getChannelData(ch), 0);
      this.mono.set(ch, mono);
    }
    return this.mono.get(ch);
  }

  /** Play [start, end) seconds of the recording (one channel, or all for "mix"). */
  async play(start, end, channel = "mix", onEnded = null) {
    if (!this.buffer) throw new Error("Nothing to play.");
    this.stop();
    await this.ctx.resume();
    const src = this.ctx.createBufferSource();
    src.buffer = this.#channelBuffer(channel);
    src.connect(this.ctx.destination);
    src.onended = () => {
      if (this.source === src) this.source = null;
      if (onEnded) onEnded();
    };
    const from = Math.max(0, Math.min(start, src.buffer.duration));
    src.start(0, from, Math.max(0.01, Math.min(end, src.buffer.duration) - from));
    this.source = src;
  }

  stop() {
    if (this.source) {
      const src = this.source;
      this.source = null;
      try {
        src.stop();
      } catch {
        /* already stopped */
      }
    }
  }
}
