/**
 * The sender's confirmation names the recipient or group as registered, not
 * as typed: real `chat connect` processes through a real `chat serve`, end to
 * end (e2e_msg, e2e_gsay) as a user's are.
 */

import assert from "node:assert/strict";
import { quit, ServedChat } from "../_helpers/served_chat.ts";

Deno.test("chat connect confirms /msg NANA and /group HAHA as sent to nana and haha, the names as registered", async () => {
  await using chat = await ServedChat.start("chat-registered-names-");
  await chat.serve();
  const [sophia, nana] = await chat.signIn(["sophia", "nana"]);
  await nana.write("/create haha\n");
  await nana.waitFor(/SUCCESS: Group 'haha' created and joined\./);
  await sophia.write("/join HAHA\n");
  await sophia.waitFor(/SUCCESS: Joined group 'haha'\./);

  await sophia.write("/msg NANA nihao\n");
  await sophia.waitFor(/Private message to nana: nihao/);
  await nana.waitFor(/Private message from sophia: nihao/);
  await sophia.write("/group HAHA Hello there!\n");
  await sophia.waitFor(/Group message to haha: Hello there!/);
  await nana.waitFor(
    /\[Receive group haha message from sophia\]: Hello there!/,
  );
  assert.doesNotMatch(sophia.stdout, /to NANA|to HAHA/);

  await quit(sophia);
  await quit(nana);
});
