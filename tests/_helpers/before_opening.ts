/**
 * Runs `meanwhile` once, just before the first `Deno.open` of `path`: what
 * another transfer (or process) may do in that moment, made to happen there.
 * `ran` says whether it came; disposing puts `Deno.open` back.
 */
export function beforeOpening(
  path: string,
  meanwhile: () => Promise<void>,
): Disposable & { readonly ran: boolean } {
  const deno = Deno as { open: typeof Deno.open };
  const open = deno.open;
  let pending = true;
  deno.open = async (target, options) => {
    if (pending && String(target) === path) {
      pending = false;
      await meanwhile();
    }
    return await open(target, options);
  };
  return {
    get ran() {
      return !pending;
    },
    [Symbol.dispose]: () => (deno.open = open),
  };
}
