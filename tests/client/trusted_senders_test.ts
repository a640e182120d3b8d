import assert from "node:assert/strict";
import { join } from "node:path";
import {
  addTrustedSender,
  parseTrustedSenders,
  TrustedSenders,
} from "../../src/client/trusted_senders.ts";

const A = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const B = "SHA256:" + "B".repeat(43);

Deno.test("parseTrustedSenders keeps one server's keys and skips what it cannot read", () => {
  const text = [
    "# comment",
    `192.168.1.20:8767 ${A} sophia`,
    `192.168.1.21:8767 ${B} jojo`,
    `192.168.1.20 ${B}`,
    "garbage line",
    `192.168.1.20:8767 not-a-key sophia`,
  ].join("\n");
  assert.deepEqual(
    [...parseTrustedSenders(text, "192.168.1.20:8767")],
    [A, B],
  );
});

Deno.test("addTrustedSender appends once and keeps every other line", () => {
  const start = "# mine\nsomething I wrote\n";
  const once = addTrustedSender(start, "h:1", A, "so phia\x1b");
  assert.equal(once, `# mine\nsomething I wrote\nh:1 ${A} so?phia?\n`);
  assert.equal(addTrustedSender(once, "h:1", A, "sophia"), once);
  assert.throws(() => addTrustedSender("", "h:1", "SHA256:x", "a"), TypeError);
});

Deno.test("TrustedSenders remembers a key per server in a 0600 file", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-trusted-" });
  try {
    const path = join(dir, "config", "trusted_senders");
    const here = await TrustedSenders.load(path, "127.0.0.1:8767");
    assert.equal(here.has(A), false);
    await here.add(A, "sophia");
    assert.equal(here.has(A), true);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(dir, "config"))).mode! & 0o077, 0);
    assert.equal(
      (await TrustedSenders.load(path, "127.0.0.1:8767")).has(A),
      true,
    );
    // Another server, another list; the default port is spelled out.
    assert.equal((await TrustedSenders.load(path, "127.0.0.2")).has(A), false);
    assert.equal((await TrustedSenders.load(path, "127.0.0.1")).has(A), true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TrustedSenders.inMemory trusts for the session and writes nothing", async () => {
  const list = TrustedSenders.inMemory("127.0.0.1:8767");
  assert.equal(list.path, null);
  await list.add(A, "sophia");
  assert.equal(list.has(A), true);
});
