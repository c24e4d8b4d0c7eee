// A function's handler is compiled inside Pier's process: it may import files of its own source only, never a file
// of the host (by absolute path, by `..`, or through a link planted in the source).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareFunction } from './build.ts';

function layout(handler: string): { dir: string; secret: string; cleanup: () => void } {
  const top = mkdtempSync(join(tmpdir(), 'pier-fn-confine-'));
  const secretDir = join(top, 'operator');
  mkdirSync(secretDir);
  const secret = join(secretDir, 'credentials.json');
  writeFileSync(secret, JSON.stringify({ token: 'operator-admin-token-4242' }));
  const dir = join(top, 'src');
  mkdirSync(dir);
  writeFileSync(join(dir, 'handler.ts'), handler.replaceAll('SECRET', secret));
  writeFileSync(join(dir, 'greeting.ts'), 'export const greeting = "hi";\n');
  return { dir, secret, cleanup: () => rmSync(top, { recursive: true, force: true }) };
}

const fn: Parameters<typeof prepareFunction>[1] = { language: 'typescript', handler: 'handler.ts' };

test('a handler compiles with imports of its own source', async () => {
  const l = layout('import { greeting } from "./greeting.ts";\nexport default { fetch: () => new Response(greeting) };\n');
  try {
    await prepareFunction(l.dir, fn);
    assert.match(readFileSync(join(l.dir, '.pier/function/handler.mjs'), 'utf8'), /"hi"/);
  } finally { l.cleanup(); }
});

for (const [name, handler, link] of [
  ['an absolute path', 'import c from "SECRET";\nexport default { fetch: () => new Response(JSON.stringify(c)) };\n', false],
  ['a relative path leaving the source', 'import c from "../operator/credentials.json";\nexport default { fetch: () => new Response(JSON.stringify(c)) };\n', false],
  ['a link planted in the source', 'import c from "./creds.json";\nexport default { fetch: () => new Response(JSON.stringify(c)) };\n', true],
] as const) {
  test(`a handler importing a host file through ${name} is refused, and nothing of the file is written`, async () => {
    const l = layout(handler);
    try {
      if (link) symlinkSync(l.secret, join(l.dir, 'creds.json'));
      await assert.rejects(prepareFunction(l.dir, fn), /outside the function's source/);
      let out = '';
      try { out = readFileSync(join(l.dir, '.pier/function/handler.mjs'), 'utf8'); } catch { /* not written */ }
      assert.ok(!out.includes('operator-admin-token-4242'), 'the operator file was bundled');
    } finally { l.cleanup(); }
  });
}

test('the built wrapper runs with a bare node: no tsx, no esbuild, no NODE_PATH at run time', async () => {
  const l = layout('export default { fetch: (req: Request) => new Response("bare " + new URL(req.url).pathname) };\n');
  const { spawn } = await import('node:child_process');
  try {
    await prepareFunction(l.dir, fn);
    const child = spawn(process.execPath, [join(l.dir, '.pier/function/wrapper.mjs')], {
      cwd: tmpdir(), env: { PATH: '/usr/bin:/bin', PORT: '0', NODE_PATH: '' }, stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      let err = '';
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready line within 10 s: ${err}`)), 10_000);
        child.stderr!.on('data', (b: Buffer) => {
          err += b;
          const m = /"function ready","port":(\d+)/.exec(err);
          if (m) { clearTimeout(timer); resolve(Number(m[1])); }
        });
        child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`wrapper exited ${code}: ${err}`)); });
      });
      const r = await fetch(`http://127.0.0.1:${port}/x`);
      assert.equal(r.status, 200);
      assert.equal(await r.text(), 'bare /x');
    } finally { child.kill('SIGKILL'); }
  } finally { l.cleanup(); }
});
