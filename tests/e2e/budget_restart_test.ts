/**
 * The hourly budgets of an address's accounts (account_budgets.ts) outlive
 * a restart of `chat serve`: what was spent is kept in its store and read
 * back at start, so restarting the server gives no address a fresh hour.
 * A real `chat serve` with a data folder, stopped and started again, and
 * clients from this machine's LAN address (loopback is not held to them).
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import type { Identity } from "../../src/crypto/identity.ts";
import {
  TOO_MANY_GROUPS_CREATED,
  TOO_MANY_GROUPS_JOINED,
} from "../../src/server/router.ts";
import { testIdentity } from "../_helpers/chat.ts";
import { type LanServer, serveOnLanIn } from "../_helpers/lan_server.ts";

async function signIn(
  server: LanServer,
  name: string,
  identity: Identity,
): Promise<ChatClient> {
  const client = await ChatClient.connect(server.lanUrl!, {
    pinnedSpki: server.spki,
  });
  const reply = await client.register(name, identity);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return client;
}

/** The reply to `message` as [code, text] if refused, else its type. */
async function answer(
  client: ChatClient,
  message: { t: "create" | "join"; group: string },
): Promise<string | [string, string]> {
  const reply = await client.request(message);
  return reply.t === "error" ? [reply.code, reply.text] : reply.t;
}

Deno.test("chat serve restarted on the same data keeps what each address spent of its hourly group budgets", async () => {
  const data = await Deno.makeTempDir({ prefix: "chat-budget-restart-" });
  try {
    const serve = () =>
      serveOnLanIn(
        "chat-budget-restart-",
        data,
        "--groups-per-address",
        "2",
        "--joins-per-address",
        "1",
      );
    const m1 = await testIdentity();
    const m2 = await testIdentity();
    {
      await using server = await serve();
      if (server.lanUrl === null) {
        console.warn("No LAN address on this machine: nothing held to check");
        return;
      }
      const a = await signIn(server, "m1", m1);
      const b = await signIn(server, "m2", m2);
      try {
        assert.equal(await answer(a, { t: "create", group: "g1" }), "ok");
        assert.equal(await answer(b, { t: "create", group: "g2" }), "ok");
        assert.equal(await answer(b, { t: "join", group: "g1" }), "ok");
      } finally {
        await a.quit();
        await b.quit();
      }
    }
    // Started again on the same data: the hour's two groups and one join
    // are spent still.
    await using server = await serve();
    const a = await signIn(server, "m1", m1);
    try {
      assert.deepEqual(
        await answer(a, { t: "create", group: "g3" }),
        ["limit", TOO_MANY_GROUPS_CREATED],
      );
      assert.deepEqual(
        await answer(a, { t: "join", group: "g2" }),
        ["limit", TOO_MANY_GROUPS_JOINED],
      );
    } finally {
      await a.quit();
    }
  } finally {
    await Deno.remove(data, { recursive: true });
  }
});
