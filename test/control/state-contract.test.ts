// The control-state contract, run by the store-backed state (SQLite, as production) and by MemoryState (the double
// the fast control tests use).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeState } from '../../src/control/store-state.ts';
import { insertApp } from '../../src/store/apps.ts';
import { insertDeployment } from '../../src/store/deployments.ts';
import { insertOrganization } from '../../src/store/organizations.ts';
import { insertRegionalDeployment } from '../../src/store/regional-deployments.ts';
import { putManualScaling } from '../../src/store/scalings.ts';
import { insertService } from '../../src/store/services.ts';
import { openStore } from '../../src/store/store.ts';
import { MemoryState } from './memory-state.ts';
import { runControlStateContract } from './state-contract.ts';

runControlStateContract('store state (SQLite)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pier-state-contract-'));
  const store = await openStore({ dataDir: dir });
  const db = store.db;
  return {
    state: storeState(store),
    seed: {
      organization: (name) => insertOrganization(db, name),
      app: (row) => insertApp(db, row),
      service: (row) => insertService(db, row),
      deployment: async (row, regionals) => {
        await insertDeployment(db, row);
        for (const r of regionals) await insertRegionalDeployment(db, r);
      },
      manualScaling: (org, serviceId, count) => putManualScaling(db, org, serviceId, [{ instances: count }]),
    },
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

runControlStateContract('MemoryState', async () => {
  const state = new MemoryState();
  return {
    state,
    seed: {
      organization: async (name) => {
        const now = new Date().toISOString();
        const o = { id: crypto.randomUUID(), name, created_at: now, updated_at: now };
        state.putOrganization(o);
        return o;
      },
      app: async (row) => state.putApp(row),
      service: async (row) => state.putService(row),
      deployment: async (row, regionals) => {
        state.putDeployment(row);
        for (const r of regionals) state.putRegional(r);
      },
      manualScaling: async (_org, serviceId, count) => { state.scalings.set(serviceId, [{ instances: count }]); },
    },
    close: async () => {},
  };
});
