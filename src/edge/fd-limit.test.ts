import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionBudget } from './fd-limit.ts';

test('the connection budget is a quarter of the open-file limit, at least 256', () => {
  const limits = (soft: string) => `Limit                     Soft Limit           Hard Limit           Units\nMax open files            ${soft}                1048576              files\n`;
  assert.equal(connectionBudget(limits('20000')), 5000);
  assert.equal(connectionBudget(limits('1024')), 256);
  assert.equal(connectionBudget(limits('unlimited')), 262_144);
  assert.equal(connectionBudget('nothing here'), 4096);
  assert.ok(connectionBudget() >= 256, 'this process has a limit');
});
