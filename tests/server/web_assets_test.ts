import assert from "node:assert/strict";
import {
  noWebAnswer,
  noWebPage,
  secureRedirect,
  WEB_HEADERS,
  webAnswer,
} from "../../src/server/web_assets.ts";
import { WEB_ASSETS } from "../../src/web/assets.gen.ts";
import { startTestServer, TestClient } from "../_helpers/chat.ts";

Deno.test("webAnswer serves the page, its script and its style with their types", () => {
  const page = webAnswer("GET", "/", undefined);
  assert.equal(page?.status, 200);
  assert.equal(page?.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(text(page?.body), WEB_ASSETS["/"]?.body);
  assert.equal(
    text(webAnswer("GET", "/index.html?x=1", undefined)?.body),
    text(page?.body),
  );
  assert.match(
    webAnswer("GET", "/app.js", undefined)?.headers["content-type"] ?? "",
    /^text\/javascript/,
  );
  assert.match(
    webAnswer("GET", "/style.css", undefined)?.headers["content-type"] ?? "",
    /^text\/css/,
  );
  assert.equal(
    webAnswer("GET", "/favicon.svg", undefined)?.headers["content-type"],
    "image/svg+xml",
  );
});

Deno.test("webAnswer leaves other methods and paths to the caller", () => {
  assert.equal(webAnswer("POST", "/", undefined), null);
  assert.equal(webAnswer("GET", "/chat", undefined), null);
  assert.equal(webAnswer("GET", "/../etc/passwd", undefined), null);
  assert.equal(webAnswer("GET", "__proto__", undefined), null);
  assert.equal(webAnswer("GET", "constructor", undefined), null);
  assert.equal(webAnswer(undefined, undefined, undefined), null);
});

Deno.test("webAnswer answers HEAD without a body and a matching If-None-Match with 304", () => {
  const head = webAnswer("HEAD", "/app.js", undefined);
  assert.equal(head?.status, 200);
  assert.equal(text(head?.body), "");
  assert.equal(
    head?.headers["content-length"],
    String(new TextEncoder().encode(WEB_ASSETS["/app.js"]?.body).length),
  );
  const etag = head?.headers.etag ?? "";
  assert.equal(webAnswer("GET", "/app.js", etag)?.status, 304);
  assert.equal(webAnswer("GET", "/app.js", `"x", W/${etag}`)?.status, 304);
  assert.equal(webAnswer("GET", "/app.js", '"other"')?.status, 200);
  const unchanged = webAnswer("GET", "/app.js", etag);
  assert.equal(text(unchanged?.body), "");
  assert.equal(unchanged?.headers["content-length"], undefined);
  assert.equal(unchanged?.headers.etag, etag);
});

Deno.test("webAnswer hands every request the bytes and length encoded once at start-up", () => {
  for (const path of Object.keys(WEB_ASSETS)) {
    const one = webAnswer("GET", path, undefined);
    const two = webAnswer("GET", path, undefined);
    // The same bytes, not encoded again for each request.
    assert.ok(one?.body instanceof Uint8Array, path);
    assert.equal(one?.body, two?.body, path);
    assert.equal(one?.headers, two?.headers, path);
    assert.equal(
      one?.headers["content-length"],
      String(one?.body.length),
      path,
    );
    assert.equal(text(one?.body), WEB_ASSETS[path]?.body);
    // Shared, so not for a caller to change.
    assert.ok(Object.isFrozen(one?.headers));
  }
});

function text(body: string | Uint8Array | undefined): string | undefined {
  return typeof body === "string"
    ? body
    : body && new TextDecoder().decode(body);
}

Deno.test("startServer serves the web page with a CSP forbidding inline script, and still upgrades", async () => {
  await using server = await startTestServer();
  const base = `http://127.0.0.1:${server.port}`;
  const page = await fetch(`${base}/`);
  assert.equal(page.status, 200);
  const csp = page.headers.get("content-security-policy") ?? "";
  assert.match(csp, /script-src 'self'(;|$)/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(page.headers.get("x-content-type-options"), "nosniff");
  assert.equal(page.headers.get("cache-control"), "no-cache");
  assert.equal(await page.text(), WEB_ASSETS["/"]?.body);
  const script = await fetch(`${base}/app.js`);
  const bytes = new Uint8Array(await script.arrayBuffer());
  assert.equal(new TextDecoder().decode(bytes), WEB_ASSETS["/app.js"]?.body);
  assert.equal(script.headers.get("content-length"), String(bytes.length));
  const head = await fetch(`${base}/app.js`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(bytes.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const again = await fetch(`${base}/app.js`, {
    headers: { "if-none-match": script.headers.get("etag") ?? "" },
  });
  assert.equal(again.status, 304);
  await again.body?.cancel();
  for (const [name, value] of Object.entries(WEB_HEADERS)) {
    if (name !== "connection") assert.equal(again.headers.get(name), value);
  }
  // The page's sockets are gone, and a chat client still gets in.
  const alice = await TestClient.connect(server, "alice");
  assert.equal(alice.client.name, "alice");
  await alice.quit();
});

Deno.test("noWebAnswer answers the page's paths with a 404 that says why, and leaves the rest to the caller", () => {
  const page = noWebAnswer("GET", "/");
  assert.equal(page?.status, 404);
  assert.equal(page?.body, noWebPage());
  assert.match(page?.body ?? "", /terminal client: chat connect HOST\n$/);
  assert.equal(noWebAnswer("HEAD", "/app.js")?.body, "");
  assert.equal(noWebAnswer("GET", "/chat"), null);
  assert.equal(noWebAnswer("POST", "/"), null);
});

Deno.test("startServer with web: false (chat serve --no-web) serves no page, and still upgrades", async () => {
  await using server = await startTestServer({ web: false });
  const base = `http://127.0.0.1:${server.port}`;
  for (const path of ["/", "/app.js", "/index.html"]) {
    const response = await fetch(`${base}${path}`);
    assert.equal(response.status, 404, path);
    assert.equal(await response.text(), noWebPage());
  }
  const other = await fetch(`${base}/elsewhere`);
  assert.equal(other.status, 426);
  await other.body?.cancel();
  const alice = await TestClient.connect(server, "alice");
  assert.equal(alice.client.name, "alice");
  await alice.quit();
});

// Seen following the README from the sources: the 404 of `deno task start
// --no-web` told people to run `chat connect`, a command the sources do not
// have; the server's other hints name `deno task connect` there.
Deno.test("a server run from the sources with web: false names deno task connect in its 404", async () => {
  await using server = await startTestServer({
    web: false,
    launcher: "sources",
  });
  const response = await fetch(`http://127.0.0.1:${server.port}/`);
  assert.equal(response.status, 404);
  const text = await response.text();
  assert.equal(
    text,
    "This chat server serves no web page (it was started with --no-web). Join it with the terminal client: deno task connect HOST\n",
  );
  assert.equal(
    response.headers.get("content-length"),
    String(new TextEncoder().encode(text).byteLength),
  );
});

Deno.test("secureRedirect sends a page request for another machine's name to https://, without the query", () => {
  const lan = secureRedirect("GET", "/app.js?v=2", "[fd00::20]:8767");
  assert.equal(lan?.status, 307);
  assert.equal(lan?.headers.location, "https://[fd00::20]:8767/app.js");
  assert.equal(lan?.body, "Go to https://[fd00::20]:8767/app.js\n");
  assert.equal(secureRedirect("HEAD", "/", "chat.lan")?.body, "");
  assert.equal(
    secureRedirect("HEAD", "/", "chat.lan")?.headers.location,
    "https://chat.lan/",
  );
  // This machine's names are a secure context over plain http already.
  for (const host of ["localhost", "LOCALHOST:8767", "127.0.0.5:1", "[::1]"]) {
    assert.equal(secureRedirect("GET", "/", host), null, host);
  }
  // Not the page, not a read, or no usable Host: answered as before.
  assert.equal(secureRedirect("GET", "/other", "chat.lan"), null);
  assert.equal(secureRedirect("POST", "/", "chat.lan"), null);
  assert.equal(secureRedirect("GET", "/", undefined), null);
  assert.equal(secureRedirect("GET", "/", "a b"), null);
  assert.equal(secureRedirect("GET", "/", "x.lan\r\nset-cookie: y"), null);
});
