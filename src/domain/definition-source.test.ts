import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';

const NET = { ports: [{ port: 8000, protocol: 'http' }] };

function run(source: Record<string, unknown>) {
  return normalizeDefinition({ ...NET, ...source });
}

test('exactly one source', () => {
  const rows: [Record<string, unknown>, [string, RegExp][]][] = [
    [{}, [['definition', /needs a source: set exactly one of docker .*, git .* or archive/]]],
    [{ docker: { image: 'a' }, git: { repository: 'github.com/o/r' } }, [['definition', /has 2 sources \(docker, git\): keep exactly one/]]],
    [{ database: { neon_postgres: {} } }, [['definition.database', /not supported by Pier/]]],
    [{ docker: null, git: null }, [['definition', /needs a source/]]],
  ];
  for (const [src, want] of rows) {
    const { errors } = run(src);
    assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), JSON.stringify(src));
    want.forEach(([, re], i) => assert.match(errors[i]!.description, re));
  }
});

test('docker source: image required and valid; optional fields canonical', () => {
  const rows: [unknown, [string, RegExp][]][] = [
    [{}, [['definition.docker.image', /is required: the image to run/]]],
    [{ image: '' }, [['definition.docker.image', /is required/]]],
    [{ image: 'Bad Image' }, [['definition.docker.image', /must not contain spaces/]]],
    [{ image: 'UPPER' }, [['definition.docker.image', /lower-case/]]],
    [{ image: 'x', image_registry_secret: 'Bad_Secret' }, [['definition.docker.image_registry_secret', /secret name "Bad_Secret" must be 2 to 64/]]],
    [{ image: 'x', args: 'a b' }, [['definition.docker.args', /must be a list of strings/]]],
    [{ image: 'x', entrypoint: [1] }, [['definition.docker.entrypoint', /must be a list of strings/]]],
    [{ image: 'x', tag: '1' }, [['definition.docker.tag', /unknown field/]]],
    ['nginx', [['definition.docker', /must be an object/]]],
  ];
  for (const [docker, want] of rows) {
    const { errors } = run({ docker });
    assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), JSON.stringify(docker));
    want.forEach(([, re], i) => assert.match(errors[i]!.description, re));
  }
  const { definition, errors } = run({
    docker: { privileged: false, args: ['-c', 'x'], command: 'sh', entrypoint: [], image: 'ghcr.io/o/a:1', image_registry_secret: 'ghcr' },
  });
  assert.deepEqual(errors, []);
  assert.equal(JSON.stringify(definition.docker), JSON.stringify({ image: 'ghcr.io/o/a:1', command: 'sh', args: ['-c', 'x'], image_registry_secret: 'ghcr' }));
});

test('git source: repository, one of branch/tag, sha pins, default branch main, default buildpack', () => {
  const ok: [Record<string, unknown>, Record<string, unknown>][] = [
    [{ repository: 'github.com/o/r' }, { repository: 'github.com/o/r', branch: 'main', buildpack: {} }],
    [{ repository: 'github.com/o/r', tag: 'v1.0' }, { repository: 'github.com/o/r', tag: 'v1.0', buildpack: {} }],
    [{ repository: 'github.com/o/r', sha: 'ABCDEF1' }, { repository: 'github.com/o/r', sha: 'abcdef1', buildpack: {} }],
    // A git-triggered deployment tracks its branch and pins the pushed commit.
    [{ repository: 'github.com/o/r', branch: 'dev', sha: 'a'.repeat(40) }, { repository: 'github.com/o/r', branch: 'dev', sha: 'a'.repeat(40), buildpack: {} }],
    [{ repository: 'github.com/o/r', workdir: 'apps/api/', no_deploy_on_push: true }, { repository: 'github.com/o/r', branch: 'main', no_deploy_on_push: true, workdir: 'apps/api', buildpack: {} }],
    [{ repository: 'r', build_command: 'make', run_command: './app' }, { repository: 'r', branch: 'main', buildpack: { build_command: 'make', run_command: './app' } }],
    [{ repository: 'r', build_command: 'make', buildpack: { build_command: 'make' } }, { repository: 'r', branch: 'main', buildpack: { build_command: 'make' } }],
    [{ repository: 'r', docker: { dockerfile: 'docker/Dockerfile', target: 'prod', args: [] } }, { repository: 'r', branch: 'main', docker: { dockerfile: 'docker/Dockerfile', target: 'prod' } }],
  ];
  for (const [git, want] of ok) {
    const { definition, errors } = run({ git });
    assert.deepEqual(errors, [], JSON.stringify(git));
    assert.equal(JSON.stringify(definition.git), JSON.stringify(want));
  }
  const bad: [Record<string, unknown>, [string, RegExp][]][] = [
    [{}, [['definition.git.repository', /is required/]]],
    [{ repository: ' ' }, [['definition.git.repository', /is required/]]],
    [{ repository: 'github.com/o/my repo' }, [['definition.git.repository', /must not contain spaces/]]],
    [{ repository: 'r', branch: 'main', tag: 'v1' }, [['definition.git', /sets both branch and tag: keep one/]]],
    [{ repository: 'r', tag: 'v1', sha: 'abcdef1' }, [['definition.git', /sets both tag and sha/]]],
    [{ repository: 'r', sha: 'xyz' }, [['definition.git.sha', /7 to 40 hex digits/]]],
    [{ repository: 'r', branch: 'a..b' }, [['definition.git.branch', /not a valid git ref name/]]],
    [{ repository: 'r', tag: '-x' }, [['definition.git.tag', /not a valid git ref name/]]],
    [{ repository: 'r', workdir: '../up' }, [['definition.git.workdir', /relative path inside the repository/]]],
    [{ repository: 'r', workdir: '/abs' }, [['definition.git.workdir', /relative path/]]],
    [{ repository: 'r', buildpack: {}, docker: {} }, [['definition.git', /sets both buildpack and docker builders: keep one/]]],
    [{ repository: 'r', run_command: 'a', docker: {} }, [['definition.git', /belong to the buildpack builder/]]],
    [{ repository: 'r', run_command: 'a', buildpack: { run_command: 'b' } }, [['definition.git.run_command', /conflicts with buildpack.run_command/]]],
    [{ repository: 'r', docker: { dockerfile: '/etc/Dockerfile' } }, [['definition.git.docker.dockerfile', /relative path inside the build context/]]],
    [{ repository: 'r', buildpack: { run: 'x' } }, [['definition.git.buildpack.run', /unknown field/]]],
  ];
  for (const [git, want] of bad) {
    const { errors } = run({ git });
    assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), JSON.stringify(git));
    want.forEach(([, re], i) => assert.match(errors[i]!.description, re, JSON.stringify(git)));
  }
});

test('archive source: id required, builder defaults to buildpack', () => {
  const { definition, errors } = run({ archive: { id: 'arc_1' } });
  assert.deepEqual(errors, []);
  assert.deepEqual(definition.archive, { id: 'arc_1', buildpack: {} });
  const docker = run({ archive: { id: 'arc_1', docker: { command: 'serve' } } });
  assert.deepEqual(docker.definition.archive, { id: 'arc_1', docker: { command: 'serve' } });
  const missing = run({ archive: {} });
  assert.deepEqual(missing.errors.map((e) => e.field), ['definition.archive.id']);
  assert.match(missing.errors[0]!.description, /is required: the id of an uploaded archive/);
});
