/**
 * Where the database lives, made private before SQLite opens it.
 */

import { StoreError } from "./store.ts";
import {
  createPrivateDir,
  describeModeChange,
  PRIVATE_FILE_MODE,
  restrictMode,
} from "../fs/private_paths.ts";

// Creates the folder for a new database (0700) and the file itself (0600),
// narrows an existing database and its log and shared-memory files to 0600,
// and refuses a folder in place of the file, which SQLite reports only as
// "unable to open". The database holds every private and group message.
//
// SQLite creates a new database 0644 whatever the umask, and its -wal and
// -shm files with the mode of the database file: creating the (empty, and so
// valid) database file 0600 first makes all three private.
export function prepareLocation(
  path: string,
  notice: (line: string) => void,
): void {
  let info: Deno.FileInfo | null = null;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (info?.isDirectory) {
    throw new StoreError(
      "cannot_open",
      `Cannot use ${path} as the database: it is a folder`,
    );
  }
  const folder = parentOf(path);
  if (info === null && folder !== null) {
    try {
      createPrivateDir(folder);
    } catch (error) {
      throw new StoreError(
        "cannot_open",
        `Cannot create the folder ${folder} for the database: ${
          error instanceof Error ? error.message : String(error)
        }`,
        { cause: error },
      );
    }
  }
  if (info === null) {
    try {
      Deno.writeFileSync(path, new Uint8Array(), {
        mode: PRIVATE_FILE_MODE,
        createNew: true,
      });
    } catch {
      // Created by another process meanwhile (narrowed below like any other),
      // or not creatable: SQLite then says why, in the words translate() knows.
    }
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      const change = restrictMode(file);
      if (change !== null) {
        notice(describeModeChange(change, "the database file"));
      }
    } catch (error) {
      // Someone else's file, say: the data is still safe to use, only exposed.
      notice(
        `Cannot make the database file '${file}' private (${
          error instanceof Error ? error.message : String(error)
        }); make it readable only by the user who runs the server`,
      );
    }
  }
}

function parentOf(path: string): string | null {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut < 0) return null;
  return cut === 0 ? path.slice(0, 1) : path.slice(0, cut);
}
