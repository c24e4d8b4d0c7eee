import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeDefinition } from './definition.ts';
import { normalizeCidr } from './definition-env.ts';

const WEB = { docker: { image: 'nginx' }, ports: [{ port: 8000 }] };
type Want = [string, RegExp][];

function check(input: Record<string, unknown>, want: Want) {
  const label = JSON.stringify(input);
  const { errors, definition } = normalizeDefinition({ ...WEB, ...input });
  assert.deepEqual(errors.map((e) => e.field), want.map((w) => w[0]), `${label}\n${JSON.stringify(errors, null, 1)}`);
  want.forEach(([, re], i) => assert.match(errors[i]!.description, re, label));
  return definition;
}

test('env: names, exactly one of value/secret, scopes, one per key and scope', () => {
  const rows: [unknown, Want, Record<string, unknown>?][] = [
    [[{ key: '1X', value: 'a' }], [['definition.env[0].key', /must be a variable name of letters, digits and _/]]],
    [[{ key: 'MY-VAR', value: 'a' }], [['definition.env[0].key', /variable name/]]],
    [[{ value: 'a' }], [['definition.env[0].key', /variable name/]]],
    [[{ key: 'A', value: 'a', secret: 'db' }], [['definition.env[0]', /A sets both value and secret: keep one/]]],
    [[{ key: 'A' }], [['definition.env[0]', /A needs a value or a secret/]]],
    [[{ key: 'A', secret: 'Bad Name' }], [['definition.env[0].secret', /secret name "Bad Name" must be/]]],
    [[{ key: 'A', value: 1 }], [['definition.env[0].value', /must be a string/]]],
    [[{ key: 'A', value: '1' }, { key: 'A', value: '2' }], [['definition.env[1].key', /A is already set without scopes by definition.env\[0\]: keep one/]]],
    [[{ key: 'A', value: '1', scopes: ['region:fra'] }, { key: 'A', value: '2', scopes: ['region:was', 'region:fra'] }],
      [['definition.env[1].key', /A is already set in region:fra by definition.env\[0\]/]], { regions: ['fra', 'was'] }],
    [[{ key: 'A', value: '1', scopes: ['region:fra'] }], [['definition.env[0].scopes[0]', /names a region the service does not run in/]]],
    [[{ key: 'A', value: '1', scopes: ['env:prod'] }], [['definition.env[0].scopes[0]', /must be "region:<id>"/]]],
  ];
  for (const [env, want, extra] of rows) check({ ...extra, env }, want);
  const def = check({
    regions: ['fra', 'was'],
    env: [
      { value: '', key: 'EMPTY' },
      { key: 'DB', secret: 'db-url' },
      { key: 'A', value: '1' },
      { key: 'A', value: '2', scopes: ['region:fra'] },
      { key: 'URL', value: 'https://{{ KOYEB_PUBLIC_DOMAIN }}' },
    ],
  }, []);
  assert.equal(JSON.stringify(def.env), JSON.stringify([
    { key: 'EMPTY', value: '' },
    { key: 'DB', secret: 'db-url' },
    { key: 'A', value: '1' },
    { scopes: ['region:fra'], key: 'A', value: '2' },
    { key: 'URL', value: 'https://{{ KOYEB_PUBLIC_DOMAIN }}' },
  ]));
});

