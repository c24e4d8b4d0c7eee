// The apps of the real-apps suite, made at test time: by the framework's own scaffolding from the package registries
// (create-vite, create-next-app, django-admin startproject) or written here in the framework's usual layout, with
// lockfiles produced by the package managers themselves.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { echoClient, unary } from '../support/grpc-echo.ts';
import { tempDir } from '../support/temp.ts';

/** One app of the suite: how to make it, what its main page must say, and which build step must be cached next time. */
export interface RealApp {
  name: string;
  make(dir: string): void;
  /** What the main page (`path`, default /) must contain. */
  expect: RegExp;
  path?: string;
  /** A fragment of the dependency step (a RUN line of the generated Dockerfile) that the second build must take from cache. */
  cachedStep: string;
  /**
   * Another app of the suite whose second deploy already checks this very dependency step (same buildpack, same
   * package manager, so the same generated RUN line): this app is deployed once, which keeps the suite's time in
   * its budget (the second deploys of these six cost ~100 s, nextjs alone ~45 s). A subset run without that app
   * deploys this one twice again.
   */
  cacheCheckedBy?: string;
  instanceType?: string;
  /** The port's protocol (default http); `http2` is h2c to the app, as for gRPC. */
  protocol?: 'http' | 'http2';
  /**
   * A check of its own instead of the main page: called with the edge's HTTPS address, the app's host and the local
   * CA's root; throws until the app serves (the suite retries it for 30 s).
   */
  serves?(edge: { tlsUrl: string; host: string; rootPem: string }): Promise<void>;
}

const TOOL_TIMEOUT = 180_000;

/** Runs a tool of the host (npm, go, python3) in `cwd`; output only on failure. */
export function sh(cwd: string, argv: string[], env: Record<string, string> = {}): string {
  try {
    return execFileSync(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: TOOL_TIMEOUT, encoding: 'utf8' });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${argv.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').slice(-2000)}${(e.stdout ?? '').slice(-1000)}`);
  }
}

/** Writes files below `dir`. */
export function write(dir: string, files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) { mkdirSync(dirname(join(dir, p)), { recursive: true }); writeFileSync(join(dir, p), text); }
}

let pyTools: string | undefined;
/** A directory with Django, uv and poetry for scaffolding (pip --target, never the host's site-packages). */
function pythonTools(): string {
  if (!pyTools) {
    pyTools = tempDir('pier-pytools-');
    sh(pyTools, ['/usr/bin/python3', '-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', pyTools, 'django>=5.2,<6', 'uv', 'poetry']);
  }
  return pyTools;
}

const GUNICORN_PROCFILE = (module: string) => `web: gunicorn ${module} --bind 0.0.0.0:$PORT --workers 2\n`;

