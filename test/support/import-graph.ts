// The import graph of src/: every static `import`/`export ... from` and every `import('...')` with a literal path,
// type-only ones included (a type cycle is still a cycle a reader has to untangle). Used by test/architecture.test.ts.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** File (relative to the root) → the files it imports (relative to the root). */
export type ImportGraph = Map<string, string[]>;

const STATIC = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;
const DYNAMIC = /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** The relative module paths one source text imports. */
export function importsOf(text: string): string[] {
  // Comments may quote imports (`// import('./x.ts')`); drop them before matching.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  return [...new Set([...code.matchAll(STATIC), ...code.matchAll(DYNAMIC)].map((m) => m[1]!))];
}

/** The graph of every non-test `.ts` file under `dir` (paths relative to `root`). */
export function importGraph(root: string, dir: string): ImportGraph {
  const files: string[] = [];
  (function walk(d: string) {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts')) files.push(p);
    }
  })(join(root, dir));
  const graph: ImportGraph = new Map();
  for (const f of files) {
    graph.set(relative(root, f), importsOf(readFileSync(f, 'utf8')).map((spec) => relative(root, resolve(dirname(f), spec))));
  }
  return graph;
}

/** Every cycle of the graph, one per strongly connected component of more than one file (or a self-import). */
export function findCycles(graph: ImportGraph): string[][] {
  // Tarjan's algorithm, iterative enough for our depth (a few hundred files).
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** The top-level part of `src/` a file belongs to: its folder, or the file itself for `src/*.ts`. */
export function partOf(file: string, dir = 'src'): string {
  const rest = relative(dir, file).split('/');
  return rest.length > 1 ? rest[0]! : rest[0]!;
}

/** Imports that go from a part to one of a higher layer (or a same-layer peer not listed in `peers`). */
export function layerViolations(
  graph: ImportGraph, layers: Record<string, number>, peers: ReadonlyArray<readonly [string, string]> = [], dir = 'src',
): string[] {
  const out: string[] = [];
  for (const [from, targets] of graph) {
    const a = partOf(from, dir);
    for (const to of targets) {
      const b = partOf(to, dir);
      if (a === b) continue;
      const la = layers[a];
      const lb = layers[b];
      if (la === undefined) { out.push(`${from}: part ${a} has no layer`); continue; }
      if (lb === undefined) { out.push(`${from} -> ${to}: part ${b} has no layer`); continue; }
      const peer = peers.some(([x, y]) => x === a && y === b);
      if (lb > la || (lb === la && !peer)) out.push(`${from} -> ${to} (${a}, layer ${la} -> ${b}, layer ${lb})`);
    }
  }
  return out;
}
