/// <reference lib="dom" />
/**
 * A line typed on the web page while it is away is queued and sent once
 * back, to the conversation it was typed in: a plain line typed in bob's
 * view went, before, to whichever view was open at the reconnection (the
 * page kept the text and addressed it then), so a private line could go to
 * everyone. And a line still waiting for the one before it to be answered
 * (chat lines go out one after the other) when the connection drops is
 * queued the same way, not said not sent. Real Chromium against a real `chat serve`, through a proxy that
 * cuts the page off. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import type { Page } from "puppeteer-core";
import {
  LEAK_CHECKS_OFF,
  signedInThrough,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";
import { HoldingProxy } from "../_helpers/holding_proxy.ts";
import { decodeText } from "../../src/client/chat_client.ts";

/** Clicks the list button named `label` (a person, a group, Everyone). */
async function choose(page: Page, label: string): Promise<void> {
  const handle = await page.waitForFunction(
    (label: string) =>
      [...document.querySelectorAll("#side li > button")].find((b) =>
        b.firstChild?.textContent === label
      ),
    { timeout: WAIT_MS },
    label,
  );
  await (handle.asElement() as unknown as { click(): Promise<void> }).click();
}

Deno.test({
  name:
    "web client: a plain line typed in a person's view while away goes to that person once back, not to the view open then",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      let wake = () => {};
      sophia.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        heard.push(decodeText(body));
        wake();
      });
      const { page } = await signedInThrough(chat, proxy, "webby");
      await typeLine(page, "/query sophia");
      await waitForLine(page, /sophia/);

      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await typeLine(page, "only for sophia");
      await choose(page, "Everyone");
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      // Typed after: sent after the queued line.
      await typeLine(page, "for everyone");
      while (!heard.includes("for everyone")) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      assert.deepEqual(heard, ["for everyone"]);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: lines waiting their turn behind one whose connection drops before its answer are sent once back, not said not sent",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new HoldingProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const heard: string[] = [];
      let wake = () => {};
      sophia.onMessage(({ message, body }) => {
        if (message.t !== "public") return;
        heard.push(decodeText(body));
        wake();
      });
      const until = async (text: string) => {
        const deadline = Date.now() + WAIT_MS;
        while (!heard.includes(text)) {
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new Error(`${text} never came: ${JSON.stringify(heard)}`);
          }
          let timer: ReturnType<typeof setTimeout> | undefined;
          await new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, left);
          });
          clearTimeout(timer);
        }
      };
      const { page } = await signedInThrough(chat, proxy, "webby");
      // From here nothing reaches the page: "a" goes, its answer does not,
      // and "b" and "c" wait for it.
      proxy.holdAt(proxy.downBytes);
      await page.$eval("#line", (field, lines) => {
        const line = field as HTMLTextAreaElement;
        for (const text of lines) {
          line.value = text;
          line.dispatchEvent(
            new KeyboardEvent("keydown", { key: "Enter", bubbles: true }),
          );
        }
      }, ["a", "b", "c"]);
      await until("a");
      proxy.cutAll();
      await waitForLine(page, /^Reconnected as webby\.$/);
      await until("c");
      assert.deepEqual(heard, ["a", "b", "c"]);
      await page.close();
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
