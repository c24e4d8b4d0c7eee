import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPublicHostClash, hostOwnersOf, publicHost, publicHostClashMessage, publicHostsClash } from './public-host.ts';

test('publicHost is <app>-<org>.<domain>, lower-case', () => {
  assert.equal(publicHost({ app: 'hello', org: 'pier' }, 'localhost'), 'hello-pier.localhost');
  assert.equal(publicHost({ app: 'Hello', org: 'Pier' }, 'Example.COM.'), 'hello-pier.example.com');
});

test('two different apps clash when their hosts are spelled the same; an app never clashes with itself', () => {
  const victim = { app: 'victim-b', org: 'pier' };
  const attacker = { app: 'victim', org: 'b-pier' };
  assert.equal(publicHost(victim, 'd'), publicHost(attacker, 'd'));
  assert.equal(publicHostsClash(victim, attacker), true);
  assert.equal(publicHostsClash(attacker, victim), true);
  assert.equal(publicHostsClash(victim, { ...victim }), false);
  assert.equal(publicHostsClash(victim, { app: 'victim-b', org: 'other' }), false);
  assert.equal(publicHostsClash({ app: 'a-b', org: 'c' }, { app: 'a', org: 'b-c' }), true);
  assert.equal(publicHostsClash({ app: 'a-b', org: 'c' }, { app: 'a', org: 'bc' }), false);
});

test('findPublicHostClash returns the holder, and the message names both apps and what to change', () => {
  const existing = [{ app: 'site', org: 'acme' }, { app: 'victim-b', org: 'pier' }];
  assert.equal(findPublicHostClash({ app: 'site', org: 'acme' }, existing), undefined);
  const holder = findPublicHostClash({ app: 'victim', org: 'b-pier' }, existing);
  assert.deepEqual(holder, { app: 'victim-b', org: 'pier' });
  const msg = publicHostClashMessage({ app: 'victim', org: 'b-pier' }, holder!, 'localhost');
  assert.match(msg, /victim-b-pier\.localhost, which is already the host of app victim-b of organization pier: choose another app name/);
  assert.match(publicHostClashMessage({ app: 'x', org: 'y' }, holder!, 'd', 'organization'), /choose another organization name/);
});

test('hostOwnersOf lists every (app, org) split of a label', () => {
  assert.deepEqual(hostOwnersOf('victim-b-pier'), [{ app: 'victim', org: 'b-pier' }, { app: 'victim-b', org: 'pier' }]);
  assert.deepEqual(hostOwnersOf('nodash'), []);
  for (const o of hostOwnersOf('a-b-c-d')) assert.equal(`${o.app}-${o.org}`, 'a-b-c-d');
});