test('config files: absolute paths, octal permissions defaulting to 0644, content', () => {
  const rows: [unknown, Want][] = [
    [[{ path: 'etc/app.yaml', content: '' }], [['definition.config_files[0].path', /must be an absolute file path/]]],
    [[{ path: '/etc/../passwd', content: '' }], [['definition.config_files[0].path', /without ".." segments/]]],
    [[{ path: '/etc/', content: '' }], [['definition.config_files[0].path', /absolute file path/]]],
    [[{ content: 'x' }], [['definition.config_files[0].path', /is required/]]],
    [[{ path: '/a', content: 'x', permissions: '0999' }], [['definition.config_files[0].permissions', /octal file permissions such as "0644"/]]],
    [[{ path: '/a', content: 'x', permissions: 644 }], [['definition.config_files[0].permissions', /must be a string/]]],
    [[{ path: '/a' }], [['definition.config_files[0].content', /is required/]]],
    [[{ path: '/a', content: 'x' }, { path: '/a', content: 'y' }], [['definition.config_files[1].path', /\/a is declared twice/]]],
    [[{ path: '/a', content: 'x'.repeat(1024 * 1024 + 1) }], [['definition.config_files[0].content', /at most 1 MiB/]]],
  ];
  for (const [config_files, want] of rows) check({ config_files }, want);
  const def = check({ config_files: [{ content: 'a: 1', path: '/etc/app.yaml' }, { path: '/run/key', content: '', permissions: '600' }] }, []);
  assert.equal(JSON.stringify(def.config_files), JSON.stringify([
    { path: '/etc/app.yaml', permissions: '0644', content: 'a: 1' },
    { path: '/run/key', permissions: '0600', content: '' },
  ]));
});

test('network policy: egress mode and CIDRs, bare IPs normalised', () => {
  const def = check({ network_policy: { egress: { mode: 'EGRESS_POLICY_MODE_DENY_ALL', allow_list: [{ cidr: '10.0.0.0/8' }, { cidr: '1.2.3.4' }, { cidr: '2001:db8::1' }] } } }, []);
  assert.deepEqual(def.network_policy, {
    egress: { mode: 'EGRESS_POLICY_MODE_DENY_ALL', allow_list: [{ cidr: '10.0.0.0/8' }, { cidr: '1.2.3.4/32' }, { cidr: '2001:db8::1/128' }] },
  });
  check({ network_policy: { egress: { mode: 'OPEN' } } }, [['definition.network_policy.egress.mode', /must be EGRESS_POLICY_MODE_DEFAULT or EGRESS_POLICY_MODE_DENY_ALL/]]);
  check({ network_policy: { egress: { allow_list: [{ cidr: '10.0.0.0/33' }] } } }, [['definition.network_policy.egress.allow_list[0].cidr', /IPv4 or IPv6 CIDR/]]);
  const rows: [string, string | undefined][] = [
    ['10.1.2.3', '10.1.2.3/32'], ['10.0.0.0/08', '10.0.0.0/8'], ['::1', '::1/128'], ['fe80::/10', 'fe80::/10'],
    ['256.0.0.1', undefined], ['10.0.0.0/', undefined], ['a.b.c.d', undefined], ['1::2::3', undefined], ['10.0.0.0/8/9', undefined],
  ];
  for (const [text, want] of rows) assert.equal(normalizeCidr(text), want, text);
});

test('env values that cannot reach a process are refused at validation: NUL, over the kernel limit', () => {
  check({ env: [{ key: 'A', value: 'x\0y' }] }, [['definition.env[0].value', /must not contain a NUL character/]]);
  check({ env: [{ key: 'BIG', value: 'x'.repeat(128 * 1024) }] }, [['definition.env[0].value', /BIG=<value> must be under 128 KiB/]]);
  check({ env: [{ key: 'OK', value: 'x'.repeat(128 * 1024 - 4) }] }, []);
  check({ docker: { image: 'nginx', args: ['ok', 'b\0d'], command: 'a\0' } }, [
    ['definition.docker.command', /NUL/], ['definition.docker.args[1]', /NUL character .*process argument/],
  ]);
  check({ docker: undefined, git: { repository: 'https://github.com/o/r', buildpack: { build_command: 'make\0' } } }, [
    ['definition.git.buildpack.build_command', /NUL/],
  ]);
  check({ docker: undefined, git: { repository: 'https://github.com/o/r', run_command: 'serve\0' } }, [['definition.git.run_command', /NUL/]]);
});
