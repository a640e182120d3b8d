/**
 * The terminal's modes as they were when the client started, put back
 * without waiting for its output (Linux). Raw mode's usual end, Deno's
 * setRawMode(false), is a tcsetattr with TCSADRAIN: it waits until the
 * terminal has taken all that is being written to it, so on a terminal that
 * takes nothing (a stalled ssh connection) it waits for ever. A signal's way
 * out then skipped it, and the process ended leaving the terminal raw: the
 * shell after it echoed no key, and Enter ended no line. tcsetattr with
 * TCSANOW neither waits for the output nor takes the kernel's write lock.
 *
 * @module
 */

/** ioctl requests: tcgetattr, and tcsetattr with TCSANOW (Linux). */
const TCGETS = 0x5401;
const TCSETS = 0x5402;
/** More than Linux's struct termios (36 bytes): what TCGETS fills. */
const TERMIOS_BYTES = 64;

type Ioctl = (fd: number, request: bigint, arg: Uint8Array) => number;

let ioctl: Ioctl | null = null;
let saved: Uint8Array<ArrayBuffer> | null = null;

/**
 * Keeps stdin's terminal modes, to put back with
 * {@link restoreTerminalModesNow}: called before raw mode is turned on.
 * Nothing is kept (and nothing restored) off Linux, or without FFI.
 */
export function saveTerminalModes(): void {
  if (Deno.build.os !== "linux") return;
  try {
    // Never prompt: without --allow-ffi only the usual way restores.
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return;
    }
    ioctl ??= Deno.dlopen("libc.so.6", {
      ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
    }).symbols.ioctl;
    const termios = new Uint8Array(TERMIOS_BYTES);
    if (ioctl(0, BigInt(TCGETS), termios) === 0) saved = termios;
  } catch {
    // No libc to call: only the usual way restores.
  }
}

/**
 * Puts the saved modes back at once, whatever output waits for the
 * terminal; false when none were saved or the terminal refused.
 */
export function restoreTerminalModesNow(): boolean {
  if (ioctl === null || saved === null) return false;
  return ioctl(0, BigInt(TCSETS), saved) === 0;
}
