/// <reference lib="dom" />
/**
 * The page says whom its group chain goes to with the terminal's lines
 * (group_sessions.ts `givenToLine`, shared): every member at its first
 * message in a group, then, by name, whoever the server lists since its last
 * message there (docs/PROTOCOL.md 11.11). In real Chromium against a real
 * `chat serve` and real `chat connect` terminals. Slow (a browser starts): in
 * `deno task test:slow`.
 */

import assert from "node:assert/strict";
import {
  LEAK_CHECKS_OFF,
  logRows,
  signedInPage,
  startBrowserChat,
  typeLine,
  waitForLine,
  webbyAnd,
} from "../_helpers/browser.ts";

Deno.test({
  name:
    "web client: says whom its group chain goes to, and names a member new since its last message there",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, problems, terminal: nana } = await webbyAnd(chat, "nana");
    await nana.write("/create haha\n");
    await nana.waitFor(/SUCCESS: Group 'haha' created and joined\./);
    await page.focus("#line");
    await typeLine(page, "/join haha");
    await waitForLine(page, /^SUCCESS: Joined group 'haha'\.$/);
    await typeLine(page, "/group haha first");
    await waitForLine(page, /Group message to haha: first$/);
    const carol = await chat.terminal("carol");
    await chat.keysOf("carol");
    await carol.write("/join haha\n");
    await carol.waitFor(/SUCCESS: Joined group 'haha'\./);
    await typeLine(page, "/group haha second");
    await waitForLine(page, /Group message to haha: second$/);
    await carol.waitFor(/haha.*second/);
    const rows = await page.$$eval(
      "#log .line",
      (all) => all.map((row) => row.textContent ?? ""),
    );
    assert.deepEqual(
      rows.filter((row) => row.includes("Your messages to haha")),
      [
        "Your messages to haha go end to end to nana, the member the server lists",
        "Your messages to haha now go end to end to carol too, whom the server lists as a member since your last message there",
      ],
    );
    const at = (text: string) => rows.findIndex((row) => row.endsWith(text));
    assert.ok(
      at("whom the server lists as a member since your last message there") <
        at("Group message to haha: second"),
      rows.join("\n"),
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: a plain group line under its own name, which history words as sent, is said to be one the host could have written, once (PROTOCOL 11.11)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const problems: string[] = [];
    const page = await signedInPage(chat, "webby", problems);
    await chat.keysOf("webby");
    // eve has no end-to-end keys: webby's lines to haha go in the clear.
    const eve = await chat.signedInClient("eve");
    assert.equal((await eve.request({ t: "create", group: "haha" })).t, "ok");
    await page.focus("#line");
    await typeLine(page, "/join haha");
    await waitForLine(page, /^SUCCESS: Joined group 'haha'\.$/);
    await typeLine(page, "/group haha in the clear");
    await waitForLine(page, /Group message to haha: in the clear$/);
    await typeLine(page, "/group haha again");
    await waitForLine(page, /Group message to haha: again$/);
    // History shows them as webby's own: so would it a line the host wrote.
    await typeLine(page, "/history haha 5");
    await waitForLine(page, /End of history for group 'haha'/);
    const rows = await logRows(page);
    await eve.quit();
    const warning =
      "WARNING: That message from webby in haha came without end-to-end encryption, though webby uses end-to-end keys: the host of the server can read it, and could have written it or any plain one from webby in haha after it (said once)";
    assert.equal(
      rows.filter((row) => row.includes(warning)).length,
      1,
      rows.join("\n"),
    );
    const at = (pattern: RegExp) => rows.findIndex((row) => pattern.test(row));
    assert.ok(
      at(/^\[history .*Group message to haha: in the clear$/) <
        at(/^WARNING: That message from webby/),
      rows.join("\n"),
    );
    assert.deepEqual(problems, []);
  },
});

Deno.test({
  name:
    "web client: sends a group's lines end to end to the members with keys and never in the clear to a member without keys, said once (PROTOCOL 11.11)",
  ...LEAK_CHECKS_OFF,
  async fn() {
    await using chat = await startBrowserChat();
    const { page, problems, terminal: nana } = await webbyAnd(chat, "nana");
    await nana.write("/create haha\n");
    await nana.waitFor(/SUCCESS: Group 'haha' created and joined\./);
    // eve has no end-to-end keys (as a member the host made up would not).
    const eve = await chat.signedInClient("eve");
    const plainToEve: unknown[] = [];
    eve.onMessage((incoming) => {
      if (incoming.message.t === "group") plainToEve.push(incoming.message);
    });
    assert.equal((await eve.request({ t: "join", group: "haha" })).t, "ok");
    await page.focus("#line");
    await typeLine(page, "/join haha");
    await waitForLine(page, /^SUCCESS: Joined group 'haha'\.$/);
    await typeLine(page, "/group haha under the bridge");
    await waitForLine(page, /Group message to haha: under the bridge$/);
    await typeLine(page, "/group haha at noon");
    await waitForLine(page, /Group message to haha: at noon$/);
    await nana.waitFor(/haha.*at noon/);
    const rows = await logRows(page);
    await eve.quit();
    assert.deepEqual(plainToEve, [], "nothing in the clear");
    assert.equal(
      rows.filter((row) =>
        row.startsWith(
          "WARNING: eve has no end-to-end keys, so your messages to haha are not sent to them (the host could read them)",
        )
      ).length,
      1,
      rows.join("\n"),
    );
    assert.ok(!rows.some((row) => row.includes("not end-to-end encrypted")));
    assert.deepEqual(problems, []);
  },
});
