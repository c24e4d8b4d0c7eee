// Fast tests of the microVM driver's pure parts: the cpio writer, the config disk's quoting, the console protocol,
// kernel version order, the xz stream search, app network plans (taps, hosts file and its console push), and how
// volumes travel (QEMU's 9p shares, the config disk's table the guest init reads).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MicrovmRuntime, configScript, consoleSocket, parseConsole, qemuOptionValue, shellQuote } from './driver.ts';
import { cpioNewc } from './initramfs.ts';
import { compareKernelVersions, xzStreamOffset } from './kernel.ts';
import { tapName } from './net.ts';
import { hostsMessage, hostsOf, tapBatch, type VmNet } from './appnet.ts';
import { GUEST_INIT, VOLUME_MOUNT_OPTIONS } from './guest-init.ts';
import { bridgeName, parsePool, pickSubnet } from '../process/netplan.ts';

test('cpioNewc writes an archive cpio itself unpacks: files, modes, directories, symlinks', { skip: spawnSync('cpio', ['--version']).status === 0 ? false : 'no cpio binary to check against' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-cpio-'));
  try {
    const archive = cpioNewc([
      { type: 'dir', path: 'bin' },
      { type: 'file', path: 'bin/tool', data: 'x'.repeat(5), mode: 0o755 },
      { type: 'file', path: '/init', data: '#!/bin/sh\necho hi\n', mode: 0o700 },
      { type: 'symlink', path: 'bin/sh', target: 'tool' },
    ]);
    writeFileSync(join(dir, 'a.cpio'), archive);
    execFileSync('cpio', ['-i', '-d', '--quiet', '-F', join(dir, 'a.cpio')], { cwd: dir });
    assert.equal(readFileSync(join(dir, 'bin/tool'), 'utf8'), 'xxxxx');
    assert.equal(readFileSync(join(dir, 'init'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.equal(execFileSync('stat', ['-c', '%a', join(dir, 'bin/tool')], { encoding: 'utf8' }).trim(), '755');
    assert.equal(execFileSync('readlink', [join(dir, 'bin/sh')], { encoding: 'utf8' }).trim(), 'tool');
    const listing = execFileSync('cpio', ['-t', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' }).trim().split('\n');
    assert.deepEqual(listing, ['bin', 'bin/tool', 'init', 'bin/sh']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the config disk quotes every value so sh reads it back exactly, padded with newlines to 4 KiB', () => {
  const nasty = `it's "quoted" $HOME \`id\` \n second line; rm -rf /`;
  const text = configScript({ address: '10.214.0.9', gateway: '10.214.0.1', hostname: 'h', memoryBytes: 64 * 1024 * 1024, cpu: 0.5, workdir: '/app', env: { TOKEN: nasty, EMPTY: '' }, argv: ['/bin/sh', '-c', 'echo "$1"', nasty] });
  assert.equal(text.length % 4096, 0);
  assert.ok(!text.includes(0));
  // Read back by busybox sh, the guest init's shell, sourcing the file as the guest sources /dev/vdb.
  const dir = mkdtempSync(join(tmpdir(), 'pier-vmcfg-'));
  let out = '';
  try {
    writeFileSync(join(dir, 'config.sh'), text);
    out = execFileSync('busybox', ['sh', '-c', '. "$0"; printf "%s\\n" "$PIER_CPU_MAX" "$PIER_MEMORY" "$TOKEN" "[$EMPTY]" "$#" "$4"', join(dir, 'config.sh')], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(out, `50000 100000\n67108864\n${nasty}\n[]\n4\n${nasty}\n`);
  assert.throws(() => configScript({ address: 'a', gateway: 'g', hostname: 'h', memoryBytes: 1, cpu: 1, workdir: '/', env: { 'BAD-NAME': 'x' }, argv: ['x'] }), /env name "BAD-NAME"/);
  assert.equal(shellQuote("a'b"), `'a'\\''b'`);
});

test('the console protocol: output lines with uptime, the boot clock, limits and the exit; kernel noise skipped', () => {
  const events = parseConsole([
    '[    0.784567] PCI: Fatal: No config space access function found',
    'B 1796207363 2.61',
    'L 50000/100000 134217728',
    'O 2.70 starting on port 8000',
    'E 2.71 a line on stderr',
    'O 2.72 ',
    'O 2.73',
    'X 137 1 9.50',
    '[   14.33] reboot: Restarting system',
  ].join('\r\n'));
  assert.deepEqual(events, [
    { kind: 'boot', epoch: 1796207363, uptime: 2.61 },
    { kind: 'limits', cpuMax: '50000/100000', memoryMax: '134217728' },
    { kind: 'line', stream: 'stdout', uptime: 2.7, line: 'starting on port 8000' },
    { kind: 'line', stream: 'stderr', uptime: 2.71, line: 'a line on stderr' },
    { kind: 'line', stream: 'stdout', uptime: 2.72, line: '' },
    { kind: 'line', stream: 'stdout', uptime: 2.73, line: '' },
    { kind: 'exit', code: 137, ooms: 1, uptime: 9.5 },
  ]);
});

test('kernel versions sort numerically; the xz stream is found after the setup code', () => {
  assert.deepEqual(['6.1.0-57-amd64', '6.1.0-9-amd64', '5.10.0-30-amd64'].sort(compareKernelVersions), ['5.10.0-30-amd64', '6.1.0-9-amd64', '6.1.0-57-amd64']);
  assert.equal(xzStreamOffset(Buffer.concat([Buffer.alloc(100, 1), Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 9])])), 100);
  assert.equal(xzStreamOffset(Buffer.alloc(64)), -1);
  assert.ok(tapName('0f7c1f9e-5d3a-4b7b-9a1e-123456789abc').length <= 15, 'a tap name fits IFNAMSIZ');
});

test('app networks: a tap is a plain port of the app bridge (made with the gateway address on first use)', () => {
  const subnet = pickSubnet(parsePool('10.213.0.0/16'), ['10.213.0.1', '192.168.1.5'])!;
  const bridge = bridgeName('/var/lib/pier/microvm', 'myapp');
  assert.match(bridge, /^pierbr[0-9a-f]{9}$/, 'named like the process runtime\'s bridges, so PIER-ISOLATION / PIER-INPUT cover it');
  assert.notEqual(bridge, bridgeName('/var/lib/pier/process', 'myapp'), 'another installation\'s bridge of the same name differs');
  assert.equal(tapBatch({ bridge, createBridge: true, subnet, tap: 'piervtabcd1234' }), [
    `link add ${bridge} type bridge`, `link set ${bridge} addrgenmode none`, `addr add 10.213.1.1/24 dev ${bridge}`, `link set ${bridge} up`,
    'tuntap add dev piervtabcd1234 mode tap', 'link set piervtabcd1234 addrgenmode none', `link set piervtabcd1234 master ${bridge} up`, '',
  ].join('\n'));
  const again = tapBatch({ bridge, createBridge: false, subnet, tap: 'piervt00000000' });
  assert.ok(!again.includes('type bridge') && !again.includes('isolated'), again);
});

test('app networks: the hosts file lists each member with its aliases; the console message carries it line by line', () => {
  const m = (ip: string, hostname: string, aliases: string[]): VmNet => ({ network: 'n', bridge: 'b', tap: 't', ip, subnet: '10.213.1.0/24', gateway: '10.213.1.1', hostname, aliases });
  const hosts = hostsOf([m('10.213.1.3', 'pier-bbb', ['web']), m('10.213.1.2', 'pier-aaa', ['api', 'api.myapp.internal', 'bad name;rm', 'evil\nstop', 'x\nhosts.end'])]);
  assert.equal(hosts, '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n10.213.1.2\tpier-aaa api api.myapp.internal\n10.213.1.3\tpier-bbb web\n');
  const msg = hostsMessage(hosts);
  assert.equal(msg, `hosts\n${hosts.trim().split('\n').map((l) => `h ${l}`).join('\n')}\nhosts.end\n`);
  assert.ok(msg.split('\n').every((l) => l.length < 4095), 'every line fits the guest tty\'s line buffer');
  // The config disk carries the same file; busybox sh reads it back exactly, as the guest init does.
  const text = configScript({ address: '10.213.1.2', gateway: '10.213.1.1', hostname: 'pier-aaa', memoryBytes: 1, cpu: 1, workdir: '/', env: {}, argv: ['x'], hosts });
  const dir = mkdtempSync(join(tmpdir(), 'pier-vmhosts-'));
  try {
    writeFileSync(join(dir, 'config.sh'), text);
    assert.equal(execFileSync('busybox', ['sh', '-c', '. "$0"; printf "%s" "$PIER_HOSTS"', join(dir, 'config.sh')], { encoding: 'utf8' }), hosts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!configScript({ address: 'a', gateway: 'g', hostname: 'h', memoryBytes: 1, cpu: 1, workdir: '/', env: {}, argv: ['x'] }).includes('PIER_HOSTS'), 'no network: the image\'s own /etc/hosts');
});

test('the guest init parses as shell, and its console handler turns the hosts message into /etc/hosts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-vminit-'));
  try {
    writeFileSync(join(dir, 'init'), GUEST_INIT);
    execFileSync('busybox', ['sh', '-n', join(dir, 'init')]);
    // The handler's lines, run by busybox sh over the message with the guest's paths moved under a temp directory.
    const handler = GUEST_INIT.slice(GUEST_INIT.indexOf('  hosts) '), GUEST_INIT.indexOf('esac; done) &'))
      .replaceAll('/newroot/', `${dir}/root/`).replaceAll('/hosts.new', `${dir}/hosts.new`);
    const hosts = hostsOf([{ network: 'n', bridge: 'b', tap: 't', ip: '10.213.1.2', subnet: '10.213.1.0/24', gateway: '10.213.1.1', hostname: 'pier-a', aliases: ['api', 'api.app.internal'] }]);
    writeFileSync(join(dir, 'msg'), `stray\n${hostsMessage(hosts)}`);
    execFileSync('busybox', ['sh', '-c', `say() { echo "$*" >> "$1"; }\nwhile IFS= read -r cmd; do case "$cmd" in\n${handler}esac; done < "$0"`.replace('>> "$1"', `>> '${dir}/said'`), join(dir, 'msg')]);
    assert.equal(readFileSync(join(dir, 'root', 'etc', 'hosts'), 'utf8'), hosts);
    assert.equal(readFileSync(join(dir, 'said'), 'utf8'), 'A hosts\n', 'the init acknowledges the message (the host resends one that got no answer)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('volumes: each is a virtio-9p share of the host mount (passthrough, read-only in QEMU too), and the guest init reads its table back exactly', () => {
  const volumes = [
    { volumeId: 'a', hostPath: '/var/lib/pier/volumes/mnt/a', path: '/data/' },
    { volumeId: 'b', hostPath: '/srv/odd,path=x', path: '/var/my files ', readOnly: true },
  ];
  const state = { instanceId: 'i', labels: {}, ports: [], address: '10.214.0.2', tap: 'piervt0', startedAt: '', memoryBytes: 64 * 1024 * 1024, cpu: 1, accel: 'tcg' as const, volumes };
  const args = new MicrovmRuntime({ log: () => undefined }).qemuArgs('/d', state, { vmlinux: '/k', initramfs: '/i' }, 1);
  const shares = args.flatMap((a, i) => (args[i - 1] === '-fsdev' || (args[i - 1] === '-device' && a.startsWith('virtio-9p'))) ? [a] : []);
  assert.deepEqual(shares, [
    'local,id=fs0,path=/var/lib/pier/volumes/mnt/a,security_model=passthrough', 'virtio-9p-device,fsdev=fs0,mount_tag=pv0',
    'local,id=fs1,path=/srv/odd,,path=x,security_model=passthrough,readonly=on', 'virtio-9p-device,fsdev=fs1,mount_tag=pv1',
  ], 'a comma in a host path cannot add an option');
  assert.equal(qemuOptionValue('a,b,,c'), 'a,,b,,,,c');
  assert.ok(!new MicrovmRuntime({ log: () => undefined }).qemuArgs('/d', { ...state, volumes: undefined }, { vmlinux: '/k', initramfs: '/i' }, 1).includes('-fsdev'));
  assert.match(VOLUME_MOUNT_OPTIONS, /\bnosuid\b/);
  assert.match(VOLUME_MOUNT_OPTIONS, /\bnodev\b/);
  // The init's own lines over the config disk's table, with mkdir and mount replaced by echoes.
  const loop = GUEST_INIT.slice(GUEST_INIT.indexOf('if [ -n "$PIER_VOLUMES" ]'), GUEST_INIT.indexOf('ip link set lo up'))
    .replaceAll('chroot /newroot /.pier/busybox mkdir -p', 'echo mkdir').replaceAll('chroot /newroot /.pier/busybox mount', 'echo mount');
  assert.ok(loop.includes('echo mount -t 9p') && loop.includes('echo mkdir'), loop);
  const dir = mkdtempSync(join(tmpdir(), 'pier-vmvol-'));
  try {
    writeFileSync(join(dir, 'config.sh'), configScript({ address: 'a', gateway: 'g', hostname: 'h', memoryBytes: 1, cpu: 1, workdir: '/', env: {}, argv: ['x'], volumes }));
    const out = execFileSync('busybox', ['sh', '-c', `. "$0"\n${loop}`, join(dir, 'config.sh')], { encoding: 'utf8' });
    assert.equal(out, [
      'mkdir /data', `mount -t 9p -o rw,${VOLUME_MOUNT_OPTIONS} pv0 /data`,
      'mkdir /var/my files ', `mount -t 9p -o ro,${VOLUME_MOUNT_OPTIONS} pv1 /var/my files `, '',
    ].join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('console socket: a data directory too deep for sun_path is reached through a short link in the VM link directory', () => {
  // The link mechanics (repair, binding through it, removal) are src/socket-path.test.ts's; here, that the console
  // socket uses them with the microVM runtime's own link directory.
  const base = mkdtempSync(join(tmpdir(), 'pier-vmsock-'));
  try {
    const links = join(base, 'l');
    assert.equal(consoleSocket('/var/lib/pier/microvm/instances/i1', true, links), '/var/lib/pier/microvm/instances/i1/console.sock');
    assert.ok(!existsSync(links), 'a path that fits makes no link');
    const deep = join(base, 'd'.repeat(60), 'microvm', 'instances', '0d9e2c1a-6f2b-4c55-9d0e-2a8b7c3e4f51');
    mkdirSync(deep, { recursive: true });
    const sock = consoleSocket(deep, true, links);
    assert.ok(Buffer.byteLength(sock) <= 107 && sock.startsWith(`${links}/`) && sock.endsWith('/console.sock'), sock);
    assert.equal(readlinkSync(join(sock, '..')), deep);
    assert.equal(consoleSocket(deep, false, links), sock, 'the same link every time (recover finds it)');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});
