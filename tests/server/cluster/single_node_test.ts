/**
 * A single node loads no NATS code (issue 19): nothing main.ts imports
 * statically, at run time, reaches the NATS clients; only
 * `chat serve --cluster` imports cluster/node.ts, dynamically.
 */

import assert from "node:assert/strict";
import { dirname, join, relative } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "../../..");

/** Specifiers a module imports statically at run time (not `import type`). */
function runtimeImports(source: string): string[] {
  const statement =
    /^\s*(?:import|export)\s+(?!type\s)(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']/gm;
  return [...source.matchAll(statement)].map((match) => match[1]!);
}

Deno.test("main.ts reaches no NATS code through static imports: the cluster is loaded only with --cluster", () => {
  const seen = new Set<string>();
  const outside = new Set<string>();
  const todo = [join(ROOT, "main.ts")];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeImports(Deno.readTextFileSync(file))) {
      if (specifier.startsWith(".")) {
        todo.push(join(dirname(file), specifier));
      } else outside.add(specifier);
    }
  }
  const reached = [...seen].map((file) => relative(ROOT, file));
  assert.ok(
    reached.includes("src/server/serve.ts"),
    "the walk reaches serve.ts",
  );
  assert.deepEqual(
    [...outside].filter((specifier) => specifier.startsWith("@nats-io/")),
    [],
  );
  assert.deepEqual(
    reached.filter((file) => file.startsWith("src/server/cluster/")),
    [],
  );
  // …and the dynamic import is there, for --cluster.
  assert.match(
    Deno.readTextFileSync(join(ROOT, "main.ts")),
    /await import\("\.\/src\/server\/cluster\/node\.ts"\)/,
  );
});
