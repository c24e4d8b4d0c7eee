import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PierError } from './errors.ts';
import {
  CANCELABLE_DEPLOYMENT_STATUSES, PAUSABLE_SERVICE_STATUSES, assertTransition, canTransition, isTerminal,
  type StatusKind,
} from './status.ts';
import { DEPLOYMENT_STATUSES, INSTANCE_STATUSES, REGIONAL_DEPLOYMENT_STATUSES, SERVICE_STATUSES } from './types.ts';

// The expected legal moves, written out independently of the tables so that any table edit fails here.
const LEGAL: Record<StatusKind, string> = {
  instance: `
    ALLOCATING: STARTING STOPPING STOPPED ERROR
    STARTING: HEALTHY UNHEALTHY SLEEPING STOPPING ERROR
    HEALTHY: UNHEALTHY SLEEPING STOPPING ERROR
    UNHEALTHY: STARTING HEALTHY STOPPING ERROR
    SLEEPING: STARTING STOPPING STOPPED ERROR
    STOPPING: STOPPED ERROR
    STOPPED:
    ERROR:`,
  regional_deployment: `
    PENDING: PROVISIONING SCHEDULED CANCELING ERRORING ERROR
    PROVISIONING: SCHEDULED CANCELING ERRORING ERROR
    SCHEDULED: ALLOCATING CANCELING ERRORING ERROR
    CANCELING: CANCELED ERROR
    CANCELED:
    ALLOCATING: STARTING HEALTHY DEGRADED UNHEALTHY SLEEPING STOPPING ERRORING ERROR
    STARTING: HEALTHY DEGRADED UNHEALTHY SLEEPING STOPPING ERRORING ERROR
    HEALTHY: DEGRADED UNHEALTHY SLEEPING STOPPING ERRORING ERROR
    DEGRADED: HEALTHY UNHEALTHY SLEEPING STOPPING ERRORING ERROR
    UNHEALTHY: HEALTHY DEGRADED SLEEPING STOPPING ERRORING ERROR
    SLEEPING: STARTING HEALTHY DEGRADED UNHEALTHY STOPPING ERRORING ERROR
    STOPPING: STOPPED ERROR
    STOPPED:
    ERRORING: ERROR
    ERROR:`,
  deployment: '', // the regional table plus STASHED, which never moves; filled in below
  service: `
    STARTING: HEALTHY DEGRADED UNHEALTHY PAUSING DELETING
    HEALTHY: DEGRADED UNHEALTHY PAUSING DELETING
    DEGRADED: HEALTHY UNHEALTHY PAUSING DELETING
    UNHEALTHY: STARTING HEALTHY DEGRADED PAUSING DELETING
    DELETING: DELETED
    DELETED:
    PAUSING: PAUSED DELETING
    PAUSED: RESUMING DELETING
    RESUMING: STARTING HEALTHY DEGRADED UNHEALTHY PAUSING DELETING`,
};
LEGAL.deployment = `${LEGAL.regional_deployment}\n    STASHED:`;

const STATUSES: Record<StatusKind, readonly string[]> = {
  instance: INSTANCE_STATUSES,
  deployment: DEPLOYMENT_STATUSES,
  regional_deployment: REGIONAL_DEPLOYMENT_STATUSES,
  service: SERVICE_STATUSES,
};

function legalPairs(kind: StatusKind): Set<string> {
  const pairs = new Set<string>();
  const listed = new Set<string>();
  for (const line of LEGAL[kind].trim().split('\n')) {
    const [from, rest] = line.trim().split(':') as [string, string];
    listed.add(from);
    for (const to of rest.trim().split(/\s+/).filter(Boolean)) pairs.add(`${from}>${to}`);
  }
  assert.deepEqual([...listed].sort(), [...STATUSES[kind]].sort(), `${kind}: expected list covers every status`);
  return pairs;
}

for (const kind of Object.keys(STATUSES) as StatusKind[]) {
  test(`${kind}: every from x to pair matches the expected legal list`, () => {
    const legal = legalPairs(kind);
    let checked = 0;
    for (const from of STATUSES[kind]) {
      for (const to of STATUSES[kind]) {
        const want = from === to || legal.has(`${from}>${to}`);
        assert.equal(canTransition(kind, from as never, to as never), want, `${kind} ${from} -> ${to}`);
        if (want) assert.doesNotThrow(() => assertTransition(kind, from as never, to as never));
        else {
          assert.throws(() => assertTransition(kind, from as never, to as never), (err: unknown) => {
            assert.ok(err instanceof PierError);
            assert.equal(err.code, 'invalid_state');
            assert.equal(err.status, 409);
            assert.ok(err.message.includes(from) && err.message.includes(to), err.message);
            return true;
          });
        }
        checked++;
      }
    }
    assert.equal(checked, STATUSES[kind].length ** 2);
  });
}

test('assertTransition explains what is allowed instead', () => {
  assert.throws(() => assertTransition('instance', 'STOPPED', 'HEALTHY'), /instance cannot go from STOPPED to HEALTHY: STOPPED is final/);
  assert.throws(() => assertTransition('deployment', 'HEALTHY', 'CANCELING'),
    /deployment cannot go from HEALTHY to CANCELING: it can only become DEGRADED, UNHEALTHY, SLEEPING, STOPPING, ERRORING, ERROR/);
});

test('product rules read off the tables', () => {
  // Cancel only before allocation; pause from running statuses; resume only from PAUSED; delete from anything alive.
  for (const s of DEPLOYMENT_STATUSES) {
    assert.equal(canTransition('deployment', s, 'CANCELING') && s !== 'CANCELING', CANCELABLE_DEPLOYMENT_STATUSES.includes(s), s);
  }
  for (const s of SERVICE_STATUSES) {
    assert.equal(canTransition('service', s, 'PAUSING') && s !== 'PAUSING', PAUSABLE_SERVICE_STATUSES.includes(s), s);
    assert.equal(canTransition('service', s, 'RESUMING') && s !== 'RESUMING', s === 'PAUSED', s);
    assert.equal(canTransition('service', s, 'DELETING'), s !== 'DELETED', s);
  }
  const terminal = (kind: StatusKind) => STATUSES[kind].filter((s) => isTerminal(kind, s as never));
  assert.deepEqual(terminal('instance'), ['STOPPED', 'ERROR']);
  assert.deepEqual(terminal('deployment'), ['CANCELED', 'STOPPED', 'ERROR', 'STASHED']);
  assert.deepEqual(terminal('service'), ['DELETED']);
});
