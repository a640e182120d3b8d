// This module is browser compatible.

import { DEFAULT_PORT } from "../protocol/limits.ts";

/**
 * Turns what the user typed after `chat connect` into a WebSocket URL.
 * Accepts an IP, a host name, `host:port`, `[v6]:port`, a bare IPv6 address,
 * or a `ws://` / `wss://` URL. An explicit `--port` wins over none, but a port
 * written in the target itself must agree with it.
 */
export function parseTarget(
  target: string,
  port: number | null = null,
): string {
  const trimmed = target.trim();
  if (trimmed === "") throw new TypeError("Missing server address");
  if (/^wss?:\/\//i.test(trimmed)) {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      throw new TypeError(`Not a valid URL: '${trimmed}'`);
    }
    // URL drops a port equal to the scheme's default (ws://host:80), so ask
    // the text whether one was written.
    const written = /^wss?:\/\/(\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(trimmed)?.[2];
    if (written !== undefined) {
      if (port !== null && Number(written) !== port) {
        throw new TypeError(
          `Two different ports given: ${written} in '${trimmed}' and --port ${port}`,
        );
      }
      return `${url.protocol}//${url.hostname}:${written}${
        url.pathname === "/" ? "" : url.pathname
      }`;
    }
    url.port = String(port ?? (url.protocol === "ws:" ? DEFAULT_PORT : 443));
    return url.href.replace(/\/$/, "");
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    throw new TypeError(
      `Unsupported scheme in '${trimmed}': use ws:// or a plain host`,
    );
  }
  let host = trimmed;
  let written: number | null = null;
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(trimmed);
  const hostPort = /^([^:/\s]+):(\d+)$/.exec(trimmed);
  if (bracketed) {
    host = `[${bracketed[1]}]`;
    written = bracketed[2] === undefined ? null : Number(bracketed[2]);
  } else if (hostPort) {
    host = hostPort[1]!;
    written = Number(hostPort[2]);
  } else if (/^[0-9a-fA-F:]+$/.test(trimmed) && trimmed.includes("::")) {
    host = `[${trimmed}]`;
  } else if (!/^[A-Za-z0-9.-]+$/.test(trimmed)) {
    throw new TypeError(`Not a host name or address: '${trimmed}'`);
  }
  if (written !== null && port !== null && written !== port) {
    throw new TypeError(
      `Two different ports given: ${written} in '${trimmed}' and --port ${port}`,
    );
  }
  const finalPort = written ?? port ?? DEFAULT_PORT;
  if (!Number.isInteger(finalPort) || finalPort < 1 || finalPort > 65535) {
    throw new TypeError(`Port out of range: ${finalPort}`);
  }
  return `ws://${host}:${finalPort}`;
}

/**
 * Several servers of one chat (nodes of a cluster sharing its key, issue
 * 19), written as `chat connect` takes them: addresses separated by commas,
 * each as `parseTarget` reads one, `port` the default for those without
 * their own. The same server written twice is kept once, in first place.
 */
export function parseTargets(
  targets: string,
  port: number | null = null,
): string[] {
  const parts = targets.split(",").map((part) => part.trim());
  if (parts.length > 1 && parts.some((part) => part === "")) {
    throw new TypeError(
      `Empty address in '${targets.trim()}': separate addresses with single commas`,
    );
  }
  const urls: string[] = [];
  for (const part of parts) {
    const url = parseTarget(part, port);
    if (!urls.includes(url)) urls.push(url);
  }
  return urls;
}
