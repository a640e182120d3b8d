/**
 * `chat connect` against a host that misbehaves: a server that signs the
 * client in with the real handshake (its key given with --pub) and then
 * invents senders, groups and messages freely. The client must stay within
 * its limits whatever the host invents.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testKeys } from "../_helpers/chat.ts";
import {
  answerSignIn,
  startHostileServer,
} from "../_helpers/hostile_server.ts";
import { ChatProcess, hasPty } from "../_helpers/process.ts";
import { MAX_UNREAD_CONVERSATIONS } from "../../src/client/conversations.ts";
import {
  MAX_KNOWN_IDENTITIES_BYTES,
  MAX_KNOWN_PER_SERVER,
} from "../../src/client/known_identities.ts";
import { fingerprint } from "../../src/crypto/keys.ts";
import { residentBytes } from "../_helpers/resident.ts";
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import type { SecureChannel } from "../../src/transport/secure_channel.ts";
import type { ClientMessage } from "../../src/protocol/messages.ts";
import {
  HostileAlice,
  serveSignIn,
  startHostileE2e,
} from "../_helpers/hostile_e2e.ts";
import { encodeBundle } from "../../src/crypto/prekeys.ts";
import { SEND_WAIT_MS } from "../../src/client/answer_within.ts";

const PTY = await hasPty();

/**
 * `chat connect` as bob, on a terminal when `tty`, against a hostile server
 * that signs him in; `then` runs once his keys are published, with the
 * channel to him and the last 4,000 characters he wrote so far.
 */
async function againstHostileHost(
  { tty }: { tty: boolean },
  then: (
    bob: ChatProcess,
    channel: SecureChannel,
    tail: () => string,
  ) => Promise<void>,
): Promise<void> {
  await using server = await startHostileServer();
  const dir = await Deno.makeTempDir({ prefix: "chat-hostile-host-" });
  const pub = join(dir, "server.pub");
  await Deno.writeTextFile(pub, (await testKeys()).publicPem);
  let written = "";
  const bob = new ChatProcess([
    "connect",
    server.url.replace("ws://", ""),
    "--pub",
    pub,
    "--user",
    "bob",
  ], {
    env: { XDG_CONFIG_HOME: join(dir, "config") },
    tty,
    // Output too large to search again at every piece (waitFor does).
    onStdout: (text) => written = (written + text).slice(-4000),
  });
  try {
    const channel = await server.session;
    const published = Promise.withResolvers<void>();
    answerSignIn(channel, { name: "bob" }, (message) => {
      if (message.t === "ping") channel.send({ t: "pong", re: message.id });
      if (message.t === "e2e_keys") {
        channel.send({ t: "e2e_keys", re: message.id, one_time: 100 });
        published.resolve();
      }
    }).catch(() => {});
    await published.promise;
    await then(bob, channel, () => written);
  } finally {
    bob.kill("SIGKILL");
    // A test that paused stdout: read to the end, or finish never ends.
    bob.resumeStdout();
    await bob.finish();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "chat connect counts at most MAX_UNREAD_CONVERSATIONS conversations unread, however many senders a host invents",
  ignore: !PTY,
  fn: async () => {
    await againstHostileHost({ tty: true }, async (bob, channel, tail) => {
      const invented = MAX_UNREAD_CONVERSATIONS + 200;
      const text = new TextEncoder();
      for (let i = 0; i < invented; i++) {
        channel.send(
          { t: "private", from: `u${i}`, ts: Date.now() },
          text.encode(`hi ${i}`),
        );
        if (i % 500 === 0) await channel.drain();
      }
      // One more from the first: its count still goes up.
      channel.send(
        { t: "private", from: "u0", ts: Date.now() },
        text.encode("again"),
      );
      const prompt = /\(u0 2, u1 1, u2 1, \+(\d+) more\) bob> /;
      const [, more] = await bob.waitUntil(
        () => tail().match(prompt),
        "the prompt after u0's second message",
      );
      assert.equal(Number(more), MAX_UNREAD_CONVERSATIONS - 3);
    });
  },
});

