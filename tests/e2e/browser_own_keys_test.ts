/// <reference lib="dom" />
/**
 * A page without its own end-to-end keys sends nothing private in the
 * clear: not from a second tab of the same name (the first has the keys),
 * not after the browser's copy of them no longer opens. A tab signed in
 * as another name has keys of its own. A reader who knows the sender's
 * key would refuse such a message (plain_messages.ts), and one who does not
 * would be shown what the host could read; the page refuses instead, saying
 * what to do (own_keys.ts).
 */

import assert from "node:assert/strict";
import {
  join,
  keysHeldElsewhere,
  LEAK_CHECKS_OFF,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
} from "../_helpers/browser.ts";
import { TestClient } from "../_helpers/chat.ts";
import { fetchBundle } from "../../src/client/e2e_keys.ts";
import type { Page } from "puppeteer-core";

/** Writes over this browser's kept keyrings; how many there were. */
function damageKeyrings(): Promise<number> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("chat-e2e");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      const store = tx.objectStore("records");
      const keys = store.getAllKeys();
      let damaged = 0;
      keys.onsuccess = () => {
        for (const key of keys.result) {
          if (!String(key).startsWith("keyring ")) continue;
          store.put("damaged", key);
          damaged++;
        }
      };
      tx.oncomplete = () => {
        open.result.close();
        resolve(damaged);
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

Deno.test({
  name:
    "web: a page whose end-to-end keys no longer open refuses private and group messages rather than send them in the clear",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const jojo = new TestClient(await chat.signedInClient("jojo"));
    try {
      assert.equal(
        (await jojo.client.request({ t: "create", group: "crew" })).t,
        "ok",
      );
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      await chat.keysOf("webby");

      // The keys kept in this browser no longer open.
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      assert.equal(await page.evaluate(damageKeyrings), 1);
      await page.reload();
      await join(page, "webby");
      await waitForLine(
        page,
        /^WARNING: Cannot read end-to-end keys in this browser's storage .*Without your end-to-end keys this page sends no private or group message/,
      );
      await typeLine(page, "/msg jojo not in the clear");
      await waitForLine(
        page,
        /^ERROR: Not sent: this browser could not open your end-to-end keys \(see the warning after you joined\), and private messages never go/,
      );
      await typeLine(page, "/join crew");
      await typeLine(page, "/group crew nor this");
      await waitForLine(
        page,
        /^ERROR: Not sent: this browser could not open your end-to-end keys .* and group messages never go/,
      );

      // The room still works, and before its line jojo got nothing else.
      await typeLine(page, "said aloud");
      await jojo.waitFor(({ message, text }) =>
        message.t === "public" && text === "said aloud"
      );
      assert.deepEqual(
        jojo.chat().filter(([, from]) => from !== "jojo"),
        [["public", "webby", "said aloud"]],
      );
      assert.deepEqual(problems, []);
    } finally {
      await jojo.quit();
    }
  },
});

/** The text of the page's log. */
function logText(page: Page): Promise<string> {
  return page.$eval(
    "#log",
    (e) =>
      [...e.querySelectorAll(".line")].map((row) => row.textContent).join("\n"),
  );
}

Deno.test({
  name:
    "web: every name a browser signs in with publishes its own end-to-end keys, and what is written to it goes end to end; a second tab of the same name defers to the first",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const probe = await chat.signedInClient("probe");
    try {
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      const webbyKey = await chat.keysOf("webby");
      // A second tab of this browser, under another name (the same identity).
      const second = await signedInPage(chat, "webby2", problems);
      assert.equal(await chat.keysOf("webby2"), webbyKey);
      // Kept per name: not the same keys published twice.
      const [webby, webby2] = [
        await fetchBundle(probe, "webby"),
        await fetchBundle(probe, "webby2"),
      ];
      assert.notDeepEqual(webby.bundle.signed.key, webby2.bundle.signed.key);
      assert.notDeepEqual(webby.bundle.dh.key, webby2.bundle.dh.key);

      // Both ways, end to end: no warning that the host can read them.
      await typeLine(page, "/msg webby2 the owl flies at midnight");
      await waitForLine(
        second,
        /Private message from webby: the owl flies at midnight$/,
      );
      await typeLine(second, "/msg webby bring the lantern");
      // A tab in the background gets no animation frames, which the wait
      // polls on.
      await page.bringToFront();
      await waitForLine(
        page,
        /Private message from webby2: bring the lantern$/,
      );
      const logs = (await logText(page)) + (await logText(second));
      assert.doesNotMatch(logs, /host of the server can read|Another tab/);

      // A third tab, under the second's name, while another tab has its
      // keys (the second lets them go once signed out).
      await keysHeldElsewhere(chat, second, "webby2", problems);
      const third = await signedInPage(chat, "webby2", problems);
      await waitForLine(third, /^WARNING: Another tab of this browser/);
      await typeLine(third, "/msg webby not from here");
      await waitForLine(
        third,
        /^ERROR: Not sent: private messages go from the tab of this browser that has your end-to-end keys/,
      );
      await typeLine(third, "/create crew");
      await typeLine(third, "/group crew nor this");
      await waitForLine(
        third,
        /^ERROR: Not sent: group messages go from the tab of this browser that has your end-to-end keys/,
      );
      assert.deepEqual(problems, []);
    } finally {
      await probe.quit();
    }
  },
});

