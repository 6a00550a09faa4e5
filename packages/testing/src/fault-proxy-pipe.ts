import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/**
 * The moving parts of the fault proxy (see `fault-proxy.ts` for the API): one `ProxiedConnection`
 * per accepted client socket, holding the socket to the target and one `Pipe` per direction.
 * A pipe reads the current fault settings on every chunk and on every mode change, so a new mode
 * applies to open connections at once.
 */
export type FaultMode = { kind: 'pass' } | { kind: 'delay'; ms: number; jitterMs: number } | { kind: 'blackhole' } | { kind: 'cut' };

export interface FaultSettings {
  mode: FaultMode;
  /** Bytes per second each direction of each connection may carry; null = unlimited. */
  bytesPerSecond: number | null;
  /** Bytes a pipe may hold back (delay, bandwidth) before it pauses its source socket. */
  highWaterMark: number;
}

export interface FaultCounters {
  bytesToTarget: number;
  bytesToClient: number;
  bytesSwallowed: number;
  resets: number;
}

interface Held {
  data: Buffer;
  readyAt: number;
}

/** Largest piece written at once under a bandwidth limit: 1/20 s worth, so the rate is smooth. */
const BANDWIDTH_SLICES_PER_SECOND = 20;

/** One direction of one connection: reads `src`, writes `dst` as the fault settings allow. */
export class Pipe {
  private held: Held[] = [];
  private heldBytes = 0;
  private lastReadyAt = 0;
  private linkFreeAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private srcEnded = false;
  private dstEnded = false;
  private paused = false;
  private stopped = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly settings: () => FaultSettings,
    private readonly forwarded: (bytes: number) => void,
    private readonly swallowed: (bytes: number) => void,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      this.srcEnded = true;
      this.pump();
    });
    dst.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  /** Re-reads the settings: flushes held data on pass, drops it on blackhole, re-arms the timer. */
  onSettingsChanged(): void {
    this.pump();
  }

  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** Drops everything held and clears the timer; the pipe forwards nothing more. */
  stop(): void {
    this.stopped = true;
    this.clearTimer();
    this.held = [];
    this.heldBytes = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    const s = this.settings();
    if (s.mode.kind === 'blackhole' || s.mode.kind === 'cut') {
      this.swallowed(chunk.length);
      return;
    }
    if (s.mode.kind === 'pass' && s.bytesPerSecond === null && this.held.length === 0 && !this.waitingDrain) {
      this.write(chunk);
      this.updateFlow();
      return;
    }
    const now = performance.now();
    let readyAt = now;
    if (s.mode.kind === 'delay') readyAt = now + s.mode.ms + Math.random() * s.mode.jitterMs;
    // Held data leaves in arrival order (a FIFO); a due time before the predecessor's would only wait behind it.
    readyAt = Math.max(readyAt, this.lastReadyAt);
    this.lastReadyAt = readyAt;
    this.held.push({ data: chunk, readyAt });
    this.heldBytes += chunk.length;
    this.pump();
  }

  private pump(): void {
    if (this.stopped) return;
    this.clearTimer();
    const s = this.settings();
    if (s.mode.kind === 'blackhole' || s.mode.kind === 'cut') {
      if (this.heldBytes > 0) this.swallowed(this.heldBytes);
      this.held = [];
      this.heldBytes = 0;
      this.updateFlow();
      return;
    }
    while (this.held.length > 0 && !this.waitingDrain) {
      const head = this.held[0]!;
      const now = performance.now();
      let at = s.mode.kind === 'pass' ? now : head.readyAt;
      if (s.bytesPerSecond !== null) at = Math.max(at, this.linkFreeAt);
      if (at > now) {
        this.timer = setTimeout(() => this.pump(), Math.ceil(at - now));
        break;
      }
      let piece = head.data;
      if (s.bytesPerSecond !== null) {
        const max = Math.max(1, Math.floor(s.bytesPerSecond / BANDWIDTH_SLICES_PER_SECOND));
        if (piece.length > max) {
          piece = head.data.subarray(0, max);
          head.data = head.data.subarray(max);
        } else {
          this.held.shift();
        }
        this.linkFreeAt = Math.max(now, this.linkFreeAt) + (piece.length * 1000) / s.bytesPerSecond;
      } else {
        this.held.shift();
      }
      this.heldBytes -= piece.length;
      this.write(piece);
    }
    if (this.held.length === 0 && this.srcEnded && !this.dstEnded && !this.dst.destroyed) {
      this.dstEnded = true;
      this.dst.end();
    }
    this.updateFlow();
  }

  private write(piece: Buffer): void {
    if (this.dst.destroyed || this.dst.writableEnded) {
      this.swallowed(piece.length);
      return;
    }
    this.forwarded(piece.length);
    if (!this.dst.write(piece)) this.waitingDrain = true;
  }

  /** Pauses the source while the destination is full or too much is held; resumes at half the mark. */
  private updateFlow(): void {
    if (this.stopped || this.src.destroyed) return;
    const s = this.settings();
    const swallowing = s.mode.kind === 'blackhole' || s.mode.kind === 'cut';
    if (!this.paused && !swallowing && (this.waitingDrain || this.heldBytes > s.highWaterMark)) {
      this.paused = true;
      this.src.pause();
    } else if (this.paused && (swallowing || (!this.waitingDrain && this.heldBytes <= s.highWaterMark / 2))) {
      this.paused = false;
      this.src.resume();
    }
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** Sends an RST where the socket is connected; destroys it otherwise. Never throws. */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) socket.destroy();
  else socket.resetAndDestroy();
}

/** A client socket, its socket to the target, and the two pipes between them. */
export class ProxiedConnection {
  private readonly upstream: Socket;
  private readonly pipes: Pipe[];
  private closedSockets = 0;
  private finished = false;

  constructor(
    private readonly client: Socket,
    target: { host: string; port: number },
    settings: () => FaultSettings,
    private readonly counters: FaultCounters,
    private readonly onFinished: (c: ProxiedConnection) => void,
  ) {
    this.upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true });
    this.upstream.setNoDelay(true);
    client.setNoDelay(true);
    const swallowed = (n: number) => {
      counters.bytesSwallowed += n;
    };
    this.pipes = [
      new Pipe(client, this.upstream, settings, (n) => (counters.bytesToTarget += n), swallowed),
      new Pipe(this.upstream, client, settings, (n) => (counters.bytesToClient += n), swallowed),
    ];
    for (const [socket, peer] of [
      [client, this.upstream],
      [this.upstream, client],
    ] as const) {
      // Resets and refused connects are expected here; they surface as 'close' with hadError.
      socket.on('error', () => undefined);
      socket.on('close', (hadError) => this.onSocketClosed(peer, hadError));
    }
  }

  onSettingsChanged(): void {
    for (const p of this.pipes) p.onSettingsChanged();
  }

  get bytesHeld(): number {
    return this.pipes.reduce((sum, p) => sum + p.bytesHeld, 0);
  }

  /** Resets both sockets (RST to the client and to the target). */
  reset(): void {
    if (this.finished) return;
    this.counters.resets += 1;
    this.finish();
    resetSocket(this.client);
    resetSocket(this.upstream);
  }

  private onSocketClosed(peer: Socket, hadError: boolean): void {
    this.closedSockets += 1;
    // A side that failed (reset, refused, broken pipe) takes the other side down the same way;
    // a side that closed cleanly has already passed its FIN through its pipe.
    if (hadError && !this.finished) {
      this.finish();
      resetSocket(peer);
    }
    if (this.closedSockets === 2) this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    for (const p of this.pipes) p.stop();
    this.onFinished(this);
  }
}
