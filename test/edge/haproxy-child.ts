// A Pier stand-in for test/edge/haproxy-lifetime.slow.test.ts: a process that starts a HAProxy edge on argv's
// directory, gives it one app (a new backend: one reload, so the master has re-executed itself once), prints what the
// test needs as one JSON line, then waits to be killed.
import { createHaproxyEdge } from '../../src/edge/haproxy/edge.ts';
import { app, route, up } from '../../src/edge/test-helpers.ts';

const [dir, upstreamPort] = process.argv.slice(2);
const edge = await createHaproxyEdge({ addr: '127.0.0.1:0', domain: 'pier.test', dir: dir!, onError: (m) => process.stderr.write(`${m}\n`) });
edge.setRoutes([app('child', [route('/', [up('c1', Number(upstreamPort))])])]);
await edge.settled();
process.stdout.write(`${JSON.stringify({ url: edge.url, masterPid: edge.dataplane().masterPid, reloads: edge.reloads() })}\n`);
setInterval(() => undefined, 60_000);
