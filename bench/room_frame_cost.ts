/**
 * What a public batch costs per member, sealed for each member's own
 * connection (3.1) or sent as a room frame (PROTOCOL.md 3.8), on both sides,
 * measured back to back in one process (CPU time per member, not wall-clock
 * rates, which are noise on the shared bench machine):
 *
 * - server, own frames: one session seal per member (frameAead), and the copy
 *   `Connection.send` makes;
 * - server, room frame: one seal and SHA-256 per batch (its cost divided by
 *   the members), then per member its HMAC (SealedRoomFrame.frameFor) and
 *   the copy;
 * - client: opening its own frame, against checking the HMAC and opening a
 *   room frame.
 *
 *     deno run --allow-ffi --allow-env bench/room_frame_cost.ts [members] [rounds]
 *
 * Sizes: SIZES=100,1000,4096,16384,65536,262144 (the batch's bytes).
 * Not part of `deno task bench`.
 */

import process from "node:process";
import { frameAead, frameAeadName } from "../src/crypto/native_aead.ts";
import { nativeRoomCrypto, roomHashes } from "../src/crypto/native_room.ts";
import { RoomFrameOpener, RoomFrameSealer } from "../src/crypto/room_frame.ts";
import { FrameOpener, FrameSealer } from "../src/crypto/session_cipher.ts";

const SIZES = (Deno.env.get("SIZES") ?? "100,1000,4096,16384,65536,262144")
  .split(",").map(Number);
const MEMBERS = Number(Deno.args[0] ?? 100);
const ROUNDS = Number(Deno.args[1] ?? 200);
const TRIALS = 5;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * CPU µs (user + system, this process) per call of `run`, which makes
 * `calls` calls: the median of TRIALS. CPU time, not wall-clock time: on a
 * machine shared with other work, time spent descheduled is not ours.
 */
async function time(
  calls: number,
  run: () => void | Promise<void>,
): Promise<number> {
  const trials: number[] = [];
  await run();
  for (let t = 0; t < TRIALS; t++) {
    const start = process.cpuUsage();
    await run();
    const used = process.cpuUsage(start);
    trials.push((used.user + used.system) / calls);
  }
  return median(trials);
}

console.log(
  `AES-GCM ${frameAeadName}, SHA-256/HMAC ${roomHashes.name}, ${MEMBERS} members, µs per member per batch`,
);
console.log(
  "batch B | server own frames | server room frame | client own frame | client room frame",
);
for (const size of SIZES) {
  const batch = Uint8Array.from({ length: size }, (_, i) => i * 31);
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const sealers = Array.from(
    { length: MEMBERS },
    () => new FrameSealer(secret, { smallFrames: frameAead }),
  );
  for (const sealer of sealers) await sealer.seal(batch);
  const serverOwn = await time(ROUNDS * MEMBERS, () => {
    for (let r = 0; r < ROUNDS; r++) {
      for (const sealer of sealers) {
        const frame = sealer.trySealNow(batch)!;
        frame.slice();
      }
    }
  });

  const room = new RoomFrameSealer(
    1,
    crypto.getRandomValues(new Uint8Array(32)),
    nativeRoomCrypto,
  );
  const macs = Array.from(
    { length: MEMBERS },
    () => nativeRoomCrypto.mac(crypto.getRandomValues(new Uint8Array(32))),
  );
  let counter = 0;
  const serverRoom = await time(ROUNDS * MEMBERS, async () => {
    for (let r = 0; r < ROUNDS; r++) {
      const sealed = await room.seal(counter++ % 2 ** 24, batch);
      for (const mac of macs) (sealed.frameFor(mac) as Uint8Array).slice();
    }
  });

  // The client: one connection's frames, in order.
  const clientSealer = new FrameSealer(secret, { smallFrames: frameAead });
  const own: Uint8Array[] = [];
  for (let i = 0; i < ROUNDS * (TRIALS + 1); i++) {
    own.push(await clientSealer.seal(batch));
  }
  const opener = new FrameOpener(secret, { smallFrames: frameAead });
  let next = 0;
  const clientOwn = await time(ROUNDS, async () => {
    for (let r = 0; r < ROUNDS; r++) await opener.open(own[next++]!);
  });

  const macKey = crypto.getRandomValues(new Uint8Array(32));
  const mac = nativeRoomCrypto.mac(macKey);
  const roomKey = crypto.getRandomValues(new Uint8Array(32));
  const sealer = new RoomFrameSealer(2, roomKey, nativeRoomCrypto);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < ROUNDS * (TRIALS + 1); i++) {
    frames.push(
      (await (await sealer.seal(i, batch)).frameFor(mac)).slice(),
    );
  }
  const roomOpener = RoomFrameOpener.create(
    { epoch: 2, key: roomKey, next: 0, macKey },
    nativeRoomCrypto,
  );
  let k = 0;
  const clientRoom = await time(ROUNDS, async () => {
    for (let r = 0; r < ROUNDS; r++) await roomOpener.open(frames[k++]!);
  });
  console.log(
    `${size} | ${serverOwn.toFixed(2)} | ${serverRoom.toFixed(2)} | ${
      clientOwn.toFixed(2)
    } | ${clientRoom.toFixed(2)}`,
  );
}
