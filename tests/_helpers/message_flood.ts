/**
 * A flood of valid sealed messages, run as its own process so that its
 * sealing does not share the server's thread: `connections` connections
 * from 127.0.0.2 each send frames of 50 `msg`s to a sink of their own as
 * fast as their sockets take them, and connect again (under a new name)
 * when the server cuts them off. Prints "flooding" once the first frame
 * went; runs until killed.
 *
 * Usage: message_flood.ts <ws url> <connections>
 */
// @ts-types="@types/ws"
import NodeWebSocket from "ws";
import { RawClient } from "./raw_client.ts";

const [url, connectionsText] = Deno.args;
if (url === undefined) throw new Error("Usage: message_flood.ts <url> <n>");
const connections = Number(connectionsText ?? "1");
const MESSAGES_PER_FRAME = 50;
// Enough in the socket's buffer that the server never waits for us.
const BUFFERED_BYTES = 256 * 1024;
const body = new Uint8Array(100).fill(0x61);

/** A connection from 127.0.0.2: its own address, apart from the users'. */
function fromSecondLoopback(): Promise<RawClient> {
  const socket = new NodeWebSocket(url!, { localAddress: "127.0.0.2" });
  return RawClient.connect(url!, {
    socket: socket as unknown as WebSocket,
  });
}

const sink = await fromSecondLoopback();
const sinkWelcome = await sink.register("floodsink");
if (sinkWelcome.t !== "welcome") throw new Error(JSON.stringify(sinkWelcome));

let announced = false;
let names = 0;

async function flood(): Promise<never> {
  for (;;) {
    const raw = await fromSecondLoopback().catch(() => null);
    // Refused a new name (the address's rate): try again later.
    if (
      raw === null || (await raw.register(`flood${names++}`)).t !== "welcome"
    ) {
      await raw?.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      continue;
    }
    let id = 1;
    while (!raw.isClosed) {
      if (raw.socket.bufferedAmount > BUFFERED_BYTES) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        continue;
      }
      const messages = Array.from({ length: MESSAGES_PER_FRAME }, () => ({
        header: { t: "msg", id: id++, to: "floodsink" },
        body,
      }));
      raw.send(await raw.seal(...messages));
      if (!announced) {
        announced = true;
        console.log("flooding");
      }
    }
  }
}

await Promise.all(Array.from({ length: connections }, flood));
