import assert from "node:assert/strict";
import { join } from "node:path";
import {
  changedKeyMessage,
  hostKeyOf,
  hostLineNumbers,
  KnownHosts,
  KnownHostsError,
  normalizeHostKey,
  parseKnownHosts,
  updateKnownHosts,
} from "../../src/client/known_hosts.ts";
import { parseTarget } from "../../src/client/target.ts";

const FP_A = "SHA256:" + "A".repeat(43);
const FP_B = "SHA256:" + "B".repeat(42) + "/";
const FP_C = "SHA256:" + "c+".repeat(21) + "9";

const POSIX = Deno.build.os !== "windows";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat_known_hosts_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("KnownHosts.check reports a new server, then known, then changed", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const hosts = await KnownHosts.load(path);
    assert.deepEqual(hosts.check("192.168.1.20:8767", FP_A), { status: "new" });
    assert.equal(hosts.lookup("192.168.1.20:8767"), null);

    await hosts.remember("192.168.1.20:8767", FP_A);
    assert.deepEqual(hosts.check("192.168.1.20:8767", FP_A), {
      status: "known",
    });
    assert.deepEqual(hosts.check("192.168.1.20:8767", FP_B), {
      status: "changed",
      expected: FP_A,
    });
    assert.deepEqual(hosts.check("192.168.1.20:9000", FP_B), { status: "new" });
    assert.equal(hosts.lookup("192.168.1.20:8767"), FP_A);
  });
});

Deno.test("KnownHosts.remember persists across loads, creating folders with private modes", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "config", "chat", "known_hosts");
    const hosts = await KnownHosts.load(path);
    await hosts.remember("Example.LAN:8767", FP_A);
    await hosts.remember("[::1]:9000", FP_B);

    const reloaded = await KnownHosts.load(path);
    assert.deepEqual(reloaded.check("example.lan:8767", FP_A), {
      status: "known",
    });
    assert.deepEqual(reloaded.check("[::1]:9000", FP_B), { status: "known" });

    const text = await Deno.readTextFile(path);
    assert.match(text, /^# /);
    assert.ok(
      text.includes(`\nexample.lan:8767 ${FP_A}\n[::1]:9000 ${FP_B}\n`),
    );
    if (POSIX) {
      assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
      assert.equal(
        (await Deno.stat(join(dir, "config", "chat"))).mode! & 0o777,
        0o700,
      );
    }
    const names: string[] = [];
    for await (const entry of Deno.readDir(join(dir, "config", "chat"))) {
      names.push(entry.name);
    }
    assert.deepEqual(names, ["known_hosts"]);
  });
});

Deno.test("KnownHosts.remember replaces a server's key and keeps servers another client added", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const first = await KnownHosts.load(path);
    const second = await KnownHosts.load(path);
    await first.remember("alpha:8767", FP_A);
    await second.remember("beta:8767", FP_B);
    await second.remember("alpha:8767", FP_C);

    const reloaded = await KnownHosts.load(path);
    assert.equal(reloaded.lookup("alpha:8767"), FP_C);
    assert.equal(reloaded.lookup("beta:8767"), FP_B);
    const text = await Deno.readTextFile(path);
    assert.equal(text.split("alpha:8767").length - 1, 1);
  });
});

Deno.test("KnownHosts.load skips garbage lines and keeps them when saving", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    const garbage = [
      "\uFEFF# my servers",
      "",
      "   ",
      "just-one-field",
      `bad host!:8767 ${FP_A}`,
      `host:99999 ${FP_A}`,
      `host:0 ${FP_A}`,
      `host: ${FP_A}`,
      "host:8767 SHA256:short",
      "host:8767 MD5:aa:bb",
      `user@host:8767 ${FP_A}`,
      "\u0000\u0001\uFFFD binary junk",
      `  \tgood.lan:8767\t${FP_A}   trailing comment`,
      `Other.LAN ${FP_B}\r`,
    ];
    await Deno.writeTextFile(path, garbage.join("\n"));
    const hosts = await KnownHosts.load(path);
    assert.deepEqual(hosts.check("good.lan:8767", FP_A), { status: "known" });
    assert.deepEqual(hosts.check("other.lan:8767", FP_B), { status: "known" });
    assert.deepEqual(hosts.check("host:8767", FP_A), { status: "new" });
    assert.deepEqual(hosts.check("host:1", FP_A), {
      status: "new",
    });

    await hosts.remember("new.lan:1234", FP_C);
    const text = await Deno.readTextFile(path);
    for (const line of garbage.slice(3, 12)) {
      assert.ok(
        text.includes(line + "\n"),
        `lost line ${JSON.stringify(line)}`,
      );
    }
    assert.ok(text.endsWith(`new.lan:1234 ${FP_C}\n`));
  });
});

Deno.test("KnownHosts.load of a missing file is empty, of a directory an error", async () => {
  await withTempDir(async (dir) => {
    const missing = await KnownHosts.load(join(dir, "nope", "known_hosts"));
    assert.equal(missing.lookup("a:1"), null);
    await assert.rejects(KnownHosts.load(dir), (error: unknown) => {
      assert.ok(error instanceof KnownHostsError);
      assert.match(
        error.message,
        /^Cannot read known servers '.*': not a file/,
      );
      return true;
    });
  });
});

