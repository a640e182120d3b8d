/**
 * Reads of a socket paced by how many are small: a peer whose reads come
 * many and tiny stops being read for a while, so that the kernel gathers
 * what it sends meanwhile and the next read takes it all at once.
 *
 * Why: each read costs the server about as much whatever it carries (a
 * wake-up, a buffer, a turn of `ws`'s parser and of ws_read_release.ts), and
 * the bytes limits say nothing about reads. 60 peers each sending valid
 * pings a byte per TCP segment (16,700 segments a second) took the server
 * from 1 % to 31 % of a core and 57 MiB more memory. Honest peers' reads are
 * whole frames (a sealed message is at least 31 bytes on the wire, most far
 * more) a few dozen times a second at most, or large (a file), and are never
 * paced; a read left waiting loses no bytes and, most of the time, no
 * throughput: the kernel keeps taking them.
 *
 * Stopping the stream (`socket.pause()`) would not do: paused in its own
 * "data" event, where a read is judged, the stream reads on into its buffer
 * (Readable's maybeReadMore, up to its 64 KiB high-water mark) and hands
 * each read over on its own when resumed; and the stream's pause is
 * `ws.pause()`, the gauges' and the handshake check's, which a pause of
 * ours would end. The handle's `readStop`/`readStart` (node's, which Deno
 * implements natively) stop the reads themselves, and a stream paused
 * meanwhile keeps its handle stopped. A socket whose handle has no such
 * methods is not paced (paced_reads_test fails then).
 */

import type { Socket } from "node:net";
import { TokenBucket } from "./rate_limit.ts";

/** Reads this large or larger are never counted: their cost is their bytes. */
export const SMALL_READ_BYTES = 512;

/**
 * How long a socket out of small reads is not read: long enough that a
 * trickle of bytes is gathered into one read, short enough that a message
 * behind them is not noticeably late.
 */
export const READ_PAUSE_MS = 100;

/**
 * Bytes a connection carries, either way, that earn it one small read more
 * than its rate: what a trickle costs is reads per byte, and a connection
 * moving a file's MiBs is not trickling. Its recipient acks each MiB
 * (FILE_ACK_BYTES), a small read each, and the last read of a sender's
 * frame is small now and then (1 in 10 of 256 KiB chunks): some 200 a
 * second at what two `chat connect` reach on a quiet machine. Paced, each
 * ack or chunk waited 100 ms, and the transfer with it (a window of 4 MiB
 * is 20 ms of it). A quarter of a MiB a read leaves room; what a trickler
 * makes the server write to it (history, the room) earns a few a second.
 */
export const BYTES_PER_EARNED_READ = 256 * 1024;

/** Reads of upgraded sockets, and pauses (all connections; tests read it). */
export const readPaceStats = { reads: 0, pauses: 0 };

/** The handle methods used here, as node's `LibuvStreamWrap` has them. */
interface ReadingHandle {
  readStart(): number;
  readStop(): number;
  reading?: boolean;
}

export interface ReadPaceLimits {
  /** Reads under SMALL_READ_BYTES a second, and at once; a rate of 0: no pacing. */
  smallReadsPerSecond: number;
  smallReadBurst: number;
}

/** The message rate the default small-read limits are made for (config.ts). */
const DEFAULT_MESSAGES_PER_SECOND = 20;

/**
 * The small-read limits for a server whose connections may send
 * `messagesPerSecond` chat messages a second: the defaults' room over the
 * default rate grows with a rate the operator raised, and a rate of 0 (no
 * limit: a bench, a trusted lab) turns pacing off. Why: each message of a
 * fast honest sender can be a small read of its own, and a sender waiting
 * for its replies (a few unanswered at a time) would send a few messages per
 * pause: paced at the default, a raised rate would be worth nothing.
 */
export function readPaceFor(
  messagesPerSecond: number,
  limits: ReadPaceLimits,
): ReadPaceLimits {
  if (messagesPerSecond <= 0) return { ...limits, smallReadsPerSecond: 0 };
  const scale = Math.max(1, messagesPerSecond / DEFAULT_MESSAGES_PER_SECOND);
  return {
    smallReadsPerSecond: Math.ceil(limits.smallReadsPerSecond * scale),
    smallReadBurst: Math.ceil(limits.smallReadBurst * scale),
  };
}

/**
 * Paces `socket`'s reads from now on (it counts every read in
 * {@link readPaceStats} either way), until it closes.
 */
export function paceReads(socket: Socket, limits: ReadPaceLimits): void {
  const bucket = limits.smallReadsPerSecond > 0
    ? new TokenBucket(
      limits.smallReadsPerSecond,
      limits.smallReadBurst,
      performance.now(),
    )
    : null;
  let pause: ReturnType<typeof setTimeout> | null = null;
  /** Bytes carried (read and written, direct writes too) reads were earned by. */
  let earnedBy = carried(socket);
  socket.on("data", (chunk: Uint8Array) => {
    readPaceStats.reads++;
    if (bucket === null || pause !== null) return;
    if (chunk.byteLength >= SMALL_READ_BYTES) return;
    if (bucket.take(performance.now())) return;
    // Earned by what the connection carried, at most a burst's worth kept.
    const bytes = carried(socket);
    earnedBy = Math.max(
      earnedBy,
      bytes - limits.smallReadBurst * BYTES_PER_EARNED_READ,
    );
    if (bytes - earnedBy >= BYTES_PER_EARNED_READ) {
      earnedBy += BYTES_PER_EARNED_READ;
      return;
    }
    // Not reading already (the stream's buffer is full): nothing to stop.
    const handle = readingHandle(socket);
    if (handle === null || handle.reading === false) return;
    if (handle.readStop() !== 0) return;
    readPaceStats.pauses++;
    // `reading` stays true: the stream, resumed meanwhile, would otherwise
    // start the handle again at once (node's Socket._read).
    pause = setTimeout(() => {
      pause = null;
      if (socket.destroyed || readingHandle(socket) !== handle) return;
      // Paused meanwhile (`ws.pause()`: the gauges, the handshake's check,
      // a TLS bridge's pipe), the stream stopped the handle itself and
      // cleared `reading`: its resume starts it again, not this. Started
      // here, the held socket was read into the stream's buffer, up to
      // 128 KiB the memory bounds do not count.
      if (handle.reading === false) return;
      handle.readStart();
    }, READ_PAUSE_MS);
  });
  socket.once("close", () => {
    if (pause !== null) clearTimeout(pause);
  });
}

/** Bytes `socket` has read and written. */
function carried(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten;
}

function readingHandle(socket: Socket): ReadingHandle | null {
  const handle = (socket as unknown as { _handle?: unknown })._handle as
    | Partial<ReadingHandle>
    | null
    | undefined;
  if (
    handle == null || typeof handle.readStop !== "function" ||
    typeof handle.readStart !== "function"
  ) return null;
  return handle as ReadingHandle;
}
