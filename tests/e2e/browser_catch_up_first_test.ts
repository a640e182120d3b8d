/// <reference lib="dom" />
/**
 * The web page back after a cut asks what was said meanwhile before it asks
 * for older messages to scroll back through: a connection's first `history`
 * request is free of its address's history rate (docs/PROTOCOL.md 5.8), and
 * the catch-up is the one that must not wait (a class behind one address
 * comes back at once). Before, a page near the top of its log spent it on
 * the scroll-back, and the catch-up waited for the address's rate, told
 * `slow_down`. Real Chromium, a real server in this process, the page behind
 * a proxy that cuts it off while sophia talks. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  join,
  launchBrowser,
  LEAK_CHECKS_OFF,
  logRows,
  openPage,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";
import { sayInRoom, startTestServer, TestClient } from "../_helpers/chat.ts";
import { GateProxy } from "../_helpers/gate_proxy.ts";

Deno.test({
  name:
    "web client: back after a cut while scrolling back, the page asks what was said meanwhile first, and shows it at once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using server = await startTestServer({
      connectionLimits: {
        // Past each connection's first history request, the address has
        // one, then one every 10 minutes.
        historyPerSecondPerAddress: 1 / 600,
        historyBurstPerAddress: 1,
        historyFreePerConnection: 1,
        // sophia says 60 lines at once.
        messageBurst: 1000,
        messageBurstPerAddress: 1000,
      },
    });
    const proxy = new GateProxy(server.port);
    const browser = await launchBrowser();
    const sophia = await TestClient.connect(server, "sophia");
    try {
      for (let n = 1; n <= 60; n++) {
        await sayInRoom(sophia, `said ${String(n).padStart(3, "0")}`);
      }
      // sophia's first history request is free; her second spends the
      // address's one.
      for (let i = 0; i < 2; i++) {
        const reply = await sophia.client.request({ t: "history", limit: 1 });
        assert.equal(reply.t, "ok", JSON.stringify(reply));
      }
      const problems: string[] = [];
      const page = await openPage(
        browser,
        `http://127.0.0.1:${proxy.port}/`,
        problems,
      );
      await join(page, "webby");
      // The latest page came on the connection's free request.
      await waitForLine(page, /said 060$/);
      // Scrolled to the top, the page asks for the page before, which the
      // server refuses (slow_down) and the page asks again, until the cut.
      await page.$eval("#log", (log) => log.scrollTo({ top: 0 }));
      await page.waitForFunction(
        () =>
          document.querySelector("#log .log-head")?.textContent?.startsWith(
            "Loading",
          ),
        { timeout: WAIT_MS },
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
        /While you were away|Still fetching|Could not fetch|missed one/.test(
          row,
        )
      );
      assert.equal(after.length, 2, JSON.stringify(after));
      assert.equal(after[0], "While you were away:");
      assert.match(after[1]!, /sophia.*missed one$/);
    } finally {
      await sophia.quit();
      await browser.close();
      await proxy.close();
    }
  },
});
