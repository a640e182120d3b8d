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

/** What answered on the port: a chat server, something else, or nothing in time. */
export type PortHolder = "chat" | "other" | "unknown";

/** How long the question may take: the error waits for it. */
export const PORT_HOLDER_TIMEOUT_MS = 1000;

const CHAT_ANSWER = "This is a chat server.";
/** What is read of the answer at most: ours is one short line. */
const MAX_ANSWER_BYTES = 256;

/** Asks what listens at `host`:`port` (a wildcard address: this machine). */
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
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(`http://${shown}:${port}/.chat-port-probe`, {
      signal,
      redirect: "manual",
    });
    const reader = response.body?.getReader();
    let text = "";
    if (reader !== undefined) {
      const decoder = new TextDecoder();
      while (text.length < MAX_ANSWER_BYTES) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
      await reader.cancel().catch(() => {});
    }
    return response.status === 426 && text.startsWith(CHAT_ANSWER)
      ? "chat"
      : "other";
  } catch {
    // No answer in time (a program that speaks no HTTP, or a busy one), or
    // none at this address (the holder listens on another of the
    // machine's): nothing to tell.
    return "unknown";
  }
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
