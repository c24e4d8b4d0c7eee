import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerAddress, endpointsFromInspect, endpointsFromSummary } from './endpoints.ts';

const net = (ip: string) => ({ IPAddress: ip });

test('a new container (ports exposed, none published) is reached at its address on its own network', () => {
  const eps = endpointsFromInspect({
    Config: { ExposedPorts: { '9000/tcp': {}, '8000/tcp': {}, '5353/udp': {} } },
    HostConfig: { NetworkMode: 'pier-app1' },
    NetworkSettings: { Ports: { '8000/tcp': null, '9000/tcp': null }, Networks: { other: net('10.9.0.2'), 'pier-app1': net('172.20.0.5') } },
  });
  assert.deepEqual(eps, [
    { containerPort: 8000, host: '172.20.0.5', hostPort: 8000 },
    { containerPort: 9000, host: '172.20.0.5', hostPort: 9000 },
  ]);
});

test('a container created before #26 keeps its published loopback ports', () => {
  const eps = endpointsFromInspect({
    Config: { ExposedPorts: { '8000/tcp': {} } },
    HostConfig: { NetworkMode: 'pier-isolated' },
    NetworkSettings: { Ports: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '49153' }] }, Networks: { 'pier-isolated': net('172.21.0.3') } },
  });
  assert.deepEqual(eps, [{ containerPort: 8000, host: '127.0.0.1', hostPort: 49153 }]);
});

test('a stopped container has no address and no endpoints', () => {
  assert.deepEqual(endpointsFromInspect({
    Config: { ExposedPorts: { '8000/tcp': {} } }, HostConfig: { NetworkMode: 'pier-isolated' },
    NetworkSettings: { Ports: {}, Networks: { 'pier-isolated': net('') } },
  }), []);
  assert.deepEqual(endpointsFromSummary({ Ports: [], HostConfig: { NetworkMode: 'pier-isolated' }, NetworkSettings: { Networks: { 'pier-isolated': net('') } } }), []);
});

test('recover() reads the same endpoints from a list entry as start() from inspect', () => {
  // The engine lists an exposed, unpublished port without PublicPort.
  assert.deepEqual(endpointsFromSummary({
    Ports: [{ PrivatePort: 9000, Type: 'tcp' }, { PrivatePort: 8000, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }],
    HostConfig: { NetworkMode: 'pier-app1' },
    NetworkSettings: { Networks: { 'pier-app1': net('172.20.0.5') } },
  }), [
    { containerPort: 8000, host: '172.20.0.5', hostPort: 8000 },
    { containerPort: 9000, host: '172.20.0.5', hostPort: 9000 },
  ]);
  // Published (older container): loopback, one entry per port even when the engine lists IPv4 and IPv6 bindings.
  assert.deepEqual(endpointsFromSummary({
    Ports: [
      { IP: '127.0.0.1', PrivatePort: 8000, PublicPort: 49153, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 8000, PublicPort: 49154, Type: 'tcp' },
      { IP: '192.0.2.1', PrivatePort: 9000, PublicPort: 49155, Type: 'tcp' },
    ],
    HostConfig: { NetworkMode: 'pier-app1' },
    NetworkSettings: { Networks: { 'pier-app1': net('172.20.0.5') } },
  }), [{ containerPort: 8000, host: '127.0.0.1', hostPort: 49153 }]);
});

test('the address comes from the network named by NetworkMode, else the first network with one', () => {
  assert.equal(containerAddress('b', { a: net('10.0.0.1'), b: net('10.0.1.1') }), '10.0.1.1');
  assert.equal(containerAddress('bridge', { a: net(''), b: net('10.0.1.1') }), '10.0.1.1');
  assert.equal(containerAddress(undefined, null), undefined);
});
