import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollupApp, rollupDeployment, rollupRegionalDeployment, rollupService } from './rollup.ts';
import type { DeploymentStatus, InstanceStatus, RegionalDeploymentStatus, ServiceStatus } from './types.ts';

const inst = (status: InstanceStatus, message = '') => ({ status, messages: message ? [message] : [] });

test('regional deployment roll-up from instances', () => {
  const rows: [string, ReturnType<typeof inst>[], number, RegionalDeploymentStatus, RegionalDeploymentStatus, RegExp][] = [
    ['all healthy', [inst('HEALTHY'), inst('HEALTHY')], 2, 'STARTING', 'HEALTHY', /^All 2 instances healthy\.$/],
    ['jump from allocating', [inst('HEALTHY')], 1, 'ALLOCATING', 'HEALTHY', /All 1 instance healthy/],
    ['still allocating', [inst('ALLOCATING')], 1, 'ALLOCATING', 'ALLOCATING', /Allocating 1 instance/],
    ['nothing created yet', [], 2, 'ALLOCATING', 'ALLOCATING', /Allocating 2 instances/],
    ['booting', [inst('STARTING'), inst('ALLOCATING')], 2, 'ALLOCATING', 'STARTING', /Waiting for 2 instances to pass health checks/],
    ['half way up', [inst('HEALTHY'), inst('STARTING')], 2, 'STARTING', 'STARTING', /1 of 2 instances healthy; 1 starting/],
    ['scaling up while healthy', [inst('HEALTHY'), inst('STARTING')], 2, 'HEALTHY', 'HEALTHY', /1 of 2 instances healthy; 1 starting/],
    ['one failing', [inst('HEALTHY'), inst('UNHEALTHY', 'HTTP health check failed on port 8000: GET / returned 500')], 2, 'HEALTHY', 'DEGRADED',
      /^1 of 2 instances healthy: HTTP health check failed on port 8000: GET \/ returned 500$/],
    ['one crashed', [inst('HEALTHY'), inst('ERROR', 'exited with code 1')], 2, 'STARTING', 'DEGRADED', /1 of 2 instances healthy: exited with code 1/],
    ['none healthy', [inst('UNHEALTHY', 'boom')], 1, 'STARTING', 'UNHEALTHY', /^No healthy instance: boom$/],
    ['lost all after serving', [inst('STARTING')], 1, 'HEALTHY', 'UNHEALTHY', /No healthy instance: 1 restarting/],
    ['nothing running after serving', [], 1, 'DEGRADED', 'UNHEALTHY', /No instance is running/],
    ['recovering but not yet healthy', [inst('HEALTHY'), inst('STARTING')], 2, 'DEGRADED', 'DEGRADED', /1 of 2/],
    ['unhealthy stays until something serves', [inst('STARTING')], 1, 'UNHEALTHY', 'UNHEALTHY', /restarting/],
    ['scaled to zero', [], 0, 'HEALTHY', 'SLEEPING', /Scaled to zero/],
    ['draining to zero', [inst('HEALTHY')], 0, 'HEALTHY', 'HEALTHY', /All 1 instance healthy/],
    ['waking', [inst('STARTING')], 1, 'SLEEPING', 'STARTING', /Waiting for 1 instance/],
    ['waking, nothing yet', [], 1, 'SLEEPING', 'STARTING', /Starting 1 instance/],
    ['woke', [inst('HEALTHY')], 1, 'SLEEPING', 'HEALTHY', /All 1 instance healthy/],
    ['unhealthy scaled to zero sleeps (it wakes on the next request)', [], 0, 'UNHEALTHY', 'SLEEPING', /Scaled to zero/],
    ['not running: untouched', [inst('HEALTHY')], 1, 'STOPPING', 'STOPPING', /^$/],
    ['not running: untouched (pending)', [], 1, 'PENDING', 'PENDING', /^$/],
  ];
  for (const [label, instances, desired, current, status, message] of rows) {
    const up = rollupRegionalDeployment(instances, desired, current);
    assert.equal(up.status, status, label);
    assert.match(up.messages.join(' | '), message, label);
  }
});

const reg = (region: string, status: RegionalDeploymentStatus, message = '') => ({ region, status, messages: message ? [message] : [] });

