/**
 * Hands `ws` our word-at-a-time (un)masking (src/transport/websocket_mask.ts) in place of
 * its byte loop. Import this before anything imports `ws`: it only works if
 * it runs first.
 *
 * How: `ws` (lib/buffer-util.js, read once when `ws` loads) uses
 * `require("http").websocketMask`/`websocketUnmask` when the runtime's
 * `http` module has them, which Deno 2.9.6's does not; its `require("http")`
 * is the same object as our `node:http`, so we put ours there. `ws` calls
 * them only for payloads of 24 bytes or more. A runtime that brings its own
 * is left alone.
 */

import http from "node:http";
import { mask, unmask } from "../transport/websocket_mask.ts";

interface MaskHooks {
  websocketMask?: unknown;
  websocketUnmask?: unknown;
}

/** Bytes unmasked through the hook (tests check that `ws` took it). */
export const maskHookStats = { unmaskedBytes: 0 };

const hooks = http as unknown as MaskHooks;
if (hooks.websocketMask === undefined && hooks.websocketUnmask === undefined) {
  hooks.websocketMask = mask;
  hooks.websocketUnmask = (buffer: Uint8Array, key: Uint8Array) => {
    maskHookStats.unmaskedBytes += buffer.length;
    unmask(buffer, key);
  };
}
