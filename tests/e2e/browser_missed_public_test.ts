/// <reference lib="dom" />
/**
 * The web page, back after its connection was cut, shows the public
 * messages said meanwhile, once each, in order, under one line, and none
 * from someone it ignores (src/client/missed_public.ts), in real Chromium
 * against a real `chat serve`. The page is loaded through a proxy that cuts
 * it off and refuses it while sophia talks, so it cannot be back in time to
 * see them live. Slow (a browser starts): in `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  logRows,
  signedInThrough,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { sayInRoom } from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test({
  name:
    "web client: back after a cut, the page shows the public messages said meanwhile once each, in order, under one line, none from someone ignored",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    const nana = await chat.signedInClient("nana");
    try {
      const { page, problems } = await signedInThrough(chat, proxy, "webby");
      await typeLine(page, "/ignore nana");
      await waitForLine(page, /^Ignoring nana/);
      await sayInRoom(sophia, "before the cut");
      await waitForLine(page, /before the cut$/);

      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      for (const text of ["missed one", "missed two", "missed three"]) {
        await sayInRoom(sophia, text);
      }
      await sayInRoom(nana, "ignored while away");
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await waitForLine(page, /missed three$/);
      await sayInRoom(sophia, "live after");
      await waitForLine(page, /live after$/);

      const all = await logRows(page);
      const back = all.findIndex((row) => row === "Reconnected as webby.");
      const after = all.slice(back + 1).filter((row) =>
        /While you were away|missed|live after|before the cut|ignored/.test(
          row,
        )
      );
      assert.equal(after.length, 5, JSON.stringify(after));
      assert.equal(after[0], "While you were away:");
      for (
        const [i, text] of ["missed one", "missed two", "missed three"]
          .entries()
      ) {
        assert.match(after[i + 1]!, new RegExp(`sophia.*${text}$`));
      }
      assert.match(after[4]!, /sophia.*live after$/);
      assert.ok(!all.some((row) => row.includes("ignored while away")));
      assert.equal(
        all.filter((row) => row.endsWith("before the cut")).length,
        1,
      );
      assert.deepEqual(
        problems.filter((p) => !/WebSocket connection to .* failed/.test(p)),
        [],
      );
    } finally {
      await sophia.quit();
      await nana.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: back after a cut, the page does not show its own public line again among what was said meanwhile",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page } = await signedInThrough(chat, proxy, "webby");
      await sayInRoom(sophia, "before the cut");
      await waitForLine(page, /before the cut$/);
      // The page's own line, the newest in the room when the connection goes.
      await typeLine(page, "my own line");
      await waitForLine(
        page,
        /^\[\d\d:\d\d\] Broadcast message sent: my own line$/,
      );

      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await sayInRoom(sophia, "missed one");
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await waitForLine(page, /missed one$/);

      const all = await logRows(page);
      const back = all.findIndex((row) => row === "Reconnected as webby.");
      const after = all.slice(back + 1).filter((row) =>
        /While you were away|missed one|my own line/.test(row)
      );
      assert.equal(after.length, 2, JSON.stringify(after));
      assert.equal(after[0], "While you were away:");
      assert.match(after[1]!, /sophia.*missed one$/);
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: a line typed while cut off is said sent after what was said before it meanwhile, as on a terminal",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page } = await signedInThrough(chat, proxy, "webby");
      await sayInRoom(sophia, "before the cut");
      await waitForLine(page, /before the cut$/);

      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await sayInRoom(sophia, "missed one");
      await typeLine(page, "typed while away");
      await waitForLine(page, /^\(queued\) typed while away$/);
      proxy.down = false;
      await waitForLine(
        page,
        /^\[\d\d:\d\d\] Broadcast message sent: typed while away$/,
      );
      await waitForLine(page, /missed one$/);

      const all = await logRows(page);
      const back = all.findIndex((row) => row === "Reconnected as webby.");
      const after = all.slice(back + 1).filter((row) =>
        /While you were away|missed one|typed while away/.test(row)
      );
      assert.equal(after.length, 3, JSON.stringify(after));
      assert.equal(after[0], "While you were away:");
      assert.match(after[1]!, /sophia.*missed one$/);
      assert.match(
        after[2]!,
        /^\[\d\d:\d\d\] Broadcast message sent: typed while away$/,
      );
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "web client: signed in to an empty room and cut off before anything was said, the page shows what was said meanwhile",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const proxy = new GateProxy(Number(new URL(chat.url).port));
    const sophia = await chat.signedInClient("sophia");
    try {
      const { page } = await signedInThrough(chat, proxy, "webby");
      // Answered after the request that places the page at the room's
      // newest message (none), sent at its sign-in; it shows none either.
      await typeLine(page, "/history");
      await waitForLine(page, /^No history for the public room\.$/);

      proxy.cut();
      await waitForLine(page, /^The connection to the server was lost\.$/);
      await sayInRoom(sophia, "missed one");
      proxy.down = false;
      await waitForLine(page, /^Reconnected as webby\.$/);
      await waitForLine(page, /missed one$/);
      await sayInRoom(sophia, "live after");
      await waitForLine(page, /live after$/);

      const all = await logRows(page);
      const back = all.findIndex((row) => row === "Reconnected as webby.");
      const after = all.slice(back + 1).filter((row) =>
        /While you were away|missed one|live after/.test(row)
      );
      assert.equal(after.length, 3, JSON.stringify(after));
      assert.equal(after[0], "While you were away:");
      assert.match(after[1]!, /sophia.*missed one$/);
      assert.match(after[2]!, /sophia.*live after$/);
    } finally {
      await sophia.quit();
      await proxy.close();
    }
  },
});
