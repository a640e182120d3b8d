/**
 * What went wrong with a file the user named (a key, the identity, the known
 * servers), in words they can act on: the end of "Cannot read X: ...".
 */

/** Why a read or write of a file failed, for an error message. */
export function describeIoError(
  error: unknown,
  access: "read" | "write",
): string {
  if (error instanceof Deno.errors.NotFound) return "file not found";
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return `chat was not given ${access} access to it (--allow-${access})`;
  }
  if (error instanceof Deno.errors.IsADirectory) return "it is a directory";
  return error instanceof Error ? error.message : String(error);
}
