// The new-name token was taken at `register`, before the proof (review of
// edbb527): registrations that never became accounts used up the address's
// new names, so one peer behind a shared address (a class's NAT) kept
// everyone else there from signing up, at no cost to it.
import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { TOO_MANY_NEW_NAMES } from "../../src/server/serve.ts";
import { startTestServer, testIdentity } from "../_helpers/chat.ts";
import { toBase64 } from "../../src/crypto/bytes.ts";
import { openStore } from "../../src/store/sqlite_store.ts";

Deno.test("startServer: registers that are never proven (no account made) use up the address's new names; a real newcomer is refused", async () => {
  const store = openStore(":memory:");
  await using server = await startTestServer({
    store,
    connectionLimits: {
      newNamesPerMinutePerAddress: 1,
      newNameBurstPerAddress: 3,
      limitNewNamesFromLoopback: true,
    },
  });
  const idle = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  const key = toBase64((await testIdentity()).publicRaw);
  try {
    for (const name of ["ghost0", "ghost1", "ghost2"]) {
      const first = await idle.request({ t: "register", name, key });
      assert.equal(first.t, "challenge");
    }
  } finally {
    await idle.quit();
  }
  // None of them became an account.
  for (const name of ["ghost0", "ghost1", "ghost2"]) {
    assert.equal(store.getUser(name), undefined, name);
  }
  const newcomer = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
  });
  try {
    const reply = await newcomer.register("newcomer");
    // Expected: no account was made from this address yet, so it has room.
    assert.notDeepEqual(
      { ...reply, re: null },
      { t: "error", re: null, code: "limit", text: TOO_MANY_NEW_NAMES },
      "refused though no account was made from this address",
    );
  } finally {
    await newcomer.quit();
  }
});