/**
 * Renames this browser's end-to-end records of `name` to those of pages
 * before names ("keyring <fp>", "state <fp>"); the names of the records.
 */
function asBeforeNames(name: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("chat-e2e");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      const store = tx.objectStore("records");
      const keys = store.getAllKeys();
      keys.onsuccess = () => {
        for (const key of keys.result.map(String)) {
          if (!key.endsWith(` ${name}`)) continue;
          const value = store.get(key);
          value.onsuccess = () => {
            store.put(value.result, key.slice(0, -` ${name}`.length));
            store.delete(key);
          };
        }
      };
      tx.oncomplete = () => {
        const names = open.result.transaction("records").objectStore("records")
          .getAllKeys();
        names.onsuccess = () => {
          open.result.close();
          resolve(names.result.map(String).sort());
        };
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

Deno.test({
  name:
    "web: the end-to-end keys a browser kept before names are taken over by the first name signed in, not made anew",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const probe = await chat.signedInClient("probe");
    try {
      const problems: string[] = [];
      const page = await signedInPage(chat, "webby", problems);
      const fingerprint = await chat.keysOf("webby");
      const before = await fetchBundle(probe, "webby");
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      assert.deepEqual(
        (await page.evaluate(asBeforeNames, "webby")).filter((key) =>
          key.startsWith(`keyring ${fingerprint}`)
        ),
        [`keyring ${fingerprint}`],
      );
      await page.reload();
      await join(page, "webby");
      await chat.keysOf("webby");
      const after = await fetchBundle(probe, "webby");
      assert.deepEqual(after.bundle.signed.key, before.bundle.signed.key);
      assert.deepEqual(
        (await page.evaluate(asBeforeNames, "nobody")).filter((key) =>
          key.startsWith(`keyring ${fingerprint}`)
        ),
        [`keyring ${fingerprint} webby`],
      );
      assert.deepEqual(problems, []);
    } finally {
      await probe.quit();
    }
  },
});

/** Copies this browser's kept keyrings (by record key), to put back later. */
function keptKeyrings(): Promise<[string, unknown][]> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("chat-e2e");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readonly");
      const store = tx.objectStore("records");
      const kept: [string, unknown][] = [];
      const cursor = store.openCursor();
      cursor.onsuccess = () => {
        const at = cursor.result;
        if (at === null) return;
        if (String(at.key).startsWith("keyring ")) {
          kept.push([String(at.key), at.value]);
        }
        at.continue();
      };
      tx.oncomplete = () => {
        open.result.close();
        resolve(kept);
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

/** Puts keyrings copied by keptKeyrings back. */
function putKeyrings(kept: [string, unknown][]): Promise<void> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open("chat-e2e");
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const tx = open.result.transaction("records", "readwrite");
      const store = tx.objectStore("records");
      for (const [key, value] of kept) store.put(value, key);
      tx.oncomplete = () => {
        open.result.close();
        resolve();
      };
      tx.onabort = () => reject(tx.error);
    };
  });
}

