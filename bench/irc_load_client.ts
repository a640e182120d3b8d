/**
 * A load process for an IRC server (ngircd): the same scenario steps as
 * bench/load_client.ts, over raw TCP (see bench/_irc_target.ts). Started by
 * bench/main.ts:
 *
 *     deno run --allow-net bench/irc_load_client.ts --host 127.0.0.1 \
 *       --port PORT --channel '#bench' --oper NAME:PASSWORD [--lifetime-ms N]
 */

import { parseFlags, required } from "./_args.ts";
import { loadCommands } from "./_driver.ts";
import { serveCommands } from "./_ipc.ts";
import { IrcTarget } from "./_irc_target.ts";

if (import.meta.main) {
  const flags = parseFlags(Deno.args);
  const [name = "", password = ""] = required(flags, "oper").split(":");
  const target = new IrcTarget({
    hostname: required(flags, "host"),
    port: Number(required(flags, "port")),
    publicChannel: required(flags, "channel"),
    operator: { name, password },
  });
  await serveCommands(
    loadCommands(target),
    Number(flags.get("lifetime-ms") ?? 600_000),
  );
}