test('deployment roll-up from regional deployments', () => {
  const rows: [string, ReturnType<typeof reg>[], DeploymentStatus, DeploymentStatus, RegExp][] = [
    ['all healthy', [reg('fra', 'HEALTHY'), reg('was', 'HEALTHY')], 'STARTING', 'HEALTHY', /^Healthy in fra, was\.$/],
    ['one region down', [reg('fra', 'HEALTHY'), reg('was', 'UNHEALTHY', 'No healthy instance: boom')], 'HEALTHY', 'DEGRADED', /^was: No healthy instance: boom$/],
    ['one region degraded', [reg('fra', 'HEALTHY'), reg('was', 'DEGRADED', '1 of 2 instances healthy')], 'HEALTHY', 'DEGRADED', /was: 1 of 2/],
    ['all down', [reg('fra', 'UNHEALTHY', 'x'), reg('was', 'ERROR', 'y')], 'STARTING', 'UNHEALTHY', /fra: x \| was: y/],
    ['starting', [reg('fra', 'STARTING'), reg('was', 'HEALTHY')], 'ALLOCATING', 'STARTING', /./],
    ['allocating', [reg('fra', 'ALLOCATING'), reg('was', 'ALLOCATING')], 'ALLOCATING', 'ALLOCATING', /./],
    ['healthy while a region wakes', [reg('fra', 'STARTING'), reg('was', 'HEALTHY')], 'HEALTHY', 'HEALTHY', /fra/],
    ['all asleep', [reg('fra', 'SLEEPING'), reg('was', 'SLEEPING')], 'HEALTHY', 'SLEEPING', /./],
    ['half asleep still serves', [reg('fra', 'SLEEPING'), reg('was', 'HEALTHY')], 'HEALTHY', 'HEALTHY', /./],
    ['waking', [reg('fra', 'STARTING')], 'SLEEPING', 'STARTING', /./],
    ['no backwards move to STARTING', [reg('fra', 'STARTING')], 'UNHEALTHY', 'UNHEALTHY', /./],
    ['not running: untouched', [reg('fra', 'HEALTHY')], 'PROVISIONING', 'PROVISIONING', /^$/],
    ['no regions: untouched', [], 'STARTING', 'STARTING', /^$/],
  ];
  for (const [label, regionals, current, status, message] of rows) {
    const up = rollupDeployment(regionals, current);
    assert.equal(up.status, status, label);
    assert.match(up.messages.join(' | '), message, label);
  }
});

const dep = (status: DeploymentStatus, message = '') => ({ status, messages: message ? [message] : [] });
const latest = (status: DeploymentStatus, message = '') => ({ id: 'dep-2', status, messages: message ? [message] : [] });