/** The apps, in the order the suite builds them. */
export const REAL_APPS: RealApp[] = [
  {
    name: 'express', expect: /hello from express/, cachedStep: 'npm ci',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'express-app', version: '1.0.0', main: 'server.js', scripts: { start: 'node server.js' }, dependencies: { express: '^4.21.0' } }, null, 2),
        'server.js': "const express = require('express');\nconst app = express();\napp.get('/', (req, res) => res.send('hello from express'));\napp.listen(process.env.PORT || 3000);\n",
        '.gitignore': 'node_modules/\n',
      });
      sh(dir, ['npm', 'install', '--package-lock-only', '--no-audit', '--no-fund']);
    },
  },
  {
    // TypeScript compiled at build time by a devDependency, which is pruned afterwards.
    name: 'hono', expect: /hello from hono/, cachedStep: 'npm ci', cacheCheckedBy: 'express',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({
          name: 'hono-app', type: 'module', scripts: { build: 'tsc', start: 'node dist/index.js' },
          dependencies: { hono: '^4.6.0', '@hono/node-server': '^1.13.0' }, devDependencies: { typescript: '^5.6.0', '@types/node': '^20' },
        }, null, 2),
        'tsconfig.json': JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', skipLibCheck: true } }, null, 2),
        'src/index.ts': "import { serve } from '@hono/node-server';\nimport { Hono } from 'hono';\nconst app = new Hono();\napp.get('/', (c) => c.text('hello from hono'));\nserve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) });\n",
        '.gitignore': 'node_modules/\ndist/\n',
      });
      sh(dir, ['npm', 'install', '--package-lock-only', '--no-audit', '--no-fund']);
    },
  },
  {
    // No lockfile: npm install.
    name: 'fastify', expect: /"hello":"fastify"/, cachedStep: 'npm install',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'fastify-app', type: 'module', scripts: { start: 'node app.js' }, dependencies: { fastify: '^5.0.0' } }, null, 2),
        'app.js': "import Fastify from 'fastify';\nconst app = Fastify();\napp.get('/', async () => ({ hello: 'fastify' }));\nawait app.listen({ port: Number(process.env.PORT ?? 3000), host: '0.0.0.0' });\n",
      });
    },
  },
  {
    name: 'vite-vue', expect: /<div id="app"><\/div>/, cachedStep: 'npm install', cacheCheckedBy: 'fastify',
    make(dir) {
      sh(dirname(dir), ['npm', 'create', '--yes', 'vite@latest', dir.split('/').pop()!, '--', '--template', 'vue', '--no-interactive']);
    },
  },
  {
    name: 'express-pnpm', expect: /hello from pnpm/, cachedStep: 'pnpm',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'pnpm-app', packageManager: 'pnpm@9.15.0', scripts: { start: 'node server.js' }, dependencies: { express: '^4.21.0' } }, null, 2),
        'server.js': "require('express')().get('/', (q, s) => s.send('hello from pnpm')).listen(process.env.PORT);\n",
        '.gitignore': 'node_modules/\n',
      });
      sh(dir, ['npx', '--yes', 'pnpm@9.15.0', 'install', '--lockfile-only']);
    },
  },
  {
    name: 'express-yarn', expect: /hello from yarn/, cachedStep: 'yarn',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'yarn-app', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { express: '^4.21.0' } }, null, 2),
        'server.js': "require('express')().get('/', (q, s) => s.send('hello from yarn')).listen(process.env.PORT);\n",
        '.gitignore': 'node_modules/\n',
      });
      sh(dir, ['npx', '--yes', 'yarn@1', 'install', '--ignore-scripts', '--non-interactive', '--silent']);
    },
  },
  {
    // Yarn Berry (its lockfile made by yarn 4 itself); Pier links node_modules instead of Plug'n'Play.
    name: 'express-yarn-berry', expect: /hello from yarn berry/, cachedStep: 'yarn install',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'berry-app', version: '1.0.0', packageManager: 'yarn@4.5.3', scripts: { start: 'node server.js' }, dependencies: { express: '^4.21.0' } }, null, 2),
        'server.js': "require('express')().get('/', (q, s) => s.send('hello from yarn berry')).listen(process.env.PORT);\n",
        '.gitignore': 'node_modules/\n.pnp.*\n.yarn/\n',
        'yarn.lock': '',
      });
      sh(dir, ['npx', '--yes', '-p', '@yarnpkg/cli-dist@4.5.3', 'yarn', 'install', '--mode=update-lockfile'], { YARN_ENABLE_TELEMETRY: '0' });
    },
  },
  {
    name: 'flask', expect: /hello from flask/, cachedStep: 'pip install',
    make(dir) {
      write(dir, {
        'requirements.txt': 'flask==3.1.*\ngunicorn==23.*\n',
        'app.py': "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef index():\n    return 'hello from flask'\n",
        Procfile: GUNICORN_PROCFILE('app:app'),
      });
    },
  },
  {
    // pydantic 2's compiled core needs libgcc_s from the base image.
    name: 'fastapi', expect: /"framework":"fastapi","pydantic":"2\./, cachedStep: 'pip install', cacheCheckedBy: 'flask',
    make(dir) {
      write(dir, {
        'requirements.txt': 'fastapi>=0.115\npydantic>=2.9,<3\nuvicorn>=0.32\n',
        'main.py': "import pydantic\nfrom fastapi import FastAPI\napp = FastAPI()\n\n@app.get('/')\ndef index():\n    return {'framework': 'fastapi', 'pydantic': pydantic.VERSION}\n",
        Procfile: 'web: uvicorn main:app --host 0.0.0.0 --port $PORT\n',
      });
    },
  },
  {
    // Scaffolded by django-admin, with the usual production edits: hosts, gunicorn, and WhiteNoise's manifest storage,
    // which answers 500 unless collectstatic ran at build time (the page names the hashed file collectstatic made).
    name: 'django', expect: /\/static\/admin\/css\/base\.[0-9a-f]{12}\.css/, path: '/admin/login/', cachedStep: 'pip install', cacheCheckedBy: 'flask',
    make(dir) {
      const tools = pythonTools();
      mkdirSync(dir, { recursive: true });
      sh(dir, ['/usr/bin/python3', '-m', 'django', 'startproject', 'mysite', '.'], { PYTHONPATH: tools });
      const settingsPath = join(dir, 'mysite/settings.py');
      const settings = readFileSync(settingsPath, 'utf8').replace('ALLOWED_HOSTS = []', "ALLOWED_HOSTS = ['*']").replace('DEBUG = True', 'DEBUG = False')
        .replace("'django.middleware.security.SecurityMiddleware',", "'django.middleware.security.SecurityMiddleware',\n    'whitenoise.middleware.WhiteNoiseMiddleware',");
      writeFileSync(settingsPath, settings + "\nSTATIC_ROOT = BASE_DIR / 'staticfiles'\n" +
        "STORAGES = {'default': {'BACKEND': 'django.core.files.storage.FileSystemStorage'}, 'staticfiles': {'BACKEND': 'whitenoise.storage.CompressedManifestStaticFilesStorage'}}\n");
      write(dir, { 'requirements.txt': 'django>=5.2,<6\ngunicorn==23.*\nwhitenoise>=6.7\n', Procfile: GUNICORN_PROCFILE('mysite.wsgi') });
    },
  },
  {
    // A uv project: pyproject.toml + uv.lock, no requirements.txt.
    name: 'flask-uv', expect: /hello from uv/, cachedStep: 'uv export',
    make(dir) {
      write(dir, {
        'pyproject.toml': '[project]\nname = "uvapp"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = ["flask>=3.1"]\n',
        'main.py': "import os\nfrom flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef index():\n    return 'hello from uv'\n\nif __name__ == '__main__':\n    app.run(host='0.0.0.0', port=int(os.environ['PORT']))\n",
      });
      sh(dir, [join(pythonTools(), 'bin/uv'), 'lock', '--quiet'], { UV_PYTHON: '/usr/bin/python3' });
    },
  },
  {
    // A poetry project (package-mode off, as for an app): poetry.lock made by poetry itself.
    name: 'flask-poetry', expect: /hello from poetry/, cachedStep: 'poetry export',
    make(dir) {
      write(dir, {
        'pyproject.toml': '[tool.poetry]\nname = "papp"\nversion = "0.1.0"\ndescription = ""\nauthors = ["t <t@example.com>"]\npackage-mode = false\n\n' +
          '[tool.poetry.dependencies]\npython = "^3.11"\nflask = "^3.1"\ngunicorn = "^23"\n\n[build-system]\nrequires = ["poetry-core"]\nbuild-backend = "poetry.core.masonry.api"\n',
        'app.py': "from flask import Flask\napp = Flask(__name__)\n\n@app.route('/')\ndef index():\n    return 'hello from poetry'\n",
        Procfile: GUNICORN_PROCFILE('app:app'),
      });
      const tools = pythonTools();
      sh(dir, ['/usr/bin/python3', join(tools, 'bin/poetry'), 'lock', '--no-interaction'], { PYTHONPATH: tools });
    },
  },
  {
    // A package installable only once its source is there (pip install .).
    name: 'pyproject', expect: /hello from a pyproject package/, cachedStep: '.pier-build/env',
    make(dir) {
      write(dir, {
        'pyproject.toml': '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n[project]\nname = "hello-pkg"\nversion = "0.1.0"\ndependencies = []\n\n[project.scripts]\nhello-serve = "hello_pkg.server:main"\n',
        'hello_pkg/__init__.py': '',
        'hello_pkg/server.py': 'import http.server, os\n\nclass H(http.server.BaseHTTPRequestHandler):\n    def do_GET(self):\n        self.send_response(200); self.end_headers(); self.wfile.write(b"hello from a pyproject package")\n\n' +
          'def main():\n    http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()\n',
        Procfile: 'web: hello-serve\n',
      });
    },
  },
  {
    name: 'go-nethttp', expect: /hello from net\/http/, cachedStep: '.pier-build/env', cacheCheckedBy: 'go-gin',
    make(dir) {
      write(dir, {
        'go.mod': 'module example.com/hello\n\ngo 1.22\n',
        'main.go': 'package main\n\nimport (\n\t"fmt"\n\t"net/http"\n\t"os"\n)\n\nfunc main() {\n\thttp.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from net/http") })\n\thttp.ListenAndServe(":"+os.Getenv("PORT"), nil)\n}\n',
      });
    },
  },
  {
    // Heroku's layout: Procfile runs bin/<name>, and .gitignore lists bin/.
    name: 'go-gin', expect: /"hello":"gin"/, cachedStep: '.pier-build/env',
    make(dir) {
      write(dir, {
        'go.mod': 'module example.com/ginapp\n\ngo 1.22\n\nrequire github.com/gin-gonic/gin v1.10.0\n',
        'main.go': 'package main\n\nimport (\n\t"os"\n\n\t"github.com/gin-gonic/gin"\n)\n\nfunc main() {\n\tgin.SetMode(gin.ReleaseMode)\n\tr := gin.New()\n\tr.GET("/", func(c *gin.Context) { c.JSON(200, gin.H{"hello": "gin"}) })\n\tr.Run(":" + os.Getenv("PORT"))\n}\n',
        Procfile: 'web: bin/ginapp\n',
        '.gitignore': 'bin/\n',
      });
      sh(dir, ['go', 'mod', 'tidy'], { PATH: `/usr/local/go/bin:${process.env.PATH}` });
    },
  },
  {
    // gRPC on an http2 port (h2c to the app), called over HTTPS through the edge by a real gRPC client. Deployed once:
    // express checks the npm ci step's cache.
    name: 'grpc-node', expect: /hello pier from grpc-js/, cachedStep: 'npm ci', cacheCheckedBy: 'express', protocol: 'http2',
    make(dir) {
      write(dir, {
        'package.json': JSON.stringify({ name: 'grpc-app', version: '1.0.0', scripts: { start: 'node server.js' }, dependencies: { '@grpc/grpc-js': '^1.14.0' } }, null, 2),
        'server.js': [
          "const grpc = require('@grpc/grpc-js');",
          'const raw = (b) => b;',
          "const say = { path: '/pier.test.Echo/Say', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };",
          'const server = new grpc.Server();',
          'server.addService({ say }, { say: (call, cb) => cb(null, Buffer.from(`hello ${call.request} from grpc-js`)) });',
          "server.bindAsync(`0.0.0.0:${process.env.PORT || 8000}`, grpc.ServerCredentials.createInsecure(), (err) => { if (err) { console.error(err); process.exit(1); } console.log('grpc serving'); });",
          '',
        ].join('\n'),
        '.gitignore': 'node_modules/\n',
      });
      sh(dir, ['npm', 'install', '--package-lock-only', '--no-audit', '--no-fund']);
    },
    async serves({ tlsUrl, host, rootPem }) {
      const client = echoClient(`127.0.0.1:${new URL(tlsUrl).port}`, host, rootPem);
      try {
        const r = await unary(client, 'say', 'pier', undefined, { deadline: Date.now() + 5000 });
        if (r.err) throw new Error(`gRPC Say: ${r.err.message}`);
        if (!this.expect.test(r.value ?? '')) throw new Error(`gRPC Say answered ${JSON.stringify(r.value)}`);
      } finally {
        client.close();
      }
    },
  },
  {
    name: 'static', expect: /<h1>a static site<\/h1>/, cachedStep: '.pier-build/env',
    make(dir) { write(dir, { 'index.html': '<!doctype html>\n<h1>a static site</h1>\n', 'style.css': 'h1 { color: teal }\n' }); },
  },
  {
    // The scaffold's layout loads Geist from Google Fonts at build time; fonts.googleapis.com is not reachable from
    // the machines this suite runs on (only the package registries are), so the layout drops the font, as a user
    // without that access would.
    name: 'nextjs', expect: /<title>Create Next App<\/title>/, cachedStep: 'npm install', cacheCheckedBy: 'fastify', instanceType: 'small',
    make(dir) {
      sh(dirname(dir), ['npx', '--yes', 'create-next-app@latest', dir.split('/').pop()!, '--ts', '--app', '--no-eslint', '--no-tailwind', '--no-src-dir',
        '--import-alias', '@/*', '--use-npm', '--skip-install', '--disable-git', '--yes']);
      const layout = join(dir, 'app/layout.tsx');
      writeFileSync(layout, readFileSync(layout, 'utf8')
        .replace(/^import \{[^}]*\} from "next\/font\/google";\n/m, '')
        .replace(/^const geist\w+ = \w+\(\{[^}]*\}\);\n/gm, '')
        .replace(/ className=\{`[^`]*`\}/, ''));
    },
  },
];
