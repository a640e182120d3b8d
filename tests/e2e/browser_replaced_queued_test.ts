/// <reference lib="dom" />
/**
 * A line typed while the page reconnects is queued, and sent once back; if
 * the connection it comes back on is signed out at once because the name
 * signed in elsewhere (`bye` `replaced`, in the same batch as the welcome),
 * nothing reconnects, and the line must be said not sent. It was put back
 * in the queue (that connection already over when its turn came) and never
 * said: dropped without a word when Connect again was clicked. Real
 * Chromium against a test server that serves the page and plays the
 * server's part. Slow (a browser starts): in `deno task test:slow`.
 */

import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  openPage,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { testKeys } from "../_helpers/chat.ts";
import { answerSignIn } from "../_helpers/hostile_server.ts";
import { randomBytes, toBase64 } from "../../src/crypto/bytes.ts";
import { IDENTITY_PROOF_VERSION } from "../../src/crypto/identity.ts";
import { parseClientMessage } from "../../src/protocol/parse_client_message.ts";
import { webAnswer } from "../../src/server/web_assets.ts";
import {
  acceptChannel,
  type SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";

/**
 * Serves the page; signs its first connection in as `name` (`first`: that
 * channel), and answers the next one's `register` only once `letIn` is
 * called, then its `prove` with the welcome and, in the same batch, a `bye`
 * `replaced`.
 */
async function pageServer(name: string) {
  const keys = await testKeys();
  const first = Promise.withResolvers<SecureChannel>();
  const letIn = Promise.withResolvers<void>();
  const channels: SecureChannel[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      if (request.headers.get("upgrade") !== "websocket") {
        const answer = webAnswer(
          request.method,
          new URL(request.url).pathname,
          request.headers.get("if-none-match") ?? undefined,
        );
        return answer === null
          ? new Response("Not found", { status: 404 })
          : new Response(
            typeof answer.body === "string"
              ? answer.body
              : new Uint8Array(answer.body),
            answer,
          );
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      void acceptChannel(new WebSocketConnection(socket, "client"), {
        privateKey: keys.privateKey,
        publicSpki: keys.publicSpki,
      }).then((channel) => {
        channels.push(channel);
        if (channels.length === 1) {
          void answerSignIn(channel, { name }, (message) => {
            if (!("id" in message) || typeof message.id !== "number") return;
            if (message.t === "ping") {
              channel.send({ t: "pong", re: message.id });
            } else channel.send({ t: "ok", re: message.id, text: "" });
          });
          first.resolve(channel);
          return;
        }
        void signInReplaced(channel, name, letIn.promise);
      }, () => {});
      return response;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    first: first.promise,
    letIn: () => letIn.resolve(),
    async [Symbol.asyncDispose]() {
      // Both WebSocket ends closed before the shutdown (denoland/deno#22387).
      for (const channel of channels) {
        channel.close();
        await channel.closed;
      }
      await server.shutdown();
    },
  };
}

/** A reconnection signed in, and at once signed out: `replaced`. */
async function signInReplaced(
  channel: SecureChannel,
  name: string,
  letIn: Promise<void>,
): Promise<void> {
  for (;;) {
    const batch = await channel.receive();
    if (batch === null) return;
    for (const { header } of batch) {
      const message = parseClientMessage(header);
      if (message.t === "register") {
        await letIn;
        channel.send({
          t: "challenge",
          re: message.id,
          nonce: toBase64(randomBytes(32)),
          proof: IDENTITY_PROOF_VERSION,
        });
      } else if (message.t === "prove") {
        channel.send({
          t: "welcome",
          re: message.id,
          name,
          text: "SUCCESS: Username registered.",
        });
        channel.send({
          t: "bye",
          reason: "replaced",
          text: "Disconnected by the server: your name signed in elsewhere",
        });
        return;
      }
    }
  }
}

Deno.test({
  name:
    "web client: a line queued while reconnecting is said not sent when the connection it comes back on is signed out at once (its name signed in elsewhere)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await pageServer("webby");
    const browser = await launchBrowser();
    try {
      const problems: string[] = [];
      const page = await openPage(browser, server.url, problems);
      await join(page, "webby");
      // The connection drops: the page reconnects, held at its register.
      (await server.first).close();
      await page.waitForFunction(
        () => document.body.classList.contains("disconnected"),
        { timeout: WAIT_MS, polling: 100 },
      );
      await typeLine(page, "typed while away");
      await waitForLine(page, /^\(queued\) typed while away$/);
      server.letIn();
      await waitForLine(page, /^Your name is signed in elsewhere now/);
      // Before, the line was put back in the queue (shown queued a second
      // time) and never said: dismissed, nothing sends it.
      await waitForLine(page, /^ERROR: Not sent: typed while away$/);
      await page.close();
    } finally {
      await browser.close();
    }
  },
});