/** A fingerprint of no key in particular, as `known_identities` holds them. */
function anyFingerprint(): string {
  return "SHA256:" + toBase64(randomBytes(32)).replace(/=+$/, "");
}

Deno.test("chat connect remembers the keys of at most MAX_KNOWN_PER_SERVER people a host names, so the list every server shares stays readable and chat connect starts again", async () => {
  const serverKey = await fingerprint((await testKeys()).publicSpki);
  // The host invented as many people as are kept for it before; other
  // servers' people fill the list almost to what is read back.
  const lines = [];
  for (let i = 0; i < MAX_KNOWN_PER_SERVER; i++) {
    lines.push(`${serverKey} person${i} ${anyFingerprint()}`);
  }
  let text = lines.join("\n") + "\n";
  for (let i = 0;; i++) {
    const line = `${anyFingerprint()} other${i} ${anyFingerprint()}\n`;
    if (text.length + line.length > MAX_KNOWN_IDENTITIES_BYTES - 50) break;
    text += line;
  }
  // Whose keys bob asks for (the host never hands any out).
  const asked: string[] = [];
  const askedFor = (name: string) => asked.includes(name) ? true : null;
  await using host = await startHostileE2e(
    "chat-hostile-known-",
    (dir) => {
      // Written before bob starts.
      Deno.mkdirSync(join(dir, "config", "chat"), { recursive: true });
      Deno.writeTextFileSync(
        join(dir, "config", "chat", "known_identities"),
        text,
        {
          mode: 0o600,
        },
      );
      return [];
    },
    (message) => {
      if (message.t !== "e2e_bundle") return;
      asked.push(message.name);
      // zed's keys are handed out (one more invented person).
      if (message.name === "zed" && zed !== null) {
        host.channel.send(
          {
            t: "e2e_bundle",
            re: message.id,
            name: "zed",
            fingerprint: zed.fingerprint,
          },
          new TextEncoder().encode(JSON.stringify(encodeBundle(zed.bundle))),
        );
      }
    },
  );
  const { bob, channel, bundle } = host;
  const zed: HostileAlice | null = await HostileAlice.create(bundle);
  const path = join(host.dir, "config", "chat", "known_identities");
  // Two more people, each with a key of the host's and a message that
  // opens (no one-time key: the host hands out none).
  for (const [n, name] of ["mallory1", "mallory2"].entries()) {
    const invented = await HostileAlice.create({ ...bundle, oneTime: [] });
    invented.skipTo(1000 * (n + 1));
    const envelope = await invented.seal({
      type: "text",
      from: name,
      to: "bob",
      text: `hello from ${name}`,
    });
    invented.deliver(channel, envelope, name);
    await bob.waitForStderr(
      new RegExp(
        `A private message from ${name} could not be opened, and is not shown: this client already remembers the identity keys of ${MAX_KNOWN_PER_SERVER} people on this server`,
      ),
    );
  }
  assert.ok(!bob.stdout.includes("hello from"), bob.stdout);
  // Nothing is spent on a name refused: no notice (PROTOCOL 11.7) goes to
  // it, nor is its bundle asked for. A request bob makes after both
  // reaches the host after any of theirs.
  await bob.write("/msg zed hi\n");
  await bob.waitUntil(() => askedFor("zed"), "bob asking for zed's keys");
  assert.deepEqual(asked, ["zed"]);
  assert.doesNotMatch(bob.stderr, /is told which one/);
  // A message to a name past the cap is refused, and chat connect goes on.
  await bob.waitForStderr(
    /ERROR: Not sent: this client already remembers the identity keys of \d+ people on this server/,
  );
  await bob.write("/msg zed again\n");
  await bob.waitUntil(
    () =>
      bob.stderr.match(/ERROR: Not sent: this client already remembers/g)
          ?.length === 2
        ? true
        : null,
    "the second message to zed refused",
  );
  assert.ok((await Deno.stat(path)).size <= MAX_KNOWN_IDENTITIES_BYTES);
  bob.kill("SIGKILL");
  await bob.finish();

  // bob starts again, with the same folder.
  await using again = await startHostileServer();
  const bobAgain = new ChatProcess([
    "connect",
    again.url.replace("ws://", ""),
    "--pub",
    join(host.dir, "server.pub"),
    "--user",
    "bob",
  ], { env: { XDG_CONFIG_HOME: join(host.dir, "config") } });
  try {
    // Not awaited: a client that cannot start never connects.
    again.session.then((channel) =>
      answerSignIn(channel, { name: "bob" }, (message) => {
        if (message.t === "ping") channel.send({ t: "pong", re: message.id });
      })
    ).catch(() => {});
    const [line] = await bobAgain.waitUntil(
      () =>
        (bobAgain.stdout + bobAgain.stderr).match(
          /Username registered|ERROR: .*/,
        ),
      "bob signed in again, or an error",
    );
    assert.equal(line, "Username registered", bobAgain.stderr);
  } finally {
    bobAgain.kill("SIGKILL");
    await bobAgain.finish();
  }
});

