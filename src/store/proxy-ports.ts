// TCP proxy ports (a service's `proxy_ports`): which public port of the TCP proxy carries which service's port.
import type { Db } from './db.ts';
import { nowIso } from './rows.ts';

/** The public ports the TCP proxy may give out, inclusive. */
export interface ProxyPortRange { first: number; last: number }

/** A reservation: the service's `port` is reached at `public_port`. */
export interface ProxyPortRow { public_port: number; port: number }

/**
 * The public port of each of `ports` for the service: the one it holds already, else the lowest free one of `range`.
 * Returns undefined for a port no public port is left for (nothing reserved for it). Call inside a transaction.
 */
export async function reserveProxyPorts(
  db: Db, o: { organizationId: string; serviceId: string; ports: number[]; range: ProxyPortRange },
): Promise<Map<number, number | undefined>> {
  const out = new Map<number, number | undefined>();
  const held = new Map((await heldBy(db, o.serviceId)).map((r) => [r.port, r.public_port]));
  let taken: Set<number> | undefined;
  for (const port of o.ports) {
    const have = held.get(port);
    if (have !== undefined) { out.set(port, have); continue; }
    taken ??= new Set((await db.all<{ public_port: number }>(
      'SELECT public_port FROM proxy_ports WHERE public_port BETWEEN ? AND ?', [o.range.first, o.range.last],
    )).map((r) => Number(r.public_port)));
    let free: number | undefined;
    for (let p = o.range.first; p <= o.range.last; p++) if (!taken.has(p)) { free = p; break; }
    out.set(port, free);
    if (free === undefined) continue;
    taken.add(free);
    await db.run('INSERT INTO proxy_ports (public_port, organization_id, service_id, port, created_at) VALUES (?, ?, ?, ?, ?)', [
      free, o.organizationId, o.serviceId, port, nowIso(),
    ]);
  }
  return out;
}

/** The service's reservations. */
export async function heldBy(db: Db, serviceId: string): Promise<ProxyPortRow[]> {
  return (await db.all<ProxyPortRow>('SELECT public_port, port FROM proxy_ports WHERE service_id = ? ORDER BY port', [serviceId]))
    .map((r) => ({ public_port: Number(r.public_port), port: Number(r.port) }));
}

/** How many public ports the organization's services hold. */
export async function countProxyPorts(db: Db, organizationId: string): Promise<number> {
  const row = await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM proxy_ports WHERE organization_id = ?', [organizationId]);
  return Number(row?.n ?? 0);
}

/** Releases the service's public ports except those of `keep` (its ports still declared); all with no `keep`. */
export async function releaseProxyPorts(db: Db, serviceId: string, keep: number[] = []): Promise<void> {
  for (const r of await heldBy(db, serviceId)) {
    if (!keep.includes(r.port)) await db.run('DELETE FROM proxy_ports WHERE public_port = ?', [r.public_port]);
  }
}
