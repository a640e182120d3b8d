/// <reference lib="dom" />
/**
 * /ignore on the page hides the ignored user's comings and goings, as in
 * the terminal: signing in and out in a loop put a line on every page each
 * time, and /ignore of the one doing it hid none of them. Nor does it say
 * anything of the end-to-end secrets they send that it has no use for, or
 * of their sender keys that are not kept. Slow (a browser starts): in
 * `deno task test:slow`, not the default task.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { importPublicKeyPem } from "../../src/crypto/keys.ts";
import {
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { testIdentity, type TestServer } from "../_helpers/chat.ts";
import { cid, e2ePeer } from "../_helpers/e2e_peer.ts";

Deno.test({
  name: "web client: /ignore hides the user's comings and goings, not others'",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const { spki } = await importPublicKeyPem(
      await Deno.readTextFile(`${chat.dir}/public.pem`),
    );
    const identity = await testIdentity();
    // mallory under one key, each time.
    const signIn = async () => {
      const client = await ChatClient.connect(
        chat.url.replace(/^http/, "ws").replace(/\/$/, ""),
        { pinnedSpki: spki },
      );
      assert.equal((await client.register("mallory", identity)).t, "welcome");
      return client;
    };
    const mallory = await signIn();
    await waitForLine(page, /\*\*\* mallory joined the chat \*\*\*/);
    await typeLine(page, "/ignore mallory");
    await waitForLine(page, /^Ignoring mallory \(key SHA256:/);
    await mallory.quit();
    for (let i = 0; i < 3; i++) await (await signIn()).quit();
    // nana's coming and going is the marker: what the server sent before it
    // has been shown.
    const nana = await chat.signedInClient("nana");
    await nana.quit();
    await waitForLine(page, /\*\*\* nana left the chat \*\*\*/);
    const lines = await page.$$eval(
      "#log .line",
      (rows) => rows.map((row) => row.textContent ?? ""),
    );
    assert.deepEqual(
      // Without the time mark each line starts with.
      lines.flatMap((line) =>
        line.match(/\*\*\* \w+ (joined|left) the chat \*\*\*$/)?.[0] ?? []
      ),
      [
        "*** mallory joined the chat ***",
        "*** nana joined the chat ***",
        "*** nana left the chat ***",
      ],
    );
    assert.deepEqual(problems, []);
  },
});

/**
 * webby /ignores mallory, then mallory and carol each send webby the secret
 * `label` (`secret`): carol's `said` line shows, and nothing of mallory's
 * (opened in the order they came, one queue: once carol's is said,
 * mallory's was dealt with).
 */
async function ignoredSecret(
  label: string,
  secret: Uint8Array,
  said: (from: string) => RegExp,
): Promise<void> {
  await using chat = await startBrowserChat();
  const problems: string[] = [];
  const page = await signedInPage(chat, "webby", problems);
  await chat.keysOf("webby");
  const { spki } = await importPublicKeyPem(
    await Deno.readTextFile(`${chat.dir}/public.pem`),
  );
  // What e2ePeer needs of a server: where it is and its key.
  const server = {
    url: chat.url.replace(/^http/, "ws").replace(/\/$/, ""),
    spki,
    logs: [],
  } as unknown as TestServer;
  const mallory = await e2ePeer(server, "mallory");
  const carol = await e2ePeer(server, "carol");
  try {
    await waitForLine(page, /\*\*\* mallory joined the chat \*\*\*/);
    await typeLine(page, "/ignore mallory");
    await waitForLine(page, /^Ignoring mallory \(key SHA256:/);
    const send = async (from: typeof mallory) => {
      const reply = await from.e2e.sendSecret(
        from.client,
        "webby",
        label,
        secret,
        cid(),
      );
      assert.equal(reply.t, "ok", JSON.stringify(reply));
    };
    await send(mallory);
    await send(carol);
    await waitForLine(page, said("carol"));
    const lines = await page.$$eval(
      "#log .line",
      (rows) => rows.map((row) => row.textContent ?? ""),
    );
    assert.deepEqual(lines.filter((line) => said("mallory").test(line)), []);
    assert.deepEqual(problems, []);
  } finally {
    await mallory.client.quit();
    await carol.client.quit();
  }
}

Deno.test({
  name:
    "web client: a secret it has no use for from someone ignored says nothing, from others a line",
  ...LEAK_CHECKS_OFF,
  fn: () =>
    ignoredSecret(
      "mystery",
      new Uint8Array(32),
      (from) =>
        new RegExp(
          `${from} sent a secret for 'mystery', which this page has no use for yet`,
        ),
    ),
});

Deno.test({
  name:
    "web client: a malformed sender key from someone ignored says nothing, from others an error",
  ...LEAK_CHECKS_OFF,
  fn: () =>
    ignoredSecret(
      "sender key crew",
      new Uint8Array([1, 2, 3]),
      (from) => new RegExp(`${from} sent a malformed sender key for crew`),
    ),
});