Deno.test("chat connect (a script) whose stdout is not read holds at most STDOUT_BACKLOG_LINES of a host's flood of tiny messages, then holds off the server: its memory stays bounded", async () => {
  await againstHostileHost({ tty: false }, async (bob, channel) => {
    bob.pauseStdout();
    const before = await residentBytes(bob.child.pid);
    // Each queued line costs the client about 1 KiB: the lines held, the
    // inbox's 8 MiB and the garbage of getting there (it grew by 110 MB).
    // Without the bound in lines the client queued every one of them
    // (32 MiB of "hi" lines are 800,000): 400 MB more at 400,000.
    const bound = 200 * 1024 * 1024;
    const grown = async () => await residentBytes(bob.child.pid) - before;
    const text = new TextEncoder();
    let dropped = false;
    channel.closed.then(() => dropped = true);
    for (let i = 0; i < 400_000 && !dropped; i++) {
      channel.send(
        { t: "private", from: "alice", ts: Date.now() },
        text.encode(`hi ${i}`),
      );
      if (i % 2000 === 0) {
        await channel.drain();
        const now = await grown();
        assert.ok(now < bound, `grew by ${now} bytes after ${i} messages`);
      }
    }
    // Held off, the client lets its inbox fill and then drops the host.
    await bob.waitForStderr(/more than 32 MiB or 16,384 lines wait unread/);
    await channel.closed;
    const now = await grown();
    assert.ok(now < bound, `grew by ${now} bytes`);
  });
});

Deno.test("chat connect on an honest server still remembers a new contact when hosts it met before filled the list shared by every server: the people of the one with the most are forgotten, and the user told", async () => {
  const serverKey = await fingerprint((await testKeys()).publicSpki);
  // Three hosts bob connected to before each invented the MAX_KNOWN_PER_SERVER
  // people kept for one server (as the test above has one do); with a few
  // people of a fourth server, the list is full.
  const hostile = [anyFingerprint(), anyFingerprint(), anyFingerprint()];
  let text = "";
  for (const [n, server] of hostile.entries()) {
    for (let i = 0; i < MAX_KNOWN_PER_SERVER - n; i++) {
      text += `${server} person${i} ${anyFingerprint()}\n`;
    }
  }
  const other = anyFingerprint();
  for (let i = 0;; i++) {
    const line = `${other} friend${i} ${anyFingerprint()}\n`;
    if (text.length + line.length > MAX_KNOWN_IDENTITIES_BYTES - 50) break;
    text += line;
  }
  // Up to 20 bytes short of the bound: no one more fits.
  text += `#${" ".repeat(MAX_KNOWN_IDENTITIES_BYTES - 20 - text.length - 2)}\n`;
  await using host = await startHostileE2e("chat-hostile-known-", (dir) => {
    // Written before bob starts.
    Deno.mkdirSync(join(dir, "config", "chat"), { recursive: true });
    Deno.writeTextFileSync(
      join(dir, "config", "chat", "known_identities"),
      text,
      { mode: 0o600 },
    );
    return [];
  });
  const { bob, channel, alice } = host;
  alice.deliver(channel, await alice.sealText("hello from a new classmate"));
  await bob.waitFor(/Private message from alice: hello from a new classmate/);
  const note =
    `Note: to make room in the list of identity keys (known_identities), this client forgot those of the ${MAX_KNOWN_PER_SERVER} people it knew on the server ${
      hostile[0]
    }, the most of any other server: when you next connect there, they are new to it again`;
  await bob.waitUntil(
    () => (bob.stdout + bob.stderr).includes(note) ? true : null,
    "the note saying whose people were forgotten",
  );
  const path = join(host.dir, "config", "chat", "known_identities");
  const kept = await Deno.readTextFile(path);
  assert.ok(
    new TextEncoder().encode(kept).length <= MAX_KNOWN_IDENTITIES_BYTES,
  );
  assert.ok(kept.includes(`\n${serverKey} alice SHA256:`));
  assert.ok(
    kept.includes(`\n# forgotten ${hostile[0]} ${MAX_KNOWN_PER_SERVER} `),
  );
  assert.ok(!kept.includes(`${hostile[0]} person`));
  assert.ok(kept.includes(`${hostile[1]} person0 `));
});

