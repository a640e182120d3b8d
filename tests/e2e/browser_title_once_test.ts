/// <reference lib="dom" />
/**
 * The tab's title counts each message to the user once, and only those the
 * server sends on its own (live, or what waited for the user): a public
 * line that mentions the user sent again as history (a reconnection's
 * catch-up, a `/history`, or a hostile server replaying it) counted again,
 * since the delivery ledger keeps no public ids; and a history message that
 * names a request (`req`) the page never made (or no longer waits for) was
 * counted as one the server sent unasked, when a history answer is never
 * new. Real Chromium, its tab in the background, against a test server
 * that serves the page and sends what the test says (the real server never
 * sends either). Slow (a browser starts): in `deno task test:slow`.
 */

import type { Page } from "puppeteer-core";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  openPage,
  WAIT_MS,
} from "../_helpers/browser.ts";
import { answerSignIn } from "../_helpers/hostile_server.ts";
import { testKeys } from "../_helpers/chat.ts";
import { webAnswer } from "../../src/server/web_assets.ts";
import {
  acceptChannel,
  type SecureChannel,
} from "../../src/transport/secure_channel.ts";
import { WebSocketConnection } from "../../src/transport/connection.ts";

/**
 * A server that serves the page and plays the server's part of its
 * sign-in as `name`: a `pong` for each `ping`, the reply to the hidden
 * `{"t":"history","limit":1}` every client sends at its sign-in (an empty
 * room), and `ok` to every other request. `channel`: the page's, once it
 * signed in.
 */
async function pageServer(name: string) {
  const keys = await testKeys();
  const signedIn = Promise.withResolvers<SecureChannel>();
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
        void answerSignIn(channel, { name }, (message) => {
          if (!("id" in message) || typeof message.id !== "number") return;
          if (message.t === "ping") {
            channel.send({ t: "pong", re: message.id });
          } else if (message.t === "history") {
            signedIn.resolve(channel);
            channel.send({
              t: "ok",
              re: message.id,
              text: "No history for the public room.",
            });
          } else channel.send({ t: "ok", re: message.id, text: "" });
        });
      }, () => {});
      return response;
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    channel: signedIn.promise,
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

/** Waits for a row of the page's log that holds `text` (polled: hidden). */
function logSays(page: Page, text: string): Promise<unknown> {
  return page.waitForFunction(
    (text: string) =>
      [...document.querySelectorAll("#log .line")].some((row) =>
        row.textContent?.includes(text)
      ),
    { timeout: WAIT_MS, polling: 100 },
    text,
  );
}

Deno.test({
  name:
    "web client: the tab's title counts a message to the user once, and never a history answer the page did not ask for",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await pageServer("webby");
    const browser = await launchBrowser();
    try {
      const problems: string[] = [];
      const page = await openPage(browser, server.url, problems);
      await join(page, "webby");
      const channel = await server.channel;
      // Another tab in front: webby's is in the background.
      const other = await browser.newPage();
      await other.bringToFront();
      await page.waitForFunction(() => document.hidden, {
        timeout: WAIT_MS,
        polling: 100,
      });
      const text = (said: string) => new TextEncoder().encode(said);
      const ts = Date.now();
      // Live: a private message, and a public line that mentions webby.
      channel.send(
        { t: "private", from: "sophia", ts, id: 10, seq: 1 },
        text("first"),
      );
      channel.send(
        { t: "public", from: "sophia", ts, id: 11, seq: 1 },
        text("hey @webby"),
      );
      // The same public line again, as history (what a catch-up brings).
      channel.send(
        { t: "public", from: "sophia", ts, id: 11, seq: 1, history: true },
        text("hey @webby"),
      );
      // A history answer to a request the page never made (req 999).
      channel.send(
        {
          t: "private",
          from: "mallory",
          ts,
          id: 12,
          seq: 1,
          req: 999,
          history: true,
        },
        text("unasked answer"),
      );
      // Live again: shown after all of the above (each in turn).
      channel.send(
        { t: "private", from: "sophia", ts, id: 13, seq: 2 },
        text("last"),
      );
      await logSays(page, "last");
      await page.waitForFunction(
        () => document.title === "(3) chat",
        { timeout: WAIT_MS, polling: 100 },
      ).catch(async () => {
        throw new Error(
          `The title says ${
            JSON.stringify(await page.title())
          }, not "(3) chat" (first, the mention, last)`,
        );
      });
      await other.close();
      await page.close();
    } finally {
      await browser.close();
    }
  },
});
