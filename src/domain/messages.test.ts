import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, instanceMessage, summarizeLine } from './messages.ts';

test('instance messages', () => {
  const rows: [string, string][] = [
    [instanceMessage.exited(1, 2000, 'Error: listen EADDRINUSE\n'), 'exited with code 1 after 2 s: Error: listen EADDRINUSE'],
    [instanceMessage.exited(137, 350), 'exited with code 137 after 350 ms'],
    [instanceMessage.exited(0, 185_000, ''), 'exited with code 0 after 3 min 5 s'],
    [instanceMessage.oom(256 * 1024 ** 2), 'killed: out of memory (limit 256 MB)'],
    [instanceMessage.oom(2 * 1024 ** 3), 'killed: out of memory (limit 2 GB)'],
    [instanceMessage.unhealthy('HTTP', 8000, 'GET / returned 500'), 'HTTP health check failed on port 8000: GET / returned 500'],
    [instanceMessage.unhealthy('TCP', 5432, ''), 'TCP health check failed on port 5432.'],
    [instanceMessage.unhealthy({ http: { port: 8000, path: '/' } }, 'GET / returned 500'), 'HTTP health check failed on port 8000: GET / returned 500'],
    [instanceMessage.unhealthy({ tcp: { port: 80 } }, 'connection refused'), 'TCP health check failed on port 80: connection refused'],
    [instanceMessage.starting(), 'Instance is starting... Waiting for health checks to pass.'],
    [instanceMessage.healthy(), 'Instance is healthy. All health checks are passing.'],
    [instanceMessage.stopping('scaled down'), 'Instance is stopping: scaled down.'],
    [instanceMessage.stopped(), 'Instance stopped.'],
    [instanceMessage.allocated(), 'Instance created. Preparing to start...'],
    [instanceMessage.crashLoop(5, 'exited with code 1 after 1 s: boom'), 'Instance keeps crashing (restarted 5 times); last error: exited with code 1 after 1 s: boom'],
    [instanceMessage.crashLoop(1, ''), 'Instance keeps crashing (restarted 1 time); last error: unknown'],
    [instanceMessage.sleeping(300_000), 'Instance is sleeping: no traffic for 5 min. The next request wakes it.'],
    [instanceMessage.startFailed('image not found'), 'Instance failed to start: image not found'],
  ];
  for (const [got, want] of rows) assert.equal(got, want);
});

test('durations, sizes and log lines for messages', () => {
  const durations: [number, string][] = [
    [0, '0 ms'], [999, '999 ms'], [1000, '1 s'], [59_400, '59 s'], [60_000, '1 min'], [3_600_000, '1 h'], [7_800_000, '2 h 10 min'], [-5, '0 ms'], [NaN, '0 ms'],
  ];
  for (const [ms, want] of durations) assert.equal(formatDuration(ms), want, String(ms));
  const sizes: [number, string][] = [[0, '0 B'], [512, '512 B'], [4096, '4 KB'], [512 * 1024 ** 2, '512 MB'], [1.5 * 1024 ** 3, '1.5 GB']];
  for (const [b, want] of sizes) assert.equal(formatBytes(b), want, String(b));
  assert.equal(summarizeLine('\x1b[31mred\x1b[0m\tand\r\n'), 'red and');
  assert.equal(summarizeLine('x'.repeat(500)).length, 200);
  assert.equal(summarizeLine(undefined), '');
});
