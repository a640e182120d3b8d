/** A test's own folder, removed with all it holds when the test's scope ends. */

export interface TempDir extends AsyncDisposable {
  readonly path: string;
}

/** A fresh folder under the system's temporary one, named `prefix`…. */
export async function tempDir(prefix: string): Promise<TempDir> {
  const path = await Deno.makeTempDir({ prefix });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}
