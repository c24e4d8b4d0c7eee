// The process exec chain's argv (pure): the cgroups are joined first, host-side programs never get the tenant's
// environment or command before the sandbox is entered, and every namespace of the instance is entered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXEC_PYTHON, execArgv } from './exec.ts';

test('execArgv: join the cgroups, clear groups, enter every namespace, drop every capability, then the helper', () => {
  const argv = execArgv(4242, ['/sys/fs/cgroup/memory/pier/x/cgroup.procs', '/sys/fs/cgroup/cpu/pier/x/cgroup.procs'],
    { nsenter: '/usr/bin/nsenter', setpriv: '/usr/bin/setpriv' }, { command: ['sh', '-c', 'echo $HOME'], tty: true, size: { cols: 100, rows: 30 } }, ['user:[1]', 'mnt:[2]', 'pid:[3]']);
  assert.deepEqual(argv.slice(0, 3), ['/bin/bash', '--norc', '--noprofile']);
  assert.deepEqual(argv.slice(5, 9), ['pier-exec', '2', '/sys/fs/cgroup/memory/pier/x/cgroup.procs', '/sys/fs/cgroup/cpu/pier/x/cgroup.procs']);
  const nsenter = argv.indexOf('/usr/bin/nsenter');
  assert.deepEqual(argv.slice(nsenter - 3, nsenter), ['/usr/bin/setpriv', '--clear-groups', '--']);
  for (const ns of ['--user', '--mount', '--pid', '--net', '--ipc', '--uts', '--cgroup', '--root', '--wd', '--target=4242']) assert.ok(argv.includes(ns), ns);
  const drop = argv.lastIndexOf('/usr/bin/setpriv');
  assert.ok(drop > nsenter, 'capabilities are dropped inside the namespaces');
  assert.deepEqual(argv.slice(drop + 1, drop + 5), ['--no-new-privs', '--bounding-set=-all', '--inh-caps=-all', '--ambient-caps=-all']);
  const py = argv.indexOf(EXEC_PYTHON);
  assert.ok(py > drop);
  assert.deepEqual(argv.slice(py + 1, py + 3), ['-I', '-S']);
  assert.deepEqual(argv.slice(py + 3, py + 4), ['-c']);
  assert.deepEqual(argv.slice(py + 5), ['1', '100', '30', 'user:[1],mnt:[2],pid:[3]', 'sh', '-c', 'echo $HOME']);
});
