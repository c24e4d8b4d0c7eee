// MicroVMs on private app networks, for real (QEMU microvm; TCG on these machines): two VMs of one network reach
// each other by their aliases over HTTP (the one started first learns the later one's name from a hosts push over
// its console, the later one from its boot-time hosts file), a VM of another network cannot reach them, and no VM
// reaches a service listening on the host. One shared setup: three VMs, the last two booted concurrently.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceHandle, InstanceSpec } from '../contract.ts';
import { ensureTestImage, TEST_IMAGE } from '../testing/images.ts';
import { MicrovmRuntime } from './driver.ts';
import { networkingUnavailable } from '../process/netns.ts';

const MiB = 1024 * 1024;
const stateDir = mkdtempSync(join(tmpdir(), 'pier-microvm-net-test-'));
// Addresses claims of VMs without a network go to a private directory, as in the main suite's runtime.
const make = () => new MicrovmRuntime({ stateDir, log: () => undefined, addressDir: join(stateDir, 'claims') });

async function unavailable(): Promise<string | undefined> {
  const why = networkingUnavailable();
  if (why) return why;
  try {
    await make().capabilities();
    await ensureTestImage();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

// Serves HTTP on 8000 ("hello from $NAME"); fetches $PEER (an alias) until it answers; tries the host's address on
// the bridge and $HOST_OTHER (another address of the host) at $HOST_PORT (a listener on every host address); tries
// $TARGET (another app's VM) a few times; then idles.
const SCRIPT = `
mkdir -p /tmp/www; echo "hello from $NAME" > /tmp/www/index.html
busybox httpd -p 8000 -h /tmp/www
gw=$(ip route | sed -n 's/^default via \\([0-9.]*\\).*/\\1/p')
if [ -n "$PEER" ]; then
  i=0
  while [ $i -lt 240 ]; do
    if out=$(timeout 3 wget -q -O - "http://$PEER:8000/" 2>/dev/null); then echo "reached $PEER: $out"; break; fi
    sleep 0.25; i=$((i + 1))
  done
  [ $i -lt 240 ] || echo "never reached $PEER"
  # The same nc probe as below, on a port that is open: "closed" below means refused or dropped, not a broken nc.
  if nc -w 3 "$PEER" 8000 < /dev/null; then echo "nc $PEER open"; fi
fi
for h in $gw $HOST_OTHER; do if nc -w 3 "$h" "$HOST_PORT" < /dev/null; then echo "host $h open"; else echo "host $h closed"; fi; done
if [ -n "$TARGET" ]; then
  ok=0
  for i in 1 2 3; do timeout 3 wget -q -O - "http://$TARGET:8000/" > /dev/null 2>&1 && ok=1; done
  [ $ok = 1 ] && echo "target $TARGET open" || echo "target $TARGET closed"
fi
echo done
while :; do sleep 1; done
`;

function spec(name: string, network: string, aliases: string[], env: Record<string, string>): InstanceSpec {
  return {
    instanceId: randomUUID(), labels: {}, image: TEST_IMAGE, entrypoint: ['/bin/sh', '-c', SCRIPT], ports: [8000], cpu: 1,
    memoryBytes: 64 * MiB, diskBytes: 64 * MiB, network, networkAliases: aliases, env: { NAME: name, ...env },
  };
}

async function lines(rt: MicrovmRuntime, h: InstanceHandle): Promise<string[]> {
  const out: string[] = [];
  for await (const l of rt.logs(h.runtimeId, { follow: false })) out.push(l.line);
  return out;
}

/** The VM's output once it printed `done` (bounded). */
async function untilDone(rt: MicrovmRuntime, h: InstanceHandle, ms: number): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = await lines(rt, h);
    if (l.includes('done') || Date.now() > deadline) return l;
    await new Promise((r) => setTimeout(r, 250));
  }
}

const skip = await unavailable();

