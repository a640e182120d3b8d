/**
 * Who holds a port `chat serve` could not listen on: asked once, cheaply,
 * with one plain HTTP request, since the likeliest holder is a chat server
 * started earlier (in another terminal, or as a service) and the user
 * should hear that rather than be sent to choose another port blindly. A
 * chat server answers any request without `Upgrade` that is not for its
 * page with 426 and its own words (ws_edge.ts).
 *
 * @module
 */

import { headEnd, parseResponseHead } from "../transport/websocket_upgrade.ts";
import { writeAll } from "../transport/write_all.ts";

/** What answered on the port: a chat server, something else, or nothing in time. */
export type PortHolder = "chat" | "other" | "unknown";

/** How long the question may take: the error waits for it. */
export const PORT_HOLDER_TIMEOUT_MS = 1000;

const CHAT_ANSWER = "This is a chat server.";
/** What is read of the answer at most: ours is a few short header lines and one. */
const MAX_ANSWER_BYTES = 1024;

/**
 * Asks what listens at `host`:`port` (a wildcard address: this machine).
 * The request goes over a TCP connection of its own, not fetch: fetch
 * sends it through the proxy HTTP_PROXY names, which would answer for a
 * loopback address of its own machine (or say it cannot reach it), and the
 * answer would be taken for the holder's.
 */
export async function portHolder(
  host: string,
  port: number,
  timeoutMs = PORT_HOLDER_TIMEOUT_MS,
): Promise<PortHolder> {
  const local = host === "0.0.0.0" || host === ""
    ? "127.0.0.1"
    : host === "::"
    ? "::1"
    : host;
  const shown = local.includes(":") ? `[${local}]` : local;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let conn: Deno.TcpConn | null = null;
  let late = false;
  const ask = async (): Promise<PortHolder> => {
    const opened = await Deno.connect({ hostname: local, port });
    if (late) {
      opened.close();
      return "unknown";
    }
    conn = opened;
    await writeAll(
      opened,
      new TextEncoder().encode(
        `GET /.chat-port-probe HTTP/1.1\r\nHost: ${shown}:${port}\r\n` +
          "Connection: close\r\n\r\n",
      ),
    );
    const answer = new Uint8Array(MAX_ANSWER_BYTES);
    let length = 0;
    while (length < answer.length) {
      const read = await opened.read(answer.subarray(length));
      if (read === null) break;
      length += read;
      // Told as soon as it can be: a server that keeps the connection
      // open after its answer is not waited for.
      const told = holderOf(answer.subarray(0, length));
      if (told !== null) return told;
    }
    return holderOf(answer.subarray(0, length)) ??
      (length === 0 ? "unknown" : "other");
  };
  try {
    return await Promise.race([
      ask(),
      new Promise<PortHolder>((resolve) => {
        timer = setTimeout(() => resolve("unknown"), timeoutMs);
      }),
    ]);
  } catch {
    // None at this address (the holder listens on another of the
    // machine's), or it closed without a word: nothing to tell.
    return "unknown";
  } finally {
    // No answer in time (a program that speaks no HTTP, or a busy one):
    // the read under way ends with the connection.
    late = true;
    clearTimeout(timer);
    try {
      (conn as Deno.TcpConn | null)?.close();
    } catch {
      // Closed already.
    }
  }
}

const decoder = new TextDecoder();

/** How every HTTP answer starts, whatever its version's minor digit. */
const HTTP_START = "HTTP/1.";

/**
 * What the start of an answer says of who sent it; null while it cannot
 * tell yet (the status line, the headers or the body's start still to come).
 */
function holderOf(answer: Uint8Array): PortHolder | null {
  // Not HTTP: another protocol's program, told without waiting for more.
  const start = decoder.decode(answer.subarray(0, HTTP_START.length));
  if (!HTTP_START.startsWith(start)) return "other";
  const end = headEnd(answer);
  if (end === -1) return null;
  let head;
  try {
    head = parseResponseHead(decoder.decode(answer.subarray(0, end)));
  } catch {
    // HTTP/1.0, or a broken header: not ours.
    return "other";
  }
  if (head.status !== 426) return "other";
  let body = decoder.decode(answer.subarray(end + 4));
  if (/chunked$/i.test(head.fields.get("transfer-encoding") ?? "")) {
    // The first chunk's size line comes first (servers before 8e7bbaa sent
    // their 426 through Node's HTTP server without a Content-Length: in
    // chunks).
    const size = /^[0-9a-fA-F]{1,8}(?:;[^\r\n]*)?\r\n/.exec(body);
    if (size === null) {
      return body.length < 32 && !body.includes("\n") ? null : "other";
    }
    body = body.slice(size[0].length);
  }
  if (body.length < CHAT_ANSWER.length) {
    return CHAT_ANSWER.startsWith(body) ? null : "other";
  }
  return body.startsWith(CHAT_ANSWER) ? "chat" : "other";
}

/** The error for a port in use, by who holds it. */
export function portInUseMessage(port: number, holder: PortHolder): string {
  switch (holder) {
    case "chat":
      return `Port ${port} is already in use by a chat server (another 'chat serve' is running there): connect to it, stop it, or choose another port with --port`;
    case "other":
      return `Port ${port} is already in use by another program; choose another with --port`;
    case "unknown":
      return `Port ${port} is already in use (is a chat server already running there?); choose another with --port`;
    default: {
      const unreachable: never = holder;
      return unreachable;
    }
  }
}
