import { test } from 'node:test';
import assert from 'node:assert/strict';
import { autoscaleConfigFromEnv, DEFAULT_AUTOSCALE_CONFIG } from './config.ts';

test('PIER_AUTOSCALE_* override the KPA defaults; bad values name their variable', () => {
  assert.deepEqual(autoscaleConfigFromEnv({}), DEFAULT_AUTOSCALE_CONFIG);
  const c = autoscaleConfigFromEnv({ PIER_AUTOSCALE_STABLE_WINDOW_MS: '6000', PIER_AUTOSCALE_PANIC_WINDOW_MS: '2000', PIER_AUTOSCALE_TICK_MS: '250' });
  assert.deepEqual([c.stableWindowMs, c.panicWindowMs, c.tickMs, c.panicThreshold], [6000, 2000, 250, 2]);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_TICK_MS: 'fast' }), /PIER_AUTOSCALE_TICK_MS/);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_PANIC_WINDOW_MS: '90000' }), /must not exceed the stable window/);
  // The burst window: 250 ms by default, 0 turns it off, never longer than the panic window.
  assert.equal(DEFAULT_AUTOSCALE_CONFIG.burstWindowMs, 250);
  assert.equal(autoscaleConfigFromEnv({ PIER_AUTOSCALE_BURST_WINDOW_MS: '0' }).burstWindowMs, 0);
  assert.equal(autoscaleConfigFromEnv({ PIER_AUTOSCALE_BURST_WINDOW_MS: '500' }).burstWindowMs, 500);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_BURST_WINDOW_MS: '5' }), /PIER_AUTOSCALE_BURST_WINDOW_MS/);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_BURST_WINDOW_MS: '7000' }), /must not exceed the panic window/);
  // Standbys: two frozen spares per autoscaled region by default (fewer where its max leaves less room), 0 turns them off, at most 3.
  assert.equal(DEFAULT_AUTOSCALE_CONFIG.standby, 2);
  assert.equal(autoscaleConfigFromEnv({ PIER_AUTOSCALE_STANDBY: '0' }).standby, 0);
  assert.equal(autoscaleConfigFromEnv({ PIER_AUTOSCALE_STANDBY: '1' }).standby, 1);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_STANDBY: '4' }), /PIER_AUTOSCALE_STANDBY must be a whole number .* from 0 to 3/);
  assert.throws(() => autoscaleConfigFromEnv({ PIER_AUTOSCALE_STANDBY: 'yes' }), /PIER_AUTOSCALE_STANDBY/);
});