test('service roll-up from its active and latest deployments', () => {
  type In = Parameters<typeof rollupService>[0];
  const rows: [string, In, ServiceStatus, RegExp][] = [
    ['first deployment in progress', { current: 'STARTING', latest: latest('PROVISIONING') }, 'STARTING', /Deployment dep-2 is in progress/],
    ['first deployment healthy before promotion', { current: 'STARTING', latest: latest('HEALTHY') }, 'HEALTHY', /healthy/],
    ['first deployment failed', { current: 'STARTING', latest: latest('ERROR', 'build failed: exit 1') }, 'UNHEALTHY', /^Deployment dep-2 failed: build failed: exit 1$/],
    ['first deployment canceled', { current: 'STARTING', latest: latest('CANCELED') }, 'UNHEALTHY', /No deployment can serve requests: deployment dep-2 is canceled/],
    ['healthy', { current: 'STARTING', active: dep('HEALTHY') }, 'HEALTHY', /Service is healthy/],
    ['healthy while the next one rolls out', { current: 'HEALTHY', active: dep('HEALTHY'), latest: latest('STARTING') }, 'HEALTHY', /dep-2 is in progress; traffic goes to the active deployment/],
    ['latest failed: degraded, old one serves', { current: 'HEALTHY', active: dep('HEALTHY'), latest: latest('ERROR', 'not healthy within 300 s') }, 'DEGRADED',
      /^Deployment dep-2 failed: not healthy within 300 s\. Traffic still goes to the previous deployment\.$/],
    ['latest erroring counts as failed', { current: 'HEALTHY', active: dep('HEALTHY'), latest: latest('ERRORING', 'x') }, 'DEGRADED', /dep-2 failed/],
    ['active degraded', { current: 'HEALTHY', active: dep('DEGRADED', '1 of 2 instances healthy') }, 'DEGRADED', /active deployment is degraded: 1 of 2/],
    ['active sleeping is healthy', { current: 'HEALTHY', active: dep('SLEEPING') }, 'HEALTHY', /healthy/],
    ['active unhealthy', { current: 'HEALTHY', active: dep('UNHEALTHY', 'No healthy instance: boom') }, 'UNHEALTHY', /No deployment can serve requests: No healthy instance: boom/],
    ['active unhealthy, latest in progress', { current: 'UNHEALTHY', active: dep('UNHEALTHY', 'x'), latest: latest('STARTING') }, 'UNHEALTHY', /No deployment can serve/],
    ['recovers', { current: 'DEGRADED', active: dep('HEALTHY') }, 'HEALTHY', /healthy/],
    ['retry after a failed first deployment', { current: 'UNHEALTHY', latest: latest('PENDING') }, 'STARTING', /in progress/],
    ['resuming stays resuming while in progress', { current: 'RESUMING', latest: latest('ALLOCATING') }, 'RESUMING', /in progress/],
    ['resumed', { current: 'RESUMING', active: dep('HEALTHY') }, 'HEALTHY', /healthy/],
    // The paused deployment stays active (STOPPED) until the resumed one takes over: resuming, not unhealthy.
    ['resuming over the stopped deployment', { current: 'RESUMING', active: dep('STOPPED'), latest: latest('PROVISIONING') }, 'RESUMING', /dep-2 is in progress/],
    ['resume failed', { current: 'RESUMING', active: dep('STOPPED'), latest: latest('ERROR', 'exit 1') }, 'UNHEALTHY', /dep-2 failed: exit 1/],
    ['no deployment at all', { current: 'STARTING' }, 'STARTING', /^$/],
    ['no backwards move to STARTING', { current: 'HEALTHY', latest: latest('STARTING') }, 'HEALTHY', /in progress/],
    ['pausing while a deployment runs', { current: 'HEALTHY', active: dep('STOPPING'), pausing: true }, 'PAUSING', /pausing/],
    ['paused once everything stopped', { current: 'PAUSING', active: dep('STOPPED'), pausing: true }, 'PAUSED', /all deployments are stopped/],
    ['paused stays paused', { current: 'PAUSED', active: dep('STOPPED') }, 'PAUSED', /^$/],
    ['deleting', { current: 'HEALTHY', active: dep('HEALTHY'), deleting: true }, 'DELETING', /being deleted/],
    ['deleted is final', { current: 'DELETED', deleting: true }, 'DELETED', /^$/],
  ];
  for (const [label, input, status, message] of rows) {
    const up = rollupService(input);
    assert.equal(up.status, status, label);
    assert.match(up.messages.join(' | '), message, label);
  }
});

test('app roll-up from its services', () => {
  const s = (...statuses: ServiceStatus[]) => statuses.map((status) => ({ status }));
  const rows: [ServiceStatus[], ServiceStatus, RegExp][] = [
    [[], 'HEALTHY', /no services/],
    [['HEALTHY', 'HEALTHY'], 'HEALTHY', /2 of 2 running services healthy/],
    [['HEALTHY', 'UNHEALTHY'], 'DEGRADED', /1 of 2/],
    [['UNHEALTHY', 'UNHEALTHY'], 'UNHEALTHY', /0 of 2/],
    [['UNHEALTHY', 'DEGRADED'], 'DEGRADED', /./],
    [['HEALTHY', 'DEGRADED'], 'DEGRADED', /./],
    [['HEALTHY', 'STARTING'], 'HEALTHY', /1 of 2/],
    [['STARTING', 'STARTING'], 'STARTING', /starting/],
    [['RESUMING'], 'RESUMING', /resuming/],
    [['PAUSED', 'PAUSED'], 'PAUSED', /paused/],
    [['PAUSED', 'PAUSING'], 'PAUSING', /pausing/],
    [['PAUSED', 'HEALTHY'], 'HEALTHY', /1 of 1/],
    [['DELETING'], 'HEALTHY', /being deleted/], // deleting the last service is not deleting the app
    [['DELETED', 'HEALTHY'], 'HEALTHY', /1 of 1/],
  ];
  for (const [statuses, status, message] of rows) {
    const up = rollupApp(s(...statuses));
    assert.equal(up.status, status, statuses.join(','));
    assert.match(up.messages.join(' '), message, statuses.join(','));
  }
});

test('rollupService: an active deployment waking from sleep keeps the service HEALTHY', () => {
  const r = rollupService({ current: 'HEALTHY', active: { status: 'STARTING', messages: [] } });
  assert.equal(r.status, 'HEALTHY');
  assert.match(r.messages[0] ?? '', /waking up/);
  // A newer deployment that is starting while nothing serves is still reported as starting, not healthy.
  const fresh = rollupService({ current: 'STARTING', latest: { id: 'd2', status: 'STARTING', messages: [] } });
  assert.equal(fresh.status, 'STARTING');
});
