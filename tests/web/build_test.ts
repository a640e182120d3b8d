import assert from "node:assert/strict";
import { buildWebAssets, GENERATED } from "../../src/web/build.ts";

Deno.test("buildWebAssets makes exactly the committed assets.gen.ts (else run deno task build:web)", async () => {
  const built = await buildWebAssets();
  const committed = await Deno.readTextFile(GENERATED);
  // Not assert.equal: its diff of a 70 KB line would bury the advice.
  assert.ok(
    built === committed,
    "src/web/assets.gen.ts is out of date: run `deno task build:web` and commit it",
  );
});

Deno.test("buildWebAssets bundles the page's script with no inline script in the HTML", async () => {
  const { WEB_ASSETS } = await import("../../src/web/assets.gen.ts");
  const html = WEB_ASSETS["/"]?.body ?? "";
  assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
  // Every <script> has a src: the CSP (script-src 'self') forbids the rest.
  assert.equal(html.match(/<script(?![^>]*\ssrc=)/g), null);
  assert.ok((WEB_ASSETS["/app.js"]?.body.length ?? 0) > 10_000);
  assert.match(WEB_ASSETS["/style.css"]?.body ?? "", /#log/);
});
