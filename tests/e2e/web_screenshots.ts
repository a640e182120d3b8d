/// <reference lib="dom" />
/**
 * Makes the README's screenshots of the web client (docs/web-desktop.png,
 * docs/web-phone.png): a browser user and two terminal users in a short
 * conversation, seen on a desktop and on a phone-sized screen. Run with
 * `deno task screenshots:web` after changing the page. The desktop shows
 * All (every conversation), the phone the public room.
 */

import type { Page } from "puppeteer-core";
import {
  join,
  startBrowserChat,
  typeLine,
  WAIT_MS,
  waitForLine,
} from "../_helpers/browser.ts";

const OUT = new URL("../../docs/", import.meta.url);

async function conversation(page: Page, name: string): Promise<void> {
  await join(page, name);
}

if (import.meta.main) {
  await using chat = await startBrowserChat();
  const desktop = await chat.browser.newPage();
  await desktop.setViewport({ width: 1100, height: 640 });
  await desktop.goto(chat.url);
  await conversation(desktop, "sophia");
  const jojo = await chat.terminal("jojo");
  const ana = await chat.terminal("ana");
  await desktop.waitForFunction(
    () => document.getElementById("people")?.textContent?.includes("ana"),
    { timeout: WAIT_MS },
  );
  await typeLine(desktop, "/create haha");
  await waitForLine(desktop, /Group 'haha' created/);
  await jojo.write("/join haha\n");
  await waitForLine(desktop, /jojo joined group haha|jojo.*haha/);
  await jojo.write("hi all, who is here for the workshop?\n");
  await waitForLine(desktop, /Broadcast from jojo/);
  await typeLine(desktop, "me! @jojo the slides are up");
  await ana.write("/msg sophia can you share the link?\n");
  await waitForLine(desktop, /Private message from ana/);
  await typeLine(desktop, "/msg ana http://192.168.1.104/slides");
  await jojo.write("/group haha lunch after?\n");
  await waitForLine(desktop, /Receive group haha message from jojo/);
  await typeLine(desktop, "/list");
  await waitForLine(desktop, /ana/);
  // Every conversation in one log, with the counts of those not read.
  await desktop.click("#view-all");
  await desktop.screenshot({ path: new URL("web-desktop.png", OUT).pathname });

  // Another person's phone: a browser of its own (its own identity and
  // end-to-end keys), not a second tab of the desktop's.
  const phone = await (await chat.browser.createBrowserContext()).newPage();
  await phone.setViewport({
    width: 390,
    height: 760,
    isMobile: true,
    deviceScaleFactor: 1,
  });
  await phone.goto(chat.url);
  await conversation(phone, "luca");
  await jojo.write("welcome luca!\n");
  await waitForLine(phone, /Broadcast from jojo\]: welcome luca/);
  await typeLine(phone, "thanks! joining from my phone");
  await waitForLine(phone, /Broadcast message sent/);
  await phone.screenshot({ path: new URL("web-phone.png", OUT).pathname });
  console.log("Wrote docs/web-desktop.png and docs/web-phone.png");
}
