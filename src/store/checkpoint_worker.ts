/**
 * A worker that checkpoints the store's write-ahead log (copies what was
 * committed into the database file) through a connection of its own, so
 * that the server's one thread never waits for the copy and its two disk
 * syncs (checkpointer.ts says why and when).
 *
 * In: {@link CheckpointRequest}s. Out: a {@link CheckpointReply} for each
 * "checkpoint"; at "close" it closes its connection, raises the request's
 * flag and ends.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { DatabaseSync } from "node:sqlite";

export type CheckpointRequest =
  | { kind: "open"; path: string; busyTimeoutMs: number }
  | { kind: "checkpoint"; id: number }
  /** `done`: an Int32Array's buffer, set to 1 once the connection is closed. */
  | { kind: "close"; done: SharedArrayBuffer };

export type CheckpointReply =
  | {
    kind: "checkpointed";
    /** The request's. */
    id: number;
    /** Frames in the log, and how many of them are now in the database. */
    logFrames: number;
    checkpointedFrames: number;
    /** Another connection held the checkpoint back (it retries later). */
    busy: boolean;
  }
  | { kind: "failed"; message: string };

let db: DatabaseSync | null = null;

self.onmessage = (event: MessageEvent<CheckpointRequest>) => {
  const request = event.data;
  switch (request.kind) {
    case "open":
      try {
        db = new DatabaseSync(request.path, {
          timeout: request.busyTimeoutMs,
        });
      } catch (error) {
        fail(error);
      }
      return;
    case "checkpoint":
      if (db === null) return;
      try {
        // PASSIVE: copies what no reader still needs, never waits for the
        // writer's lock (the server's thread never waits for this one).
        // It syncs the log before copying and the database after, so the
        // writer may start the log again from its beginning afterwards.
        const row = db.prepare("PRAGMA wal_checkpoint(PASSIVE)").get();
        self.postMessage(
          {
            kind: "checkpointed",
            id: request.id,
            logFrames: Number(row?.log ?? -1),
            checkpointedFrames: Number(row?.checkpointed ?? -1),
            busy: Number(row?.busy ?? 0) !== 0,
          } satisfies CheckpointReply,
        );
      } catch (error) {
        fail(error);
      }
      return;
    case "close": {
      try {
        db?.close();
      } catch {
        // Closing is all that is left to do.
      }
      db = null;
      const done = new Int32Array(request.done);
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
      self.close();
      return;
    }
  }
};

function fail(error: unknown): void {
  try {
    db?.close();
  } catch {
    // Failing already.
  }
  db = null;
  self.postMessage(
    {
      kind: "failed",
      message: error instanceof Error ? error.message : String(error),
    } satisfies CheckpointReply,
  );
}
