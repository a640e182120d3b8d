import assert from "node:assert/strict";
import { WEB_ASSETS } from "../../src/web/assets.gen.ts";

/** The text of the page's notice about what the host can read, one line. */
function noticeText(): string {
  const page = WEB_ASSETS["/"]?.body ?? "";
  const notice = /<details id="http-notice">([\s\S]*?)<\/details>/.exec(page);
  assert.ok(notice, "the page has its notice");
  return notice[1]!.replace(/<[^>]+>/g, "").replace(/\s+/g, " ");
}

// The page seals group messages with sender keys (src/web/main.ts): a notice
// that told people the host reads their groups would make them avoid the
// very thing that is protected.
Deno.test("the web page's notice says private and group messages are end to end, the public room is not", () => {
  const text = noticeText();
  assert.match(text, /Private and group messages are end to end/);
  assert.match(text, /Messages to everyone are not: the host can read those/);
  assert.doesNotMatch(text, /to groups are not/);
});
