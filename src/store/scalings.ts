// Manual scaling overrides (PUT /v1/services/{id}/scale): at most one row per service, applied without a redeploy.
import type { ManualServiceScaling } from '../domain/types.ts';
import type { Db } from './db.ts';
import { nowIso } from './rows.ts';

/** The manual scaling of a service, or undefined when the definition's scaling applies. */
export async function getManualScaling(db: Db, serviceId: string): Promise<ManualServiceScaling[] | undefined> {
  const row = await db.get<{ scalings: string }>('SELECT scalings FROM manual_scalings WHERE service_id = ?', [serviceId]);
  return row ? (JSON.parse(row.scalings) as ManualServiceScaling[]) : undefined;
}

/** Sets (replaces) the manual scaling of a service. */
export async function putManualScaling(
  db: Db, organizationId: string, serviceId: string, scalings: ManualServiceScaling[],
): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.run('DELETE FROM manual_scalings WHERE service_id = ?', [serviceId]);
    await tx.run('INSERT INTO manual_scalings (service_id, organization_id, scalings, updated_at) VALUES (?, ?, ?, ?)', [
      serviceId, organizationId, JSON.stringify(scalings), nowIso(),
    ]);
  });
}

/** Removes the manual scaling of a service; returns whether there was one. */
export async function deleteManualScaling(db: Db, serviceId: string): Promise<boolean> {
  return (await db.run('DELETE FROM manual_scalings WHERE service_id = ?', [serviceId])).changes > 0;
}
