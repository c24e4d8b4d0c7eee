// The floor stays clean: no import cycles in src/, and no import from a lower layer to a higher one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findCycles, importGraph, importsOf, layerViolations, type ImportGraph } from './support/import-graph.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * The layers of src/, lowest first. A part may import parts of a lower layer only (a same-layer import only when
 * listed in PEERS). Each folder's README says the same in words.
 */
const LAYERS: Record<string, number> = {
  domain: 0, // pure types, validation, status machines: imports nothing of ours
  autoscale: 1, // the pure scaling decider
  'socket-path.ts': 1, // unix socket paths that fit sun_path (used by drivers and the data plane)
  store: 2, runtime: 2, edge: 2, console: 2, // persistence, drivers, data plane, static console
  build: 3, // sources, builders and functions
  backup: 3, // backups and restores of a data directory (reads the store's files)
  'config.ts': 4, // every PIER_* setting, parsed once
  'component.ts': 5, // the component types every wired part implements
  actions: 6, control: 6, certs: 6, metrics: 6, // API writes; reconcilers (instances, certificates, metrics)
  api: 7, // HTTP handlers over actions and store reads
  'platform.ts': 8, 'main.ts': 8, cli: 8, // composition root; the CLI (a client of the API)
};

/** Same-layer imports that are allowed (from, to). */
const PEERS: ReadonlyArray<readonly [string, string]> = [
  ['main.ts', 'platform.ts'], // the root starts the default components
];

test('importsOf reads static, re-export, type-only and literal dynamic imports, not comments', () => {
  const text = [
    "import { a } from './a.ts';",
    "import type { B } from '../b.ts';",
    "export { c } from './c.ts';",
    'import {\n  d,\n  e,\n} from "./d.ts";',
    "const m = await import('./m.ts');",
    "// import { z } from './commented.ts';",
    "import fs from 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf(text).sort(), ['../b.ts', './a.ts', './c.ts', './d.ts', './m.ts']);
});

test('the checks find a cycle and a layer violation in a small graph', () => {
  const g: ImportGraph = new Map([
    ['src/domain/a.ts', ['src/store/b.ts']],
    ['src/store/b.ts', ['src/domain/a.ts']],
    ['src/api/c.ts', ['src/store/b.ts']],
  ]);
  assert.deepEqual(findCycles(g), [['src/domain/a.ts', 'src/store/b.ts']]);
  assert.deepEqual(layerViolations(g, { domain: 0, store: 1, api: 2 }), [
    'src/domain/a.ts -> src/store/b.ts (domain, layer 0 -> store, layer 1)',
  ]);
  assert.deepEqual(layerViolations(new Map([['src/x/a.ts', ['src/y/b.ts']]]), { x: 1, y: 1 }), [
    'src/x/a.ts -> src/y/b.ts (x, layer 1 -> y, layer 1)',
  ]);
});

const graph = importGraph(root, 'src');

test('src/ has no import cycles', () => {
  assert.ok(graph.size > 100, `only ${graph.size} files found`);
  assert.deepEqual(findCycles(graph), []);
});

test('no part of src/ imports a higher layer or an unlisted peer, and every part has a layer', () => {
  assert.deepEqual(layerViolations(graph, LAYERS, PEERS), []);
});

/**
 * Where `process.env.PIER_*` may be read: config.ts (every server setting, parsed once), the CLI (its own client
 * settings), the function wrappers (they run inside instances), the edge worker (its coordinator hands it its config
 * through the environment) and the runtime's test support. Everything else gets values passed in.
 */
const ENV_READERS = [/^src\/config\.ts$/, /^src\/cli\//, /^src\/build\/functions\/wrappers\//, /^src\/edge\/worker\.ts$/, /^src\/runtime\/testing\//];

test('PIER_* settings are read from process.env only where allowed', () => {
  const readers = [...graph.keys()].filter((f) => /process\.env(\.PIER_|\[['"]PIER_)/.test(readFileSync(join(root, f), 'utf8')));
  assert.deepEqual(readers.filter((f) => !ENV_READERS.some((r) => r.test(f))), []);
});
