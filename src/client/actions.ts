// This module is browser compatible.

/**
 * `/me waves`: an action, shown as `* sophia waves`. It travels as text: the
 * message body is `/me waves` (docs/PROTOCOL.md, "Actions"), so the server,
 * the store and history need nothing new, the body can be end-to-end
 * encrypted like any other, and a client that does not know actions shows
 * `/me waves` as IRC users would read it.
 *
 * @module
 */

/** What an action's body starts with. */
export const ACTION_PREFIX = "/me ";

/** The body that carries the action `text`. */
export function actionBody(text: string): string {
  return ACTION_PREFIX + text;
}

/** The action in a message body (`waves` for `/me waves`), or null if it is none. */
export function actionOf(body: string): string | null {
  if (!body.startsWith(ACTION_PREFIX)) return null;
  const text = body.slice(ACTION_PREFIX.length);
  return text.trim() === "" ? null : text;
}
