/**
 * Partly received files kept for resuming (issue 16): in a `.chat-partial`
 * folder (0700) inside the downloads folder, each as `<key>.part` (the bytes
 * received so far, 0600) and `<key>.json` (who sent what). The key is derived
 * from the sender's identity-key fingerprint, the offered name and the size,
 * so only the same sender offering the same file finds it again; the sender
 * then checks the SHA-256 of the part before continuing from its end.
 *
 * A partial not touched for a week is removed, and so is anything in the
 * folder that cannot be resumed (a part without its description, a broken
 * description).
 *
 * One process at a time continues a partial: processes of one OS account
 * may share a downloads folder (two names, two terminals), and two writing
 * one part would each add the same bytes, so the hash check at the end
 * would refuse it and what arrived would be lost. Whoever continues it
 * holds `<key>.lock` (fs/file_lock.ts) until the transfer ends, and removes
 * it then; a partial whose lock another process holds is neither continued
 * (files/save.ts) nor cleaned away here.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { lockFile } from "../fs/file_lock.ts";
import { nameKey } from "../protocol/limits.ts";

export const PARTIAL_DIR = ".chat-partial";

/** Partials untouched for longer than this are removed. */
export const PARTIAL_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** What is kept beside a partial: enough to list it and to match an offer. */
export interface PartialMeta {
  v: 1;
  /**
   * The sender's name when it was offered: shown, and only that sender
   * continues it (partialOpenTo).
   */
  from: string;
  /** The sender's identity-key fingerprint: the part is theirs. */
  fingerprint: string;
  /** The name as offered (untrusted; shown sanitised). */
  name: string;
  size: number;
}

export interface Partial {
  key: string;
  meta: PartialMeta;
  /** Bytes held. */
  held: number;
  /** Last written, ms since the epoch. */
  modified: number;
  partPath: string;
}

const KEY_PATTERN = /^[0-9a-f]{32}$/;

/** The key of a partial for a file offered by `fingerprint`. */
export function partialKey(
  fingerprint: string,
  name: string,
  size: number,
): string {
  return createHash("sha256").update(JSON.stringify([fingerprint, name, size]))
    .digest("hex").slice(0, 32);
}

export function partialPaths(
  downloadsDir: string,
  key: string,
): { dir: string; part: string; meta: string; lock: string } {
  const dir = join(downloadsDir, PARTIAL_DIR);
  return {
    dir,
    part: join(dir, `${key}.part`),
    meta: join(dir, `${key}.json`),
    lock: join(dir, `${key}.lock`),
  };
}

/**
 * Takes the lock on the partial whose `<key>.lock` is at `path`; null when
 * another process holds it (it is receiving that file now). `release`
 * removes the lock file, then lets the lock go (only its holder may remove
 * it: fs/file_lock.ts); it does so once, however often it is called.
 *
 * @throws {Error} if the lock file cannot be opened or is not a plain file
 */
export async function lockPartial(
  path: string,
): Promise<{ release: () => Promise<void> } | null> {
  const lock = await lockFile(path);
  if (lock.kind === "elsewhere") return null;
  let held = true;
  return {
    release: async () => {
      // Once: a second removal could take the next holder's lock file.
      if (!held) return;
      held = false;
      await Deno.remove(path).catch(() => {});
      lock.release();
    },
  };
}

/** The description of a partial, or null when it is missing or broken. */
export async function readMeta(path: string): Promise<PartialMeta | null> {
  try {
    const info = await Deno.lstat(path);
    if (!info.isFile || info.size > 16_384) return null;
    const value = JSON.parse(await Deno.readTextFile(path));
    if (
      value?.v !== 1 || typeof value.from !== "string" ||
      typeof value.fingerprint !== "string" || typeof value.name !== "string" ||
      !Number.isSafeInteger(value.size) || value.size < 0
    ) return null;
    return {
      v: 1,
      from: value.from,
      fingerprint: value.fingerprint,
      name: value.name,
      size: value.size,
    };
  } catch {
    return null;
  }
}

/**
 * Whether the partial under `key` in `downloadsDir` may be continued for
 * an offer from `from`: there is none yet, or its description names that
 * sender. The key is derived from the fingerprint the server puts on the
 * offer, its word alone; the sender's name is the one the file key came
 * from end to end. So a server that puts sophia's fingerprint on mallory's
 * offer of a file of the same name and size does not reach sophia's part:
 * not its digest in the claim (with mallory's key, which mallory holds, a
 * guess at its content could be confirmed), nor its bytes, which a resume
 * from offset 0 would cut.
 */
export async function partialOpenTo(
  downloadsDir: string,
  key: string,
  from: string,
): Promise<boolean> {
  const meta = await readMeta(partialPaths(downloadsDir, key).meta);
  return meta === null || nameKey(meta.from) === nameKey(from);
}

/**
 * The resumable partials in `downloadsDir`, oldest first. With `clean`,
 * removes what cannot be resumed or is older than `maxAgeMs`, and returns
 * how many files it removed.
 */
export async function scanPartials(
  downloadsDir: string,
  options: { clean?: boolean; now?: number; maxAgeMs?: number } = {},
): Promise<{ partials: Partial[]; removed: number }> {
  const dir = join(downloadsDir, PARTIAL_DIR);
  const now = options.now ?? Date.now();
  const maxAge = options.maxAgeMs ?? PARTIAL_MAX_AGE_MS;
  const partials: Partial[] = [];
  let removed = 0;
  const keys = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = entry.name.match(/^([0-9a-f]{32})\.(part|json|lock)$/);
      if (match && KEY_PATTERN.test(match[1]!)) keys.add(match[1]!);
    }
  } catch {
    return { partials, removed };
  }
  for (const key of keys) {
    const paths = partialPaths(downloadsDir, key);
    const meta = await readMeta(paths.meta);
    let info: Deno.FileInfo | null = null;
    try {
      info = await Deno.lstat(paths.part);
    } catch {
      info = null;
    }
    const modified = info?.mtime?.getTime() ?? 0;
    const resumable = meta !== null && info !== null && info.isFile &&
      info.size <= meta.size && now - modified <= maxAge;
    if (resumable) {
      partials.push({
        key,
        meta: meta!,
        held: info!.size,
        modified,
        partPath: paths.part,
      });
    } else if (options.clean) {
      // Not while another process receives it: its description may be
      // being rewritten, or its part just created.
      const lock = await lockPartial(paths.lock).catch(() => null);
      if (lock === null) continue;
      for (const path of [paths.part, paths.meta]) {
        await Deno.remove(path).then(() => removed++, () => {});
      }
      await lock.release();
    }
  }
  partials.sort((a, b) => a.modified - b.modified);
  return { partials, removed };
}

/**
 * Removes a partial (at /cancel): "removed" if something was there, "none"
 * if not, "receiving" while a transfer continues it (of this process, or
 * of another sharing the folder), which is left as it is: its part removed
 * under it, the file could not be saved at its end and all of it would be
 * lost, the bytes it still gets included.
 */
export async function removePartial(
  downloadsDir: string,
  key: string,
): Promise<"removed" | "none" | "receiving"> {
  const paths = partialPaths(downloadsDir, key);
  // A lock file that cannot be used (not a plain file) protects nothing:
  // what the user asked is done.
  const lock = await lockPartial(paths.lock).catch(() => undefined);
  if (lock === null) return "receiving";
  let found = false;
  try {
    for (const path of [paths.part, paths.meta]) {
      await Deno.remove(path).then(() => (found = true), () => {});
    }
  } finally {
    await lock?.release();
  }
  return found ? "removed" : "none";
}
