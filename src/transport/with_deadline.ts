// This module is browser compatible.

/**
 * Waits for `promise`, or `ms` at most: for goodbyes and drains that must not
 * hold a shutdown or a quit for ever. A timeout is not reported; a
 * rejection before it is passed on.
 */
export async function withDeadline(
  promise: Promise<unknown>,
  ms: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    promise,
    new Promise((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}
