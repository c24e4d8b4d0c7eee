// gRPC through the edge, as Koyeb's `http2` port protocol promises: a real gRPC client (@grpc/grpc-js) over TLS to the
// public edge, a real gRPC server on h2c behind it. gRPC carries its status in HTTP/2 trailers (grpc-status,
// grpc-message), so the edge must pass response trailers through (`te: trailers` to the server: src/edge/protocols.test.ts). On the
// Node edge and on the HAProxy data plane (which leaves h2c upstreams to the Node edge behind it): unary calls with
// metadata both ways, an error status with its message, a server stream, a client stream, a bidirectional stream whose
// every answer arrives before the client sends its next message (the HAProxy data plane reaches the Node edge over
// HTTP/1.1: this is what shows that leg carries a full-duplex HTTP/2 stream), and a deadline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadOrCreateLocalCa } from '../../src/certs/local-ca.ts';
import { createEdge } from '../../src/edge/edge.ts';
import { createHaproxyEdge } from '../../src/edge/haproxy/edge.ts';
import type { Edge } from '../../src/edge/types.ts';
import { app, route, up } from '../../src/edge/test-helpers.ts';
import { ECHO, echoClient, unary } from '../support/grpc-echo.ts';

const haproxy = spawnSync('haproxy', ['-v'], { encoding: 'utf8' }).status === 0 ? false : 'haproxy is not installed (apt-get install haproxy)';
const HOST = 'rpc-acme.pier.test';

/** A gRPC server on h2c (loopback); resolves with its port and a close. */
async function startServer(): Promise<{ port: number; close(): Promise<void> }> {
  const server = new grpc.Server();
  server.addService(ECHO, {
    say(call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) {
      if (call.request === 'fail') {
        const md = new grpc.Metadata();
        md.set('why', 'asked to');
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'told to fail', metadata: md });
        return;
      }
      call.sendMetadata(new grpc.Metadata());
      const trailer = new grpc.Metadata();
      trailer.set('x-echo-len', String(call.request.length));
      cb(null, `hello ${call.request} (${String(call.metadata.get('x-who')[0] ?? '')})`, trailer);
    },
    count(call: grpc.ServerWritableStream<string, string>) {
      for (let i = 1; i <= Number(call.request); i++) call.write(`n${i}`);
      call.end();
    },
    join(call: grpc.ServerReadableStream<string, string>, cb: grpc.sendUnaryData<string>) {
      const parts: string[] = [];
      call.on('data', (p: string) => parts.push(p));
      call.on('end', () => cb(null, parts.join('+')));
    },
    chat(call: grpc.ServerDuplexStream<string, string>) {
      call.on('data', (m: string) => call.write(`${m}!`));
      call.on('end', () => call.end());
    },
    slow(_call: grpc.ServerUnaryCall<string, string>, cb: grpc.sendUnaryData<string>) {
      setTimeout(() => cb(null, 'late'), 2000);
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { port, close: () => new Promise((r) => server.tryShutdown(() => r())) };
}

async function exercise(edge: Edge, rootPem: string, server: Awaited<ReturnType<typeof startServer>>): Promise<void> {
  const { port } = new URL(edge.tlsUrl!);
  const client = echoClient(`127.0.0.1:${port}`, HOST, rootPem);
  try {
    const md = new grpc.Metadata();
    md.set('x-who', 'pier');
    const ok = await unary(client, 'say', 'world', md);
    assert.equal(ok.err, undefined, ok.err?.message);
    assert.equal(ok.value, 'hello world (pier)');
    assert.deepEqual(ok.trailers?.get('x-echo-len'), ['5'], 'a trailer the server set reaches the client');

    const bad = await unary(client, 'say', 'fail');
    assert.equal(bad.err?.code, grpc.status.FAILED_PRECONDITION, `status from the trailers: ${bad.err?.message}`);
    assert.equal(bad.err?.details, 'told to fail');
    assert.deepEqual(bad.err?.metadata.get('why'), ['asked to']);

    const streamed = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const call = client.count('4') as grpc.ClientReadableStream<string>;
      call.on('data', (m: string) => got.push(m));
      call.on('error', reject);
      call.on('status', (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve(got) : reject(new Error(s.details))));
    });
    assert.deepEqual(streamed, ['n1', 'n2', 'n3', 'n4']);

    const joined = await new Promise<string>((resolve, reject) => {
      const call = client.join((err: grpc.ServiceError | null, v?: string) => (err ? reject(err) : resolve(v!))) as grpc.ClientWritableStream<string>;
      for (const p of ['a', 'b', 'c']) call.write(p);
      call.end();
    });
    assert.equal(joined, 'a+b+c');

    // Both ways at once: each message is sent only after the answer to the one before arrived, so a leg that held the
    // request body until its end (or the answer until the request's end) would stall here until the deadline.
    const chatted = await new Promise<string[]>((resolve, reject) => {
      const got: string[] = [];
      const words = ['a', 'b', 'c'];
      const call = client.chat(new grpc.Metadata(), { deadline: Date.now() + 5000 }) as grpc.ClientDuplexStream<string, string>;
      call.on('data', (m: string) => {
        got.push(m);
        const next = words[got.length];
        if (next) call.write(next); else call.end();
      });
      call.on('error', reject);
      call.on('status', (s: grpc.StatusObject) => (s.code === grpc.status.OK ? resolve(got) : reject(new Error(s.details))));
      call.write(words[0]);
    });
    assert.deepEqual(chatted, ['a!', 'b!', 'c!']);

    const late = await unary(client, 'slow', 'x', new grpc.Metadata(), { deadline: Date.now() + 300 });
    assert.equal(late.err?.code, grpc.status.DEADLINE_EXCEEDED, late.err?.message);
  } finally {
    client.close();
  }
}

async function withCa<T>(fn: (ca: Awaited<ReturnType<typeof loadOrCreateLocalCa>>, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'pier-grpc-'));
  try {
    return await fn(await loadOrCreateLocalCa(join(dir, 'ca')), dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const routes = (port: number) => [app('rpc', [route('/', [up('g1', port, 'fra', 'http2')], { serviceId: 'grpc' })])];

test('gRPC over TLS through the Node edge to an h2c server: metadata, trailers and status, streams, deadlines', { timeout: 30_000 }, async () => {
  const server = await startServer();
  try {
    await withCa(async (ca) => {
      const edge = await createEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: 'pier.test' });
      try {
        edge.setCertificates([{ names: [HOST], ...await ca.issue([HOST]) }]);
        edge.setRoutes(routes(server.port));
        await exercise(edge, ca.rootPem, server);
      } finally {
        await edge.close();
      }
    });
  } finally {
    await server.close();
  }
});

test('gRPC over TLS through the HAProxy data plane (h2c upstreams go on to the Node edge)', { skip: haproxy, timeout: 30_000 }, async () => {
  const server = await startServer();
  try {
    await withCa(async (ca, dir) => {
      const edge = await createHaproxyEdge({ addr: '127.0.0.1:0', tlsAddr: '127.0.0.1:0', domain: 'pier.test', dir: join(dir, 'edge') });
      try {
        edge.setCertificates([{ names: [HOST], ...await ca.issue([HOST]) }]);
        edge.setRoutes(routes(server.port));
        await edge.settled();
        await exercise(edge, ca.rootPem, server);
      } finally {
        await edge.close();
      }
    });
  } finally {
    await server.close();
  }
});
