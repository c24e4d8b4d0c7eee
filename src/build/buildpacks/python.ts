// The Python buildpack: requirements.txt, a poetry or uv lockfile (exported to requirements by the tool itself,
// fetched from the package index into a throwaway directory), or a pyproject.toml alone (installed once the source is
// in place); Django's collectstatic when the project uses django.contrib.staticfiles with a STATIC_ROOT; and the
// Python version a project asks for (.python-version, runtime.txt) checked against the one Python Pier offers.
import type { BuildPlan, BuildTarget, StackContext } from '../plan.ts';
import { hasRequirements } from '../plan.ts';

/** A requested Python that the host cannot offer; the message says which one it has and how to fix it. */
export class PythonVersionError extends Error {
  constructor(requested: string, file: string, offered: string) {
    super(`${file} asks for Python ${requested}, but this Pier offers only Python ${offered} (the host's python3, which its base image is made from): ` +
      `change ${file} to ${offered}, or install Python ${requested} as the host's python3 and restart Pier`);
    this.name = 'PythonVersionError';
  }
}

/** The Python version a project asks for, as major.minor, and the file that says so. */
export function requestedPython(files: StackContext['files']): { version: string; file: string } | undefined {
  const pv = files.read('.python-version')?.split(/\r?\n/).map((l) => l.trim()).find((l) => l && !l.startsWith('#'));
  const m1 = pv && /^(?:python-?)?(\d+)\.(\d+)/.exec(pv);
  if (m1) return { version: `${m1[1]}.${m1[2]}`, file: '.python-version' };
  const rt = files.read('runtime.txt')?.trim();
  const m2 = rt && /^python-(\d+)\.(\d+)/.exec(rt);
  if (m2) return { version: `${m2[1]}.${m2[2]}`, file: 'runtime.txt' };
  return undefined;
}

function pip(target: BuildTarget, rest: string): string {
  return `python3 -m pip install --no-input --disable-pip-version-check${target === 'directory' ? ' --target .pydeps' : ''} ${rest}`;
}

/** Exports a lockfile to .pier/requirements.txt with its own tool, installed into a directory removed afterwards. */
function exportLock(tool: 'uv' | 'poetry'): string {
  const get = `python3 -m pip install --no-input --disable-pip-version-check --quiet --target .pier/tools`;
  if (tool === 'uv') {
    return `${get} uv && .pier/tools/bin/uv export --frozen --no-dev --no-emit-project --no-hashes --quiet --output-file .pier/requirements.txt && rm -rf .pier/tools`;
  }
  return `${get} poetry poetry-plugin-export && PYTHONPATH=.pier/tools .pier/tools/bin/poetry export --only main --without-hashes --output .pier/requirements.txt && rm -rf .pier/tools`;
}

/** The Django settings module a manage.py names (DJANGO_SETTINGS_MODULE default), as a file path. */
function djangoSettingsFile(manage: string | undefined): string | undefined {
  const m = manage && /DJANGO_SETTINGS_MODULE['"]\s*,\s*['"]([\w.]+)['"]/.exec(manage);
  return m ? `${m[1].replace(/\./g, '/')}.py` : undefined;
}

/** Plans a Python app; `offered` is the major.minor of the Python the build runs (undefined: not checked). */
export function pythonPlan(c: StackContext, offered: string | undefined): BuildPlan {
  const { files, target } = c;
  const asked = requestedPython(files);
  if (asked && offered && asked.version !== offered) throw new PythonVersionError(asked.version, asked.file, offered);
  const requirements = files.read('requirements.txt');
  const install: string[] = [];
  const afterSource: string[] = [];
  let dependencyFiles: string[] = [];
  if (requirements !== undefined) {
    dependencyFiles = ['requirements.txt'];
    if (hasRequirements(requirements)) install.push(pip(target, '-r requirements.txt'));
  } else if (files.exists('uv.lock') || files.exists('poetry.lock')) {
    const tool = files.exists('uv.lock') ? 'uv' : 'poetry';
    dependencyFiles = ['pyproject.toml', tool === 'uv' ? 'uv.lock' : 'poetry.lock'].filter((f) => files.exists(f));
    install.push(`mkdir -p .pier && ${exportLock(tool)}`, pip(target, '-r .pier/requirements.txt'));
  } else if (files.exists('pyproject.toml') || files.exists('setup.py')) {
    // The project is itself the package: it can only be installed once its source is there.
    afterSource.push(pip(target, '.'));
  }
  const manage = files.read('manage.py');
  const settings = djangoSettingsFile(manage);
  const settingsText = settings ? files.read(settings) : undefined;
  const staticfiles = settingsText !== undefined && settingsText.includes('django.contrib.staticfiles') && /^\s*STATIC_ROOT\s*=/m.test(settingsText);
  if (staticfiles) afterSource.push('python3 manage.py collectstatic --noinput');
  const wsgi = settings && /gunicorn/i.test(requirements ?? files.read('pyproject.toml') ?? '') ? `${settings.replace(/\/settings\.py$/, '').replace(/\//g, '.')}.wsgi` : undefined;
  const entry = ['app.py', 'main.py', 'server.py'].find((f) => files.exists(f));
  const run = wsgi ? `gunicorn ${wsgi} --bind 0.0.0.0:\${PORT:-8000}` : entry ? `python3 ${entry}` : undefined;
  return {
    stack: 'python', runCommand: c.chosen(run, 'python'), hostCommands: [], dependencyFiles, installCommands: install,
    buildCommands: [...afterSource, ...c.build([])],
    runEnv: target === 'directory' ? { PYTHONPATH: '/app/.pydeps', PYTHONUNBUFFERED: '1' } : { PYTHONUNBUFFERED: '1' },
  };
}
