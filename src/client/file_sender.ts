/**
 * Sending a file: offer it, stream it in chunks within the flow-control window
 * (the slowest recipient's acknowledgements) and the socket's backlog, send its
 * SHA-256 at the end, and collect each recipient's verdict.
 *
 * Memory stays flat whatever the file size: one chunk buffer, reused, because
 * the channel encodes (copies) a message as soon as it is posted.
 */

import { basename } from "node:path";
import { createSha256 } from "../files/digest.ts";
import { FILE_CHUNK_BYTES, FILE_WINDOW_BYTES } from "../protocol/limits.ts";
import type { Declined, ServerMessage } from "../protocol/messages.ts";
import type { ChatClient } from "./chat_client.ts";
import type { RecipientResult, SentFileOutcome } from "./render.ts";

export type SendTarget = { to: string } | { group: string };

export interface SendProgress {
  /** Bytes handed to the server so far. */
  sent: number;
  /** Bytes the slowest recipient has written to disk. */
  acked: number;
  size: number;
}

/** The socket may hold this much unsent before the sender reads more. */
const BACKLOG_LIMIT = 4 * 1024 * 1024;
const BACKLOG_POLL_MS = 1;

interface Outgoing {
  acked: number;
  results: Map<string, RecipientResult>;
  cancelled: string | null;
  wake: () => void;
}

export class FileSender {
  #client: ChatClient;
  #outgoing = new Map<number, Outgoing>();

  constructor(client: ChatClient) {
    this.#client = client;
    client.onMessage(({ message }) => this.#dispatch(message));
    client.ended.then((ending) => {
      for (const outgoing of this.#outgoing.values()) {
        outgoing.cancelled ??= ending.reason;
        outgoing.wake();
      }
    });
  }

  /**
   * Offers the file at `path`, waits for the recipients' answers (the
   * server's reply comes once all have answered), then sends it to those who
   * accepted. `onOffered` is called once the offer is on its way, and
   * `onAnswered` with those who did not take it once all have answered.
   */
  async send(
    target: SendTarget,
    path: string,
    onProgress: (progress: SendProgress) => void = () => {},
    onOffered: (name: string, size: number) => void = () => {},
    onAnswered: (declined: Declined[]) => void = () => {},
  ): Promise<SentFileOutcome> {
    const opened = await openForSending(path);
    if ("error" in opened) return { kind: "refused", text: opened.error };
    const { file, size } = opened;
    const name = basename(path);
    try {
      onOffered(name, size);
      const reply = await this.#client.request({
        t: "file_offer",
        name,
        size,
        ...target,
      });
      if (reply.t !== "file_ready") {
        return {
          kind: "refused",
          text: "text" in reply ? reply.text : "ERROR: Refused",
        };
      }
      const xfer = reply.xfer;
      onAnswered(reply.declined ?? []);
      const outgoing: Outgoing = {
        acked: 0,
        results: new Map(),
        cancelled: null,
        wake: () => {},
      };
      this.#outgoing.set(xfer, outgoing);
      try {
        const everyone = reply.recipients.length;
        const settled = () =>
          outgoing.cancelled !== null || outgoing.results.size >= everyone;
        const hash = createSha256();
        const buffer = new Uint8Array(FILE_CHUNK_BYTES);
        let sent = 0;
        while (sent < size && !settled()) {
          // Flow control: stay within the window of the slowest recipient and
          // let the socket drain before reading more.
          while (!settled()) {
            if (sent - outgoing.acked > FILE_WINDOW_BYTES - FILE_CHUNK_BYTES) {
              await new Promise<void>((resolve) => (outgoing.wake = resolve));
            } else if (this.#client.backlog > BACKLOG_LIMIT) {
              await new Promise((resolve) =>
                setTimeout(resolve, BACKLOG_POLL_MS)
              );
            } else {
              break;
            }
          }
          if (settled()) break;
          const want = Math.min(buffer.byteLength, size - sent);
          const read = await file.read(buffer.subarray(0, want));
          if (read === null || read === 0) {
            this.#client.post({
              t: "file_cancel",
              xfer,
              reason: "the file got shorter while sending",
            });
            outgoing.cancelled = "the file got shorter while it was being sent";
            break;
          }
          const chunk = buffer.subarray(0, read);
          hash.update(chunk);
          this.#client.post(
            { t: "file_chunk", xfer, offset: sent },
            chunk,
            true,
          );
          sent += read;
          onProgress({ sent, acked: outgoing.acked, size });
        }
        if (!settled()) {
          this.#client.post(
            { t: "file_end", xfer, sha256: hash.digestHex() },
            undefined,
            true,
          );
        }
        while (!settled()) {
          await new Promise<void>((resolve) => (outgoing.wake = resolve));
          onProgress({ sent, acked: outgoing.acked, size });
        }
        const results = reply.recipients.map((recipient) =>
          outgoing.results.get(recipient) ??
            {
              name: recipient,
              ok: false,
              reason: outgoing.cancelled ?? "no answer",
            }
        );
        return outgoing.results.size >= everyone
          ? { kind: "finished", name, size, results }
          : {
            kind: "cancelled",
            name,
            reason: outgoing.cancelled ?? "",
            results,
          };
      } finally {
        this.#outgoing.delete(xfer);
      }
    } finally {
      file.close();
    }
  }

  #dispatch(message: ServerMessage): void {
    if (
      message.t !== "file_progress" && message.t !== "file_result" &&
      message.t !== "file_cancel"
    ) return;
    const outgoing = this.#outgoing.get(message.xfer);
    if (outgoing === undefined) return;
    switch (message.t) {
      case "file_progress":
        outgoing.acked = Math.max(outgoing.acked, message.acked);
        break;
      case "file_result":
        outgoing.results.set(message.name, {
          name: message.name,
          ok: message.ok,
          reason: message.reason,
        });
        break;
      case "file_cancel":
        outgoing.cancelled = message.reason;
        break;
    }
    outgoing.wake();
  }
}

async function openForSending(
  path: string,
): Promise<{ file: Deno.FsFile; size: number } | { error: string }> {
  const shown = JSON.stringify(path);
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      return { error: `ERROR: ${shown} is a folder; send a file` };
    }
    if (!info.isFile) return { error: `ERROR: ${shown} is not a regular file` };
    const file = await Deno.open(path, { read: true });
    return { file, size: info.size };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { error: `ERROR: File ${shown} not found` };
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      return { error: `ERROR: Cannot read ${shown}: permission denied` };
    }
    return {
      error: `ERROR: Cannot read ${shown}: ${(error as Error).message}`,
    };
  }
}
