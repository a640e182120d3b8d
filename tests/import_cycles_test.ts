/**
 * No module under src/ imports itself through others: data flows one way
 * (docs in /work/shared/STYLE.md, "A module map"), so any part can be
 * lifted out — the server core onto several processes (issue 19) — without
 * dragging the rest along. Type-only imports count: a cycle of types is a
 * cycle of concepts.
 */

import assert from "node:assert/strict";
import { dirname, join, relative, resolve } from "node:path";

/** Specifiers of `import … from`, `export … from`, `import "x"` and `import("x")`. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  // Statements start a line, so comments that mention an import do not count.
  const statement =
    /^\s*(?:import|export)\s+(?:type\s+)?(?:[^"';]*?\sfrom\s*)?["']([^"']+)["']/gm;
  for (const match of source.matchAll(statement)) found.push(match[1]!);
  for (const match of source.matchAll(/\bimport\(\s*["']([^"']+)["']/g)) {
    found.push(match[1]!);
  }
  return found;
}

/** Modules that import each other, and one path around them. */
export interface Tangle {
  /** Every module of the strongly connected part, sorted. */
  modules: string[];
  /** A shortest cycle through the first of them, back to its start. */
  cycle: string[];
}

/**
 * The cycles of a graph: one per strongly connected part with more than one
 * module (or a module importing itself).
 */
export function importCycles(
  graph: ReadonlyMap<string, readonly string[]>,
): Tangle[] {
  // Tarjan's algorithm, iterative over the recursion it usually needs.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const parts: string[][] = [];
  let next = 0;
  const visit = (root: string) => {
    const work: [string, number][] = [[root, 0]];
    index.set(root, next);
    low.set(root, next++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const [node, edge] = top;
      const targets = graph.get(node) ?? [];
      if (edge < targets.length) {
        top[1]++;
        const target = targets[edge]!;
        if (!index.has(target)) {
          index.set(target, next);
          low.set(target, next++);
          stack.push(target);
          onStack.add(target);
          work.push([target, 0]);
        } else if (onStack.has(target)) {
          low.set(node, Math.min(low.get(node)!, index.get(target)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) {
        low.set(parent[0], Math.min(low.get(parent[0])!, low.get(node)!));
      }
      if (low.get(node) === index.get(node)) {
        const part: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          part.push(member);
        } while (member !== node);
        const selfLoop = (graph.get(node) ?? []).includes(node);
        if (part.length > 1 || selfLoop) parts.push(part);
      }
    }
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return parts.map((part) => ({
    modules: part.sort(),
    cycle: cycleIn(graph, new Set(part)),
  }));
}

/** One concrete cycle through a strongly connected part, for the message. */
function cycleIn(
  graph: ReadonlyMap<string, readonly string[]>,
  part: ReadonlySet<string>,
): string[] {
  const start = [...part].sort()[0]!;
  // Breadth first from start's successors back to start: a shortest cycle.
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const target of graph.get(node) ?? []) {
      if (!part.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = cameFrom.get(at)!) {
          path.push(at);
        }
        path.push(start);
        return [start, ...path.slice(1, -1).reverse(), start];
      }
      if (!cameFrom.has(target)) {
        cameFrom.set(target, node);
        queue.push(target);
      }
    }
  }
  return [start, start];
}

/** Every .ts file under `root` and the .ts files of src/ it imports. */
async function sourceGraph(root: string): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith(".ts")) {
        const source = await Deno.readTextFile(path);
        graph.set(
          relative(root, path),
          importSpecifiers(source)
            .filter((specifier) => specifier.startsWith("."))
            .map((specifier) =>
              relative(root, resolve(dirname(path), specifier))
            )
            .filter((target) => !target.startsWith("..")),
        );
      }
    }
  };
  await walk(root);
  return graph;
}

const SRC = resolve(dirname(new URL(import.meta.url).pathname), "../src");

Deno.test("importSpecifiers finds every form of import and export from", () => {
  const source = [
    `import { a } from "./a.ts";`,
    `import type {`,
    `  B,`,
    `  C,`,
    `} from "./b.ts";`,
    `export { d } from './d.ts';`,
    `export * from "./e.ts";`,
    `import "./f.ts";`,
    `const g = await import("./g.ts");`,
    `// import { h } from "./h.ts";`,
    ` * export { i } from "./i.ts";`,
    `export const j = "from './j.ts'";`,
  ].join("\n");
  assert.deepEqual(importSpecifiers(source), [
    "./a.ts",
    "./b.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./g.ts",
  ]);
});

Deno.test("importCycles lists each cycle once as a path back to its start", () => {
  const graph = new Map([
    ["a", ["b"]],
    ["b", ["c", "d"]],
    ["c", ["a"]],
    ["d", []],
    ["e", ["e"]],
    ["f", ["d"]],
  ]);
  assert.deepEqual(
    importCycles(graph).sort((x, y) => x.cycle[0]!.localeCompare(y.cycle[0]!)),
    [
      { modules: ["a", "b", "c"], cycle: ["a", "b", "c", "a"] },
      { modules: ["e"], cycle: ["e", "e"] },
    ],
  );
  assert.deepEqual(importCycles(new Map([["a", ["b"]], ["b", []]])), []);
});

Deno.test("src has no import cycles", async () => {
  const graph = await sourceGraph(SRC);
  assert.ok(graph.size > 50, `only ${graph.size} modules found under ${SRC}`);
  assert.ok(
    graph.get("server/router.ts")?.includes("protocol/limits.ts"),
    "the walk does not see router.ts's imports",
  );
  const cycles = importCycles(graph).map(({ modules, cycle }) =>
    `${modules.join(", ")} import each other, e.g. ${cycle.join(" -> ")}`
  );
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join("\n")}`);
});