Deno.test("chat connect holds no end-to-end message behind a request for keys the host never answers: the send fails after BUNDLE_WAIT_MS, and what came meanwhile is shown", async () => {
  const asked = Promise.withResolvers<void>();
  // The server never answers e2e_bundle (it goes to onOther).
  await using host = await startHostileE2e(
    "chat-hostile-bundle-",
    () => [],
    (message) => {
      if (message.t === "e2e_bundle") asked.resolve();
    },
  );
  const { bob, channel, alice } = host;
  await bob.write("/msg carol are you there?\n");
  await asked.promise;
  // Opened after the send, one at a time: behind the request for keys.
  alice.deliver(channel, await alice.sealText("hello while you wait"));
  await bob.waitFor(/Private message from alice: hello while you wait/);
  await bob.waitUntil(
    () =>
      (bob.stdout + bob.stderr).match(
        /ERROR: Not sent: the server did not hand out carol's keys within 5 seconds/,
      ),
    "the send to carol refused",
  );
});

Deno.test("chat connect holds no end-to-end message behind a send the host does not answer: after SEND_WAIT_MS the line is pending, not failed, what came meanwhile is shown, and a late answer confirms it", async () => {
  const sends: number[] = [];
  const sent = Promise.withResolvers<void>();
  let carol: HostileAlice | null = null;
  // The server hands out carol's keys, then holds the e2e_msg's answer.
  await using host = await startHostileE2e(
    "chat-hostile-send-",
    () => [],
    (message) => {
      if (message.t === "e2e_bundle" && carol !== null) {
        host.channel.send(
          {
            t: "e2e_bundle",
            re: message.id,
            name: "carol",
            fingerprint: carol.fingerprint,
          },
          new TextEncoder().encode(JSON.stringify(encodeBundle(carol.bundle))),
        );
      }
      if (message.t === "e2e_msg") {
        sends.push(message.id);
        sent.resolve();
      }
    },
  );
  const { bob, channel, alice, bundle } = host;
  carol = await HostileAlice.create(bundle);
  await bob.write("/msg carol are you there?\n");
  await sent.promise;
  // Opened after the send, one at a time: behind the unanswered send.
  alice.deliver(channel, await alice.sealText("hello while you wait"));
  await bob.waitFor(/Private message from alice: hello while you wait/);
  await bob.waitFor(
    new RegExp(
      `The server has not answered your message to carol within ${
        SEND_WAIT_MS / 1000
      } seconds: it is still pending`,
    ),
  );
  // An honest server under load answers late: the line is confirmed then.
  channel.send({ t: "ok", re: sends[0]!, text: "", id: 41, seq: 1 });
  await bob.waitFor(/Private message to carol: are you there\?/);
  assert.deepEqual(sends.length, 1, "sent once");
  assert.ok(
    !/ERROR:.*carol/.test(bob.stdout + bob.stderr),
    "no error about the message to carol",
  );
});