test('microvm app networks: same-network VMs reach each other by alias; other networks and the host do not', { skip, timeout: 240_000 }, async () => {
  const rt = make();
  assert.equal((await rt.capabilities()).privateNetworking, true);
  const accepted: Socket[] = [];
  const server = createServer((s) => { accepted.push(s); s.destroy(); });
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
  // Another of the host's own addresses (its LAN, Docker's bridge), besides the app bridge's gateway.
  const other = Object.entries(networkInterfaces()).filter(([n]) => !n.startsWith('pier'))
    .flatMap(([, l]) => (l ?? []).filter((a) => a.family === 'IPv4' && !a.internal).map((a) => a.address))[0] ?? '';
  const hostPort = String((server.address() as { port: number }).port);
  const host = { HOST_PORT: hostPort, HOST_OTHER: other };
  const started: InstanceHandle[] = [];
  try {
    const netA = `app-${randomUUID().slice(0, 8)}`;
    const netB = `other-${randomUUID().slice(0, 8)}`;
    // api first: its peer `web` does not exist when it boots, so it can only learn the name from a later push.
    const api = await rt.start(spec('api', netA, ['api', 'api.myapp.internal'], { PEER: 'web', ...host }));
    started.push(api);
    const apiIp = api.endpoints[0].host;
    const [web, other] = await Promise.all([
      rt.start(spec('web', netA, ['web'], { PEER: 'api.myapp.internal', ...host })),
      rt.start(spec('other', netB, ['api'], { TARGET: apiIp, ...host })),
    ]);
    started.push(web, other);
    const stateOf = (h: InstanceHandle) => JSON.parse(readFileSync(join(stateDir, 'instances', h.runtimeId, 'state.json'), 'utf8')) as { bridge?: string; tap: string };
    assert.equal(stateOf(api).bridge, stateOf(web).bridge, 'one bridge per app network');
    assert.notEqual(stateOf(api).bridge, stateOf(other).bridge);
    assert.match(stateOf(api).bridge ?? '', /^pierbr/, 'the bridge is covered by the PIER-ISOLATION / PIER-INPUT rules');

    const [apiOut, webOut, otherOut] = await Promise.all([api, web, other].map((h) => untilDone(rt, h, 120_000)));
    assert.ok(webOut.includes('reached api.myapp.internal: hello from api'), `web resolves api's alias from its boot hosts file:\n${webOut.join('\n')}`);
    assert.ok(apiOut.includes('reached web: hello from web'), `api learns web's name from the pushed hosts file:\n${apiOut.join('\n')}`);
    assert.ok(webOut.includes('nc api.myapp.internal open') && apiOut.includes('nc web open'), `nc connects where a port is open:\n${webOut.join('\n')}`);
    assert.ok(otherOut.includes(`target ${apiIp} closed`), `another network's VM cannot reach api:\n${otherOut.join('\n')}`);
    for (const [name, out] of [['api', apiOut], ['web', webOut], ['other', otherOut]] as const) {
      const probes = out.filter((l) => /^host [\d.]+ (open|closed)$/.test(l));
      assert.equal(probes.length, other ? 2 : 1, `${name} tried the host's addresses:\n${out.join('\n')}`);
      assert.ok(probes.every((l) => l.endsWith(' closed')), `${name} cannot connect to the host:\n${out.join('\n')}`);
    }
    assert.equal(accepted.length, 0, 'the host listener accepted no connection from a VM');

    // The host (edge, health checks) still reaches every VM, including the isolated one: its network works.
    for (const [h, name] of [[api, 'api'], [other, 'other']] as const) {
      const e = h.endpoints[0];
      const res = await fetch(`http://${e.host}:${e.hostPort}/`, { signal: AbortSignal.timeout(10_000) });
      assert.equal((await res.text()).trim(), `hello from ${name}`);
    }
  } finally {
    server.close();
    const bridges = started.map((h) => { try { return (JSON.parse(readFileSync(join(stateDir, 'instances', h.runtimeId, 'state.json'), 'utf8')) as { bridge?: string }).bridge; } catch { return undefined; } });
    await Promise.all(started.map((h) => rt.remove(h.runtimeId).catch(() => undefined)));
    for (const b of bridges) if (b) assert.ok(!existsSync(`/sys/class/net/${b}`), `bridge ${b} removed with its last VM`);
    rmSync(stateDir, { recursive: true, force: true });
  }
});