Deno.test("KnownHosts accepts any of several keys a hand-edited file lists for one server", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "known_hosts");
    await Deno.writeTextFile(
      path,
      `a.lan:8767 ${FP_A}\nA.LAN:8767 ${FP_B}\n`,
    );
    const hosts = await KnownHosts.load(path);
    assert.deepEqual(hosts.check("a.lan", FP_B), { status: "known" });
    assert.deepEqual(hosts.check("a.lan", FP_C), {
      status: "changed",
      expected: FP_A,
    });
    await hosts.remember("a.lan", FP_C);
    assert.equal(await Deno.readTextFile(path), `a.lan:8767 ${FP_C}\n`);
  });
});

Deno.test("KnownHosts rejects malformed addresses and fingerprints", async () => {
  await withTempDir(async (dir) => {
    const hosts = await KnownHosts.load(join(dir, "known_hosts"));
    assert.throws(() => hosts.lookup("a b"), TypeError);
    assert.throws(() => hosts.check("host:0", FP_A), TypeError);
    await assert.rejects(hosts.remember("host", "SHA256:nope"), TypeError);
    await assert.rejects(hosts.remember("", FP_A), TypeError);
  });
});

Deno.test("normalizeHostKey lower-cases, brackets IPv6 and makes the port explicit", () => {
  const cases: [string, string | null][] = [
    ["Example.LAN", "example.lan:8767"],
    ["EXAMPLE.lan:9000", "example.lan:9000"],
    ["192.168.1.20", "192.168.1.20:8767"],
    ["192.168.1.20:08767", "192.168.1.20:8767"],
    ["::1", "[::1]:8767"],
    ["[::1]", "[::1]:8767"],
    ["[0:0:0:0:0:0:0:1]:9000", "[::1]:9000"],
    ["FE80::ABCD", "[fe80::abcd]:8767"],
    ["  host:1  ", "host:1"],
    ["bücher.example", "xn--bcher-kva.example:8767"],
    ["", null],
    ["host:", null],
    ["host:0", null],
    ["host:65536", null],
    ["host:-1", null],
    ["[::1]:", null],
    ["[nope]:1", null],
    ["a b:1", null],
    ["user@host:1", null],
    ["host/path:1", null],
    ["host#x", null],
  ];
  for (const [input, expected] of cases) {
    assert.equal(normalizeHostKey(input), expected, JSON.stringify(input));
  }
});

Deno.test("hostKeyOf gives the normalised host:port of a WebSocket URL", () => {
  assert.equal(hostKeyOf(parseTarget("Example.LAN")), "example.lan:8767");
  assert.equal(hostKeyOf(parseTarget("::1", 9000)), "[::1]:9000");
  assert.equal(hostKeyOf("ws://10.0.0.1:1234/chat"), "10.0.0.1:1234");
  assert.equal(hostKeyOf("ws://host"), "host:80");
  assert.equal(hostKeyOf("wss://Host"), "host:443");
  assert.equal(hostKeyOf("wss://host:8443"), "host:8443");
  assert.throws(() => hostKeyOf("http://host:1"), TypeError);
  assert.throws(() => hostKeyOf("not a url"), TypeError);
});

Deno.test("parseKnownHosts and updateKnownHosts round-trip", () => {
  const text = updateKnownHosts(
    updateKnownHosts("", "b:1", FP_B),
    "a:2",
    FP_A,
  );
  assert.deepEqual(
    parseKnownHosts(text),
    new Map([["b:1", [FP_B]], ["a:2", [FP_A]]]),
  );
  assert.equal(updateKnownHosts(text, "b:1", FP_B), text);
  assert.throws(() => updateKnownHosts(text, "b:1", "nope"), TypeError);
});

Deno.test("changedKeyMessage shows both fingerprints and what to do", () => {
  const message = changedKeyMessage("a.lan:8767", FP_A, FP_B, "/x/known_hosts");
  assert.ok(message.includes(FP_A));
  assert.ok(message.includes(FP_B));
  assert.match(message, /^The key of server a\.lan:8767 has changed/);
  assert.match(message, /'\/x\/known_hosts'/);
  assert.ok(!message.endsWith("."));
  assert.ok(message.endsWith("pass the server's public key with --pub FILE"));
});

Deno.test("changedKeyMessage names the lines to remove when it knows them", () => {
  assert.ok(
    changedKeyMessage("a.lan:8767", FP_A, FP_B, "/x/known_hosts", [4]).includes(
      "remove line 4 (a.lan:8767) from '/x/known_hosts'",
    ),
  );
  assert.ok(
    changedKeyMessage("a.lan:8767", FP_A, FP_B, "/x/known_hosts", [2, 7])
      .includes("remove lines 2, 7 (a.lan:8767) from '/x/known_hosts'"),
  );
});

Deno.test("hostLineNumbers finds every line for a server, in any spelling", () => {
  const text = [
    "# comment",
    `A.LAN ${FP_A}`,
    "garbage",
    `b.lan:8767 ${FP_B}`,
    `a.lan:8767 ${FP_B}`,
    `a.lan:9000 ${FP_B}`,
  ].join("\n");
  assert.deepEqual(hostLineNumbers(text, "a.lan:8767"), [2, 5]);
  assert.deepEqual(hostLineNumbers(text, "c.lan"), []);
  assert.deepEqual(hostLineNumbers(text, "not an address"), []);
});
