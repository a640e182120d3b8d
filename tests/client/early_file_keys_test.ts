import assert from "node:assert/strict";
import {
  keepingFileKeys,
  tookFileKey,
} from "../../src/client/early_file_keys.ts";
import type { Opened } from "../../src/client/e2e_sessions.ts";
import {
  FileKeyInbox,
  fileSecretLabel,
} from "../../src/client/file_key_share.ts";
import type { FileOfferNotice } from "../../src/protocol/messages.ts";

const KEY_ID = "0123456789abcdef0123456789abcdef";

function secret(label: string, taken: () => void): Opened {
  return {
    kind: "secret",
    from: "alice",
    label,
    secret: new Uint8Array(32).fill(7),
    taken,
  };
}

/** Whether `inbox` holds a key for KEY_ID now (missing: it does not). */
async function holds(inbox: FileKeyInbox): Promise<boolean> {
  const offer = { from: "alice", key_id: KEY_ID } as FileOfferNotice;
  const got = await inbox.take(offer, 0);
  return !("missing" in got);
}

Deno.test("tookFileKey keeps a file's key in the inbox and lets the archive go of it", async () => {
  const inbox = new FileKeyInbox();
  let taken = 0;
  assert.equal(
    tookFileKey(inbox, secret(fileSecretLabel(KEY_ID), () => taken++)),
    true,
  );
  assert.equal(taken, 1);
  assert.equal(await holds(inbox), true);
});

Deno.test("tookFileKey leaves any other secret, and a message, to be shown", async () => {
  const inbox = new FileKeyInbox();
  let taken = 0;
  assert.equal(tookFileKey(inbox, secret("group chain", () => taken++)), false);
  assert.equal(
    tookFileKey(inbox, { kind: "refused", lines: ["no"] }),
    false,
  );
  assert.equal(taken, 0);
  assert.equal(await holds(inbox), false);
});

Deno.test("keepingFileKeys answers a kept key with nothing to show, anything else as opened", async () => {
  const inbox = new FileKeyInbox();
  assert.deepEqual(
    await keepingFileKeys(
      Promise.resolve(secret(fileSecretLabel(KEY_ID), () => {})),
      inbox,
    ),
    { kind: "refused", lines: [] },
  );
  const other = secret("group chain", () => {});
  assert.equal(await keepingFileKeys(Promise.resolve(other), inbox), other);
});
