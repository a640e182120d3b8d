import assert from "node:assert/strict";
import { join } from "node:path";
import {
  addTrustedSender,
  parseTrustedSenders,
  TrustedSenders,
} from "../../src/client/trusted_senders.ts";

const A = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
const B = "SHA256:" + "B".repeat(43);
/** Two server keys, as a server change at the same address would show. */
const S1 = "SHA256:" + "1".repeat(43);
const S2 = "SHA256:" + "2".repeat(43);

Deno.test("parseTrustedSenders keeps one server key's senders and skips what it cannot read", () => {
  const text = [
    "# comment",
    `${S1} ${A} sophia`,
    `${S2} ${B} jojo`,
    `${S1} ${B}`,
    "garbage line",
    `${S1} not-a-key sophia`,
  ].join("\n");
  assert.deepEqual([...parseTrustedSenders(text, S1)], [A, B]);
  assert.deepEqual([...parseTrustedSenders(text, S2)], [B]);
});

Deno.test("parseTrustedSenders ignores the old address-keyed lines", () => {
  const text = `192.168.1.20:8767 ${A} sophia\n127.0.0.1:8767 ${B} jojo\n`;
  assert.deepEqual([...parseTrustedSenders(text, S1)], []);
});

Deno.test("addTrustedSender appends once and keeps every other line", () => {
  const start = "# mine\nsomething I wrote\n";
  const once = addTrustedSender(start, S1, A, "so phia\x1b");
  assert.equal(once, `# mine\nsomething I wrote\n${S1} ${A} so?phia?\n`);
  assert.equal(addTrustedSender(once, S1, A, "sophia"), once);
  assert.notEqual(addTrustedSender(once, S2, A, "sophia"), once);
  assert.throws(() => addTrustedSender("", S1, "SHA256:x", "a"), TypeError);
  assert.throws(() => addTrustedSender("", "h:1", A, "a"), TypeError);
});

Deno.test("TrustedSenders remembers a sender per server key in a 0600 file", {
  ignore: Deno.build.os === "windows",
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "chat-trusted-" });
  try {
    const path = join(dir, "config", "trusted_senders");
    const here = await TrustedSenders.load(path);
    assert.equal(here.has(S1, A), false);
    await here.add(S1, A, "sophia");
    assert.equal(here.has(S1, A), true);
    assert.equal(here.has(S2, A), false);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(join(dir, "config"))).mode! & 0o077, 0);
    const again = await TrustedSenders.load(path);
    assert.equal(again.has(S1, A), true);
    // Another server key (a new server at the same address): nobody trusted.
    assert.equal(again.has(S2, A), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "TrustedSenders.load ignores old address-keyed lines and keeps them on writing",
  {
    ignore: Deno.build.os === "windows",
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-trusted-" });
    try {
      const path = join(dir, "trusted_senders");
      const old = `127.0.0.1:8767 ${A} sophia\n`;
      await Deno.writeTextFile(path, old);
      const list = await TrustedSenders.load(path);
      assert.equal(list.has(S1, A), false);
      await list.add(S1, B, "jojo");
      assert.equal(await Deno.readTextFile(path), `${old}${S1} ${B} jojo\n`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("TrustedSenders.inMemory trusts for the session and writes nothing", async () => {
  const list = TrustedSenders.inMemory();
  assert.equal(list.path, null);
  await list.add(S1, A, "sophia");
  assert.equal(list.has(S1, A), true);
  assert.equal(list.has(S2, A), false);
  await assert.rejects(() => list.add("127.0.0.1:8767", A, "x"), TypeError);
});

Deno.test("TrustedSenders: senders trusted at once all reach the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "trusted");
    const trusted = await TrustedSenders.load(path);
    await Promise.all([
      trusted.add(S1, A, "sophia"),
      trusted.add(S1, B, "jojo"),
      trusted.add(S2, A, "sophia"),
    ]);
    const again = await TrustedSenders.load(path);
    assert.ok(again.has(S1, A) && again.has(S1, B) && again.has(S2, A));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