Deno.test("chat connect holds no group message behind a send the host does not answer: after SEND_WAIT_MS the line is pending, and a late answer confirms it", async () => {
  const sends: number[] = [];
  // bob alone in crew: no sender key to give; the e2e_gsay's answer held.
  await using host = await startHostileE2e(
    "chat-hostile-gsend-",
    () => [],
    (message) => {
      if (message.t === "e2e_gsay") sends.push(message.id);
    },
    (group) => group === "crew" ? ["bob"] : null,
  );
  const { bob, channel } = host;
  await bob.write("/group crew one\n");
  await bob.waitUntil(() => sends.length === 1 ? true : null, "the first send");
  await bob.waitFor(
    /The server has not answered your message to crew within \d+ seconds: it is still pending/,
  );
  channel.send({ t: "ok", re: sends[0]!, text: "", id: 42, seq: 1 });
  await bob.waitFor(/Group message to crew: one/);
  assert.equal(sends.length, 1, "sent once");
  assert.ok(!/ERROR:.*crew/.test(bob.stdout + bob.stderr));
});

Deno.test("chat connect sends a pending end-to-end line again, with its cid and envelope, when the connection drops before the answer: once confirmed, never typed again", async () => {
  const sends: { id: number; cid: string | undefined; body: string }[] = [];
  const sent = Promise.withResolvers<void>();
  const resent = Promise.withResolvers<void>();
  let carol: HostileAlice | null = null;
  const onOther = (message: ClientMessage, body: Uint8Array) => {
    if (message.t === "e2e_bundle" && carol !== null) {
      host.channel.send(
        {
          t: "e2e_bundle",
          re: message.id,
          name: "carol",
          fingerprint: carol.fingerprint,
        },
        new TextEncoder().encode(JSON.stringify(encodeBundle(carol.bundle))),
      );
    }
    if (message.t === "e2e_msg") {
      sends.push({ id: message.id, cid: message.cid, body: toBase64(body) });
      (sends.length === 1 ? sent : resent).resolve();
    }
  };
  // The first connection never answers the e2e_msg, then drops.
  await using host = await startHostileE2e(
    "chat-hostile-resend-",
    () => [],
    onOther,
  );
  const { bob, channel, bundle } = host;
  carol = await HostileAlice.create(bundle);
  await bob.write("/msg carol still there?\n");
  await sent.promise;
  await bob.waitFor(
    /your message to carol within \d+ seconds: it is still pending/,
  );
  channel.close();
  const again = await host.server.sessionAt(1);
  void serveSignIn(again, (message, body) => {
    onOther(message, body);
    if (message.t === "e2e_msg") {
      again.send({ t: "ok", re: message.id, text: "", id: 43, seq: 1 });
    }
  }).catch(() => {});
  await resent.promise;
  await bob.waitFor(/Private message to carol: still there\?/);
  assert.equal(sends.length, 2);
  assert.equal(sends[1]!.cid, sends[0]!.cid, "the same cid");
  assert.equal(sends[1]!.body, sends[0]!.body, "the same envelope");
  assert.ok(!/ERROR:.*carol/.test(bob.stdout + bob.stderr));
});

Deno.test("chat connect follows a message /trust sent as a typed line: after SEND_WAIT_MS it is pending, not failed, and a late answer confirms it", async () => {
  const sends: number[] = [];
  const keys: HostileAlice[] = [];
  let bundles = 0;
  // carol's first key, then (the server says her name is bound to another
  // key) her second; the message /trust sends is answered late.
  await using host = await startHostileE2e(
    "chat-hostile-trust-",
    () => [],
    (message) => {
      if (message.t === "e2e_bundle") {
        const carol = keys[Math.min(bundles++, 1)]!;
        host.channel.send(
          {
            t: "e2e_bundle",
            re: message.id,
            name: "carol",
            fingerprint: carol.fingerprint,
          },
          new TextEncoder().encode(JSON.stringify(encodeBundle(carol.bundle))),
        );
      }
      if (message.t === "e2e_msg") {
        sends.push(message.id);
        if (sends.length === 1) {
          host.channel.send({ t: "ok", re: message.id, text: "", id: 1 });
        }
        if (sends.length === 2) {
          host.channel.send({
            t: "error",
            re: message.id,
            code: "identity",
            text: "ERROR: carol has another identity key",
          });
        }
      }
    },
  );
  const { bob, channel, bundle } = host;
  keys.push(
    await HostileAlice.create(bundle),
    await HostileAlice.create(bundle),
  );
  await bob.write("/msg carol first\n");
  await bob.waitFor(/Private message to carol: first/);
  await bob.write("/msg carol second\n");
  await bob.waitUntil(
    () =>
      (bob.stdout + bob.stderr).match(
        /held until you accept the new key with \/trust carol/,
      ),
    "the message held",
  );
  await bob.write("/trust carol\n");
  await bob.waitUntil(() => sends.length === 3 ? true : null, "the send");
  await bob.waitFor(
    /The server has not answered your message to carol within \d+ seconds: it is still pending/,
  );
  channel.send({ t: "ok", re: sends[2]!, text: "", id: 2, seq: 2 });
  await bob.waitFor(/Private message to carol: second/);
  assert.equal(sends.length, 3, "sent once after /trust");
  assert.ok(
    !/may still be delivered/.test(bob.stdout + bob.stderr),
    "no error for the pending message",
  );
});

