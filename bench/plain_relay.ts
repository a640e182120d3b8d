/**
 * The machine's limit for a relay written the obvious way in Deno: a plain,
 * unencrypted WebSocket server that forwards every message with one `send`
 * per recipient, and file data chunk by chunk. No crypto, no batching, no
 * store. The bench runs it beside `chat serve` to show what Deno itself costs.
 *
 *     deno run --allow-net bench/plain_relay.ts [--port 0]
 *
 * Protocol (text frames; file data in binary frames):
 *
 *     connect ws://HOST:PORT/?name=NAME     <- W
 *     P<body>            public             -> others: p<from> <body>;          <- K
 *     G<group> <body>    group              -> members: g<group> <from> <body>; <- K
 *     M<to> <body>       private            -> to: m<from> <body>;              <- K
 *     J<group>           create or join                                         <- K
 *     O<to|#group> <size>  offer a file     -> recipients: o<from> <size>;      <- R<count>
 *     (binary)           file data          -> each recipient
 *     A<bytes>           recipient's acknowledgement -> sender: a<slowest>
 *     D                  recipient has it all; once all have -> sender: d
 *     anything refused                                                          <- E<why>
 */

interface Peer {
  name: string;
  socket: WebSocket;
  groups: Set<string>;
}

interface Transfer {
  sender: Peer;
  recipients: Map<Peer, number>;
  reported: number;
  done: number;
}

export interface PlainRelay {
  port: number;
  finished: Promise<void>;
}

export async function startPlainRelay(port: number): Promise<PlainRelay> {
  const peers = new Map<string, Peer>();
  const groups = new Map<string, Set<Peer>>();
  const transfers = new Map<Peer, Transfer>();

  function onText(peer: Peer, text: string): void {
    const kind = text[0];
    const rest = text.slice(1);
    switch (kind) {
      case "P": {
        const out = `p${peer.name} ${rest}`;
        for (const other of peers.values()) {
          if (other !== peer) other.socket.send(out);
        }
        peer.socket.send("K");
        return;
      }
      case "G": {
        const space = rest.indexOf(" ");
        const group = rest.slice(0, space);
        const members = groups.get(group);
        if (members === undefined || !members.has(peer)) {
          peer.socket.send(`Enot a member of ${group}`);
          return;
        }
        const out = `g${group} ${peer.name} ${rest.slice(space + 1)}`;
        for (const member of members) {
          if (member !== peer) member.socket.send(out);
        }
        peer.socket.send("K");
        return;
      }
      case "M": {
        const space = rest.indexOf(" ");
        const to = peers.get(rest.slice(0, space));
        if (to === undefined) {
          peer.socket.send("Eno such user");
          return;
        }
        to.socket.send(`m${peer.name} ${rest.slice(space + 1)}`);
        peer.socket.send("K");
        return;
      }
      case "J": {
        let members = groups.get(rest);
        if (members === undefined) groups.set(rest, members = new Set());
        members.add(peer);
        peer.groups.add(rest);
        peer.socket.send("K");
        return;
      }
      case "O": {
        const [target = "", size = "0"] = rest.split(" ");
        const recipients = target.startsWith("#")
          ? [...(groups.get(target.slice(1)) ?? [])].filter((p) => p !== peer)
          : [peers.get(target)].filter((p): p is Peer => p !== undefined);
        if (recipients.length === 0) {
          peer.socket.send("Eno recipients");
          return;
        }
        transfers.set(peer, {
          sender: peer,
          recipients: new Map(recipients.map((r) => [r, 0])),
          reported: 0,
          done: 0,
        });
        for (const r of recipients) r.socket.send(`o${peer.name} ${size}`);
        peer.socket.send(`R${recipients.length}`);
        return;
      }
      case "A":
      case "D": {
        for (const transfer of transfers.values()) {
          if (!transfer.recipients.has(peer)) continue;
          if (kind === "A") {
            transfer.recipients.set(peer, Number(rest));
            const slowest = Math.min(...transfer.recipients.values());
            if (slowest > transfer.reported) {
              transfer.reported = slowest;
              transfer.sender.socket.send(`a${slowest}`);
            }
          } else if (++transfer.done === transfer.recipients.size) {
            transfers.delete(transfer.sender);
            transfer.sender.socket.send("d");
          }
        }
        return;
      }
      default:
        peer.socket.send("Eunknown command");
    }
  }

  function onBinary(peer: Peer, data: ArrayBuffer): void {
    const transfer = transfers.get(peer);
    if (transfer === undefined) return;
    for (const recipient of transfer.recipients.keys()) {
      recipient.socket.send(data);
    }
  }

  let ready!: (port: number) => void;
  const listening = new Promise<number>((resolve) => (ready = resolve));
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: (addr) => ready(addr.port),
  }, (request) => {
    const name = new URL(request.url).searchParams.get("name") ?? "";
    if (
      request.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      name === "" || peers.has(name)
    ) {
      return new Response("name missing or taken\n", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    const peer: Peer = { name, socket, groups: new Set() };
    peers.set(name, peer);
    socket.onopen = () => socket.send("W");
    socket.onmessage = (event) => {
      if (typeof event.data === "string") onText(peer, event.data);
      else onBinary(peer, event.data);
    };
    socket.onclose = () => {
      peers.delete(name);
      for (const group of peer.groups) groups.get(group)?.delete(peer);
      transfers.delete(peer);
    };
    return response;
  });
  return { port: await listening, finished: server.finished };
}

if (import.meta.main) {
  const at = Deno.args.indexOf("--port");
  const relay = await startPlainRelay(at >= 0 ? Number(Deno.args[at + 1]) : 0);
  console.log(`listening on ws://127.0.0.1:${relay.port}`);
  // The bench stops us with SIGTERM; exit at once, as a naive relay would.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  await relay.finished;
}
