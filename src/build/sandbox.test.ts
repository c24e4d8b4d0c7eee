import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BUILD_NETWORK, BUILD_UID, buildBwrapArgs, buildContainerBody, buildFirewallRules, envPayload, resolversOf, sandboxBuildEnv, stagedArgv,
} from './sandbox.ts';
import { chownTree, writeInsideBuild } from './sandbox-files.ts';
import { tempDir } from '../../test/support/temp.ts';

const root = [{ path: '/bin', kind: 'symlink' as const, target: 'usr/bin' }, { path: '/lib64', kind: 'dir' as const }];

test('bwrap argv: namespaces, no capabilities, only the app and cache writable, no /sys, the command one argument', () => {
  const cmd = 'npm run build; cat /root/.pier/master.key';
  const args = buildBwrapArgs({ appDir: '/stage/app', cacheDir: '/stage/cache', rootEntries: root, command: cmd, tmpBytes: 1 << 26, seccompFd: 4 });
  for (const flag of ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--die-with-parent', '--new-session']) assert.ok(args.includes(flag), flag);
  assert.deepEqual(args.slice(args.indexOf('--cap-drop'), args.indexOf('--cap-drop') + 2), ['--cap-drop', 'ALL']);
  assert.deepEqual(args.slice(args.indexOf('--seccomp'), args.indexOf('--seccomp') + 2), ['--seccomp', '4']);
  const writable = args.flatMap((a, i) => (a === '--bind' ? [`${args[i + 1]}->${args[i + 2]}`] : []));
  assert.deepEqual(writable, ['/stage/app->/app', '/stage/cache->/cache']);
  assert.ok(!args.some((a) => a === '/sys' || a.startsWith('/root') || a === '/var' || a === '/home'), 'no /sys, /root, /var or /home');
  assert.equal(args[args.indexOf('--tmpfs') - 1], String(1 << 26), 'the private /tmp is size-limited');
  const tail = args.slice(args.indexOf('--') + 1);
  assert.equal(tail[0], '/bin/bash');
  assert.equal(tail[tail.length - 1], cmd, 'the tenant command is one argv element, never spliced into a script');
});

test('the env goes on fd 3 as NUL-separated pairs; unexportable names and NUL values are left out', () => {
  const env = sandboxBuildEnv({ API_TOKEN: 's3cr3t', 'BAD-NAME': 'x', NUL: 'a\0b', PATH: '/custom' });
  assert.equal(env.HOME, '/cache/home');
  assert.equal(env.PATH, '/custom', 'the deployment\'s own value wins inside the sandbox');
  assert.ok(!Object.keys(env).some((k) => k.startsWith('PIER_')));
  const pairs = envPayload(env).toString().split('\0').filter(Boolean);
  assert.ok(pairs.includes('API_TOKEN=s3cr3t'));
  assert.ok(!pairs.some((p) => p.startsWith('BAD-NAME=') || p.startsWith('NUL=')));
});

test('staging: host paths are arguments of a fixed script; stage names are checked', () => {
  const argv = stagedArgv('/usr/bin/unshare', [{ host: '/root/.pier/builds/x/app', name: 'app' }], ['/usr/bin/setpriv', '--', 'bwrap']);
  assert.deepEqual(argv.slice(0, 5), ['/usr/bin/unshare', '--mount', '--propagation', 'private', '--']);
  assert.ok(!argv[7]!.includes('/root/.pier'), 'the script names no path');
  assert.deepEqual(argv.slice(argv.indexOf('/root/.pier/builds/x/app'), argv.indexOf('/root/.pier/builds/x/app') + 2), ['/root/.pier/builds/x/app', 'app']);
  assert.throws(() => stagedArgv('/usr/bin/unshare', [{ host: '/x', name: '../etc' }], []), /invalid stage name/);
});

test('build container: unprivileged, read-only root, capped, only the build and cache writable, on the build network', () => {
  const body = buildContainerBody({
    image: 'pier-base/busybox:r2', command: 'go build', env: { A: '1' }, buildDir: '/d/app', cacheDir: '/d/cache', toolchains: ['/usr/local/go'],
    cpu: 1, memoryBytes: 1 << 30, tmpBytes: 1 << 26, labels: { 'dev.pier.deployment_id': 'x' },
  }) as { User: string; Cmd: string[]; Env: string[]; HostConfig: Record<string, any>; Labels: Record<string, string> };
  assert.equal(body.User, `${BUILD_UID}:${BUILD_UID}`);
  assert.deepEqual(body.Cmd, ['/bin/sh', '-c', 'go build']);
  const h = body.HostConfig;
  assert.deepEqual(h.CapDrop, ['ALL']);
  assert.deepEqual(h.SecurityOpt, ['no-new-privileges']);
  assert.equal(h.ReadonlyRootfs, true);
  assert.equal(h.Privileged, false);
  assert.equal(h.NetworkMode, BUILD_NETWORK);
  assert.ok(h.PidsLimit > 0 && h.Memory === 1 << 30 && h.MemorySwap === 1 << 30 && h.NanoCpus === 1e9);
  assert.match(h.Tmpfs['/tmp'], /size=67108864/);
  assert.deepEqual(h.Mounts.map((m: any) => `${m.Source}:${m.Target}:${m.ReadOnly ? 'ro' : 'rw'}`), ['/d/app:/app:rw', '/d/cache:/cache:rw', '/usr/local/go:/usr/local/go:ro']);
  assert.equal(h.Binds, undefined);
  assert.equal(body.Labels['dev.pier.role'], 'build');
});

test('firewall: no answers, DNS to the resolvers only, nothing local, link-local or bridged', () => {
  const v4 = buildFirewallRules(['10.255.255.53', 'fd00::53']);
  assert.match(v4, /--ctdir REPLY -j DROP/);
  assert.match(v4, /-d 10\.255\.255\.53 -p udp --dport 53 -j RETURN/);
  assert.doesNotMatch(v4, /fd00::53/);
  assert.match(v4, /--dst-type LOCAL -j REJECT/);
  assert.match(v4, /-d 169\.254\.0\.0\/16 -j REJECT/);
  for (const i of ['docker0', 'br-+', 'pierbr+', 'pierdk+']) assert.ok(v4.includes(`-o ${i} -j REJECT`), i);
  // DNS before the LOCAL rejection, so a resolver on this host still answers.
  assert.ok(v4.indexOf('--dport 53') < v4.indexOf('--dst-type LOCAL'));
  const v6 = buildFirewallRules(['10.255.255.53', 'fd00::53'], true);
  assert.match(v6, /-d fd00::53 -p tcp --dport 53/);
  assert.match(v6, /-d fe80::\/10 -j REJECT --reject-with icmp6-adm-prohibited/);
  assert.deepEqual(resolversOf('# x\nnameserver 127.0.0.53\nnameserver fe80::1%eth0\nsearch lan\n'), ['127.0.0.53', 'fe80::1']);
});

test('Pier\'s writes into a built directory never follow a planted link; chownTree never follows one', { skip: process.getuid?.() !== 0 ? 'needs root (lchown)' : false }, () => {
  const dir = tempDir('pier-sandbox-files-');
  const outside = tempDir('pier-sandbox-outside-');
  writeFileSync(join(outside, 'victim'), 'keep');
  mkdirSync(join(dir, 'app'));
  symlinkSync(outside, join(dir, 'app', '.pier'));
  symlinkSync(join(outside, 'victim'), join(dir, 'app', 'Dockerfile.pier'));
  writeInsideBuild(join(dir, 'app'), '.pier/run', '#!/bin/sh\n', 0o755);
  writeInsideBuild(join(dir, 'app'), 'Dockerfile.pier', 'FROM x\n');
  assert.deepEqual(readdirSync(outside), ['victim']);
  assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'keep');
  assert.ok(lstatSync(join(dir, 'app', '.pier')).isDirectory());
  assert.equal(lstatSync(join(dir, 'app', '.pier', 'run')).mode & 0o777, 0o755);
  symlinkSync(join(outside, 'victim'), join(dir, 'app', 'link'));
  chownTree(join(dir, 'app'), BUILD_UID);
  assert.equal(lstatSync(join(outside, 'victim')).uid, 0, 'the link target keeps its owner');
  assert.equal(lstatSync(join(dir, 'app', 'link')).uid, BUILD_UID);
});
