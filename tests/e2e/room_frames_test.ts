/**
 * Room frames end to end (docs/PROTOCOL.md 3.8): real clients on a real
 * server; the public room's messages reach every member once, in order,
 * sealed once for all of them, and never come back to their sender as new.
 */

import assert from "node:assert/strict";
import { ChatClient } from "../../src/client/chat_client.ts";
import { nativeRoomCrypto } from "../../src/crypto/native_room.ts";
import { ROOM_FRAME_VERSION } from "../../src/crypto/room_frame.ts";
import { RawClient } from "../_helpers/raw_client.ts";
import {
  settle,
  startTestServer,
  TestClient,
  type TestServer,
} from "../_helpers/chat.ts";
import { WAIT_MS } from "../_helpers/patience.ts";

async function connect(
  server: TestServer,
  name: string,
  roomCrypto?: typeof nativeRoomCrypto | false,
): Promise<TestClient> {
  const client = await ChatClient.connect(server.url, {
    pinnedSpki: server.spki,
    ...(roomCrypto === undefined ? {} : { roomCrypto }),
  });
  const reply = await client.register(name);
  assert.equal(reply.t, "welcome", JSON.stringify(reply));
  return new TestClient(client);
}

for (
  const [how, minBytes] of [["room frames", 1], [
    "small batches",
    undefined,
  ]] as const
) {
  Deno.test(`public messages reach every member once and in order, members and others alike, and never their sender (${how})`, async () => {
    await using server = await startTestServer({
      roomFrames: {
        crypto: nativeRoomCrypto,
        ...(minBytes === undefined ? {} : { minBytes }),
      },
    });
    const clients = [
      await connect(server, "ann"), // WebCrypto room frames
      await connect(server, "bob", nativeRoomCrypto),
      await connect(server, "cy", nativeRoomCrypto),
      await connect(server, "dee", false), // sealed per recipient, as before
    ];
    try {
      const rounds = 20;
      const sends: Promise<unknown>[] = [];
      for (let i = 0; i < rounds; i++) {
        for (const sender of clients) {
          sends.push(sender.client.say(`${sender.client.name} ${i}`));
        }
      }
      await Promise.all(sends);
      for (const reader of clients) {
        const others = clients.filter((c) => c !== reader);
        const last = others.map((c) => `${c.client.name} ${rounds - 1}`);
        for (const text of last) {
          await reader.waitFor((m) => m.text === text);
        }
      }
      await settle(...clients);
      for (const reader of clients) {
        const lines = reader.chat();
        const name = reader.client.name!;
        assert.ok(
          lines.every(([t, from]) => t === "public" && from !== name),
          `${name} got its own or other lines: ${JSON.stringify(lines)}`,
        );
        for (const sender of clients) {
          if (sender === reader) continue;
          const from = sender.client.name!;
          assert.deepEqual(
            lines.filter(([, who]) => who === from).map(([, , text]) => text),
            Array.from({ length: rounds }, (_, i) => `${from} ${i}`),
            `${name} got ${from}'s lines`,
          );
        }
      }
    } finally {
      for (const client of clients) await client.quit();
    }
  });
}

Deno.test("a room frame is the same bytes for every member but its own MAC, its sender included, and others get no room frames", async () => {
  await using server = await startTestServer({
    roomFrames: { crypto: nativeRoomCrypto, minBytes: 1 },
  });
  const open = () => RawClient.connect(server.url, { pinnedSpki: server.spki });
  const members = [await open(), await open()];
  const plain = await open();
  try {
    for (const [i, raw] of members.entries()) {
      const welcome = await raw.register(`m${i}`, {
        compact: true,
        acks: true,
        varint: true,
        room_frames: true,
      });
      assert.equal(welcome.t, "welcome");
    }
    // Room frames only with the varint forms: asked alone, not granted.
    assert.equal(
      (await plain.register("p", { room_frames: true })).t,
      "welcome",
    );
    for (const raw of members) {
      assert.equal(raw.roomKeys.length, 1, "a room key after the welcome");
    }
    const [first, second] = members as [RawClient, RawClient];
    // One room key, each member its own MAC key.
    assert.deepEqual(first.roomKeys[0]!.key, second.roomKeys[0]!.key);
    assert.notDeepEqual(
      first.roomKeys[0]!.macKey,
      second.roomKeys[0]!.macKey,
    );
    await first.request({ t: "say" }, new TextEncoder().encode("hello room"));
    const heard = (raw: RawClient) =>
      raw.messages.some(({ message, body }) =>
        message.t === "public" &&
        new TextDecoder().decode(body) === "hello room"
      );
    for (const raw of [first, second, plain]) {
      const deadline = Date.now() + WAIT_MS;
      while (!heard(raw)) {
        await raw.receiveMessages(Math.max(1, deadline - Date.now()));
      }
    }
    assert.equal(first.roomFrames.length, 1);
    assert.equal(second.roomFrames.length, 1);
    const [mine, theirs] = [first.roomFrames[0]!, second.roomFrames[0]!];
    assert.deepEqual(mine.subarray(0, -32), theirs.subarray(0, -32));
    assert.notDeepEqual(mine.subarray(-32), theirs.subarray(-32));
    assert.equal(first.roomFrames[0]![0], ROOM_FRAME_VERSION);
    assert.equal(plain.roomFrames.length, 0);
    assert.equal(plain.roomKeys.length, 0);
  } finally {
    for (const raw of [...members, plain]) await raw.close();
  }
});
