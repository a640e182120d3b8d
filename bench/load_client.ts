/**
 * A load process for `chat` or the plain relay: owns some of the bench's
 * clients and runs scenario steps on command (JSON lines on stdin/stdout,
 * see bench/_ipc.ts). Started by bench/main.ts, never by hand:
 *
 *     deno run --allow-net --allow-read bench/load_client.ts \
 *       --target chat --url ws://127.0.0.1:PORT --spki BASE64 \
 *       [--transport tcp|websocket] [--lifetime-ms N]
 *
 * --transport tcp (default): the WebSocket client `chat connect` uses, over a
 * TCP_NODELAY socket (src/transport/tcp_websocket.ts); websocket: Deno's own
 * WebSocket client, which nothing of the product uses.
 *     deno run --allow-net --allow-read bench/load_client.ts \
 *       --target plain --url ws://127.0.0.1:PORT
 */

import { fromBase64 } from "../src/crypto/bytes.ts";
import { parseFlags, required } from "./_args.ts";
import { ChatTarget } from "./_chat_target.ts";
import type { Target } from "./_driver.ts";
import { loadCommands } from "./_driver.ts";
import { serveCommands } from "./_ipc.ts";
import { PlainTarget } from "./_plain_target.ts";

if (import.meta.main) {
  const flags = parseFlags(Deno.args);
  const url = required(flags, "url");
  const kind = required(flags, "target");
  const transport = flags.get("transport") ?? "tcp";
  if (transport !== "tcp" && transport !== "websocket") {
    throw new Error(`Unknown --transport '${transport}': use tcp or websocket`);
  }
  let target: Target;
  if (kind === "chat") {
    target = new ChatTarget(
      url,
      fromBase64(required(flags, "spki")),
      transport,
    );
  } else if (kind === "plain") {
    target = new PlainTarget(url, transport);
  } else {
    throw new Error(`Unknown --target '${kind}': use chat or plain`);
  }
  await serveCommands(
    loadCommands(target),
    Number(flags.get("lifetime-ms") ?? 600_000),
  );
}
