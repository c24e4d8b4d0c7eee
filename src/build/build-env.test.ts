import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageEnv, shellEnvFile, stepEnv, tlsHint, writeBuildFiles } from './build-env.ts';
import { loadBuildPackages } from '../config.ts';
import { tempDir } from '../../test/support/temp.ts';

test('package settings become the env package managers read; a service value wins over the operator one', () => {
  const env = packageEnv({ npmRegistry: 'https://npm.example/', pipIndexUrl: 'https://pypi.example/simple', goProxy: 'https://go.example', httpsProxy: 'http://proxy:3128' }, '/pier-build/ca.crt');
  assert.equal(env.NODE_EXTRA_CA_CERTS, '/pier-build/ca.crt');
  assert.equal(env.PIP_CERT, '/pier-build/ca.crt');
  assert.equal(env.SSL_CERT_FILE, '/pier-build/ca.crt');
  assert.equal(env.npm_config_registry, 'https://npm.example/');
  assert.equal(env.PIP_INDEX_URL, 'https://pypi.example/simple');
  assert.equal(env.GOPROXY, 'https://go.example');
  assert.equal(env.https_proxy, 'http://proxy:3128');
  assert.deepEqual(packageEnv({}, undefined), {});
  assert.equal(stepEnv({ pipIndexUrl: 'https://a/' }, undefined, { PIP_INDEX_URL: 'https://b/' }).PIP_INDEX_URL, 'https://b/');
});

test('the env file survives quotes for sh and leaves out names sh cannot export', () => {
  const dir = tempDir('pier-env-');
  writeFileSync(join(dir, 'env'), shellEnvFile({ A: `it's "quoted" $HOME \`x\``, 'NOT-A-NAME': 'x', B: 'line1\nline2' }));
  const out = execFileSync('/bin/sh', ['-c', 'set -a; . ./env; set +a; printf "%s|%s" "$A" "$B"'], { cwd: dir, encoding: 'utf8' });
  assert.equal(out, `it's "quoted" $HOME \`x\`|line1\nline2`);
  assert.doesNotMatch(readFileSync(join(dir, 'env'), 'utf8'), /NOT-A-NAME/);
});

test('build files: per-deployment values apart (the install layer stays cached), secrets file mode 0600, CA copied', () => {
  const dir = tempDir('pier-ctx-');
  const ca = join(dir, 'host-ca.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  const paths = writeBuildFiles(dir, { caFile: ca }, { SECRET: 's3cret', KOYEB_DEPLOYMENT_ID: 'd-1' });
  assert.deepEqual(paths, ['.pier-build', '.pier-build/env', '.pier-build/late.env', '.pier-build/step', '.pier-build/ca.crt']);
  const env = readFileSync(join(dir, '.pier-build/env'), 'utf8');
  assert.match(env, /SECRET='s3cret'/);
  assert.match(env, /NODE_EXTRA_CA_CERTS='\/pier-build\/ca\.crt'/);
  assert.doesNotMatch(env, /KOYEB_DEPLOYMENT_ID/);
  assert.match(readFileSync(join(dir, '.pier-build/late.env'), 'utf8'), /KOYEB_DEPLOYMENT_ID='d-1'/);
  assert.equal(statSync(join(dir, '.pier-build/env')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, '.pier-build/ca.crt'), 'utf8'), '-----BEGIN CERTIFICATE-----\n');
});

test('PIER_BUILD_* settings are validated where they are read', () => {
  assert.deepEqual(loadBuildPackages({}), {});
  assert.deepEqual(loadBuildPackages({ PIER_BUILD_NPM_REGISTRY: 'https://npm.example/' }), { npmRegistry: 'https://npm.example/' });
  assert.throws(() => loadBuildPackages({ PIER_BUILD_CA_FILE: '/nonexistent/ca.pem' }), /PIER_BUILD_CA_FILE names \/nonexistent\/ca\.pem, which does not exist/);
  assert.throws(() => loadBuildPackages({ PIER_BUILD_PIP_INDEX_URL: 'pypi' }), /PIER_BUILD_PIP_INDEX_URL must be an http\(s\) URL/);
});

test('an untrusted registry certificate in the log names the CA setting as the fix', () => {
  const npm = ['npm error code SELF_SIGNED_CERT_IN_CHAIN', 'npm error errno SELF_SIGNED_CERT_IN_CHAIN'];
  assert.match(tlsHint(npm, {}) ?? '', /set PIER_BUILD_CA_FILE to the host's CA bundle/);
  assert.match(tlsHint(['pip: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'], { caFile: '/etc/ca.pem' }) ?? '', /add the issuing CA to that bundle/);
  assert.equal(tlsHint(['npm error 404 Not Found'], {}), undefined);
});