Deno.test({
  name:
    "web: a page whose end-to-end keys no longer open leaves private messages on the server, said once; with the keys back they come, each once",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    const termy = await chat.terminal("termy");
    await termy.write("/msg webby with the keys\n");
    await waitForLine(page, /Private message from termy: with the keys$/);

    // The keys kept in this browser no longer open (copied first).
    await typeLine(page, "/quit");
    await waitForLine(page, /Disconnected\.$/);
    const kept = await page.evaluate(keptKeyrings);
    assert.equal(kept.length, 1);
    assert.equal(await page.evaluate(damageKeyrings), 1);
    // Two wait on the server while it is away: one line for both.
    await termy.write("/msg webby while keyless one\n");
    await termy.write("/msg webby while keyless two\n");
    await termy.waitFor(/Private message to webby: while keyless two/);
    await page.reload();
    await join(page, "webby");
    await waitForLine(page, /^WARNING: Cannot read end-to-end keys/);
    await waitForLine(
      page,
      /^2 end-to-end messages from termy wait for your end-to-end keys, which this browser could not open .*: the server keeps them/,
    );
    // One more live: a short line, with the count.
    await termy.write("/msg webby while keyless three\n");
    await waitForLine(
      page,
      /^1 more end-to-end message from termy waits for your end-to-end keys \(3 in all\)/,
    );
    // Its goodbye acknowledges what it showed, not these.
    await typeLine(page, "/quit");
    await waitForLine(page, /Disconnected\.$/);
    const keyless = await logText(page);
    assert.doesNotMatch(keyless, /while keyless/);
    assert.doesNotMatch(keyless, /no end-to-end keys to open it/);
    assert.equal(keyless.match(/waits? for your end-to-end keys/g)?.length, 2);

    // The keys back: what waited comes, each once, in order.
    await page.evaluate(putKeyrings, kept);
    await page.reload();
    await join(page, "webby");
    await waitForLine(page, /Private message from termy: while keyless three$/);
    const back = await logText(page);
    for (const n of ["one", "two", "three"]) {
      assert.equal(back.split(`while keyless ${n}`).length - 1, 1, back);
    }
    assert.match(back, /keyless one[\s\S]*keyless two[\s\S]*keyless three/);
    assert.doesNotMatch(back, /could not be opened/);
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web: a page whose end-to-end keys no longer open says what a /history holds end to end could not be opened, and holds nothing back for it: only what waited comes again",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    const fingerprint = await chat.keysOf("webby");
    // Someone at a script: what they seal is not for opening (it only
    // takes a place in the conversation), what they say is plain.
    const jojo = await chat.signedInClient("jojo");
    const bytes = (text: string) => new TextEncoder().encode(text);
    const sealed = async () =>
      assert.equal(
        (await jojo.request(
          { t: "e2e_msg", to: "webby", fingerprint },
          bytes("not an envelope"),
        )).t,
        "ok",
      );
    const say = async (text: string) =>
      assert.equal(
        (await jojo.request({ t: "msg", to: "webby" }, bytes(text))).t,
        "ok",
      );
    try {
      // With its keys, the page tries it, says so, and acknowledges it.
      await sealed();
      await waitForLine(
        page,
        /A private message from jojo could not be opened/,
      );
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);
      const kept = await page.evaluate(keptKeyrings);
      assert.equal(await page.evaluate(damageKeyrings), 1);
      await page.reload();
      await join(page, "webby");
      await waitForLine(page, /^WARNING: Cannot read end-to-end keys/);

      // Its copy in a /history: said to be unopened, not to be kept.
      await typeLine(page, "/history jojo");
      await waitForLine(
        page,
        /^End of history for your conversation with jojo \(0 messages; 1 could not be opened\)\.$/,
      );
      const answer = await logText(page);
      assert.match(
        answer,
        /^1 end-to-end message from jojo in the history could not be opened without your end-to-end keys, which this browser could not open \(see the warning after you joined; reload to try again\)$/m,
      );
      assert.doesNotMatch(answer, /server keeps|for your end-to-end keys/);
      // ... and what comes after it in the conversation is acknowledged.
      await say("after the history");
      await waitForLine(page, /jojo: after the history$/);

      // One that comes live is left for the keys, and so is what follows
      // it; its copy in a /history does not let it go.
      await sealed();
      await waitForLine(
        page,
        /^1 end-to-end message from jojo waits for your end-to-end keys/,
      );
      await say("behind it");
      await waitForLine(page, /jojo: behind it$/);
      await typeLine(page, "/history jojo");
      await waitForLine(
        page,
        /^End of history for your conversation with jojo \(2 messages; 2 could not be opened\)\.$/,
      );
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);

      // Still without the keys: what waited comes again, nothing else.
      await page.reload();
      await join(page, "webby");
      await waitForLine(
        page,
        /^1 end-to-end message from jojo waits for your end-to-end keys/,
      );
      await waitForLine(page, /jojo: behind it$/);
      const again = await logText(page);
      assert.doesNotMatch(again, /after the history/);
      await typeLine(page, "/quit");
      await waitForLine(page, /Disconnected\.$/);

      // With the keys back it is tried, once, and said not to open.
      await page.evaluate(putKeyrings, kept);
      await page.reload();
      await join(page, "webby");
      await waitForLine(page, /jojo: behind it$/);
      const back = await logText(page);
      assert.equal(
        back.match(/A private message from jojo could not be opened/g)?.length,
        1,
        back,
      );
      assert.doesNotMatch(back, /after the history|for your end-to-end keys/);
      assert.deepEqual(problems, []);
    } finally {
      await jojo.quit();
    }
  },
});