Deno.test({
  name:
    "chat connect asks once before an interactive /quit leaves a line still pending, and the second /quit leaves",
  ignore: !PTY,
  fn: async () => {
    const sends: number[] = [];
    // bob alone in crew: the e2e_gsay's answer never comes.
    await using host = await startHostileE2e(
      "chat-hostile-quit-",
      () => [],
      (message) => {
        if (message.t === "e2e_gsay") sends.push(message.id);
      },
      (group) => group === "crew" ? ["bob"] : null,
      { tty: true },
    );
    const { bob } = host;
    await bob.write("/group crew one\r");
    // A terminal wraps its lines: any space may be a line break.
    const wrapped = (text: string) => new RegExp(text.replaceAll(" ", "\\s+"));
    await bob.waitFor(
      wrapped("your message to crew within \\d+ seconds: it is still pending"),
    );
    await bob.write("/quit\r");
    await bob.waitFor(
      wrapped(
        "1 line you sent has no answer from the server yet: if you leave now, it may or may not be delivered, and is not sent again\\. Type /quit again to leave anyway",
      ),
    );
    await bob.write("/quit\r");
    const status = await bob.finish();
    assert.equal(sends.length, 1);
    assert.equal(status.code, 0, bob.stdout);
  },
});

Deno.test({
  name:
    "chat connect holds no line behind a public line the host does not answer: after SEND_WAIT_MS it is pending, the line typed after it goes, and its late answer is marked late",
  ignore: !PTY,
  fn: async () => {
    const says: number[] = [];
    const first = Promise.withResolvers<void>();
    // A live host stuck on the first public line: it answers the others.
    await using host = await startHostileE2e(
      "chat-hostile-say-",
      () => [],
      (message) => {
        if (message.t !== "say") return;
        says.push(message.id);
        if (says.length === 1) first.resolve();
        else {
          host.channel.send({
            t: "ok",
            re: message.id,
            text: "",
            id: 60 + says.length,
          });
        }
      },
      undefined,
      { tty: true },
    );
    const { bob, channel } = host;
    // A terminal wraps its lines: any space may be a line break.
    const wrapped = (text: string) => new RegExp(text.replaceAll(" ", "\\s+"));
    await bob.write("stuck line\r");
    await first.promise;
    await bob.write("next line\r");
    await bob.waitFor(wrapped("Broadcast message sent: next line"), 30_000);
    await bob.waitFor(
      wrapped(
        "your message to everyone within \\d+ seconds: it is still pending",
      ),
    );
    channel.send({ t: "ok", re: says[0]!, text: "", id: 60 });
    await bob.waitFor(wrapped("Broadcast message sent: stuck line"));
    const text = bob.stdout.replaceAll(/\s+/g, " ");
    const late = text.indexOf(
      "Late answer to your message to everyone, said pending above",
    );
    assert.ok(
      late > text.indexOf("Broadcast message sent: next line") &&
        late < text.indexOf("Broadcast message sent: stuck line"),
      bob.stdout,
    );
    assert.equal(says.length, 2, "each sent once");
  },
});
