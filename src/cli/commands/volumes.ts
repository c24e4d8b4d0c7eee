// `pier volumes` (vol, volume) and `pier snapshots` (snapshot) as the koyeb CLI has them (issue #20): a volume is a
// sized filesystem in one region that one service's instance mounts (`--volumes NAME:/path` on service create/update);
// a snapshot is a copy of one, restored with `volumes create NAME --snapshot SNAPSHOT`.
import type { PersistentVolume, Snapshot } from '../../domain/volumes.ts';
import type { ApiClient } from '../client.ts';
import type { Command, Ctx } from '../command.ts';
import { CliError } from '../errors.ts';
import { age, printList, printRaw, renderKeyValues, renderTable, shortId } from '../output.ts';
import { isUuid } from '../resolve.ts';

/** A volume id from a UUID, an 8-character short id or a name. */
export async function resolveVolume(client: ApiClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  return pickOne('volume', ref, await client.listAll<PersistentVolume>('/v1/volumes', 'volumes'));
}

/** `--volumes` values with each volume name replaced by its id (`NAME:/path` → `ID:/path`, `!NAME` → `!ID`). */
export async function resolveVolumeFlags(client: ApiClient, values: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const v of values) {
    const del = v.startsWith('!');
    const body = del ? v.slice(1) : v;
    const i = body.indexOf(':');
    const ref = del || i < 0 ? body : body.slice(0, i);
    if (!ref) { out.push(v); continue; } // the pure parser reports the bad value
    const id = await resolveVolume(client, ref);
    out.push(del ? `!${id}` : `${id}${i < 0 ? '' : body.slice(i)}`);
  }
  return out;
}

async function resolveSnapshot(client: ApiClient, ref: string): Promise<string> {
  if (isUuid(ref)) return ref;
  return pickOne('snapshot', ref, await client.listAll<Snapshot>('/v1/snapshots', 'snapshots'));
}

function pickOne(kind: string, ref: string, items: { id: string; name: string }[]): string {
  const byName = items.filter((i) => i.name === ref);
  const found = byName.length ? byName : ref.length >= 8 ? items.filter((i) => i.id.startsWith(ref.toLowerCase())) : [];
  if (found.length === 1) return found[0]!.id;
  if (found.length > 1) throw new CliError(`"${ref}" matches ${found.length} ${kind}s; use a full id`);
  throw new CliError(`${kind} not found: ${ref}`);
}

const short = (s: string) => s.replace(/^PERSISTENT_VOLUME_STATUS_|^SNAPSHOT_STATUS_/, '');
const gb = (n: number) => `${n} GB`;

const VOLUME_HEADERS = ['ID', 'NAME', 'REGION', 'STATUS', 'SIZE', 'USED', 'SERVICE', 'CREATED AT'];
function volumeRow(ctx: Ctx, v: PersistentVolume): string[] {
  const used = v.total_bytes ? `${Math.round((100 * v.used_bytes) / v.total_bytes)}%` : '-';
  return [shortId(v.id, ctx.full), v.name, v.region, short(v.status), gb(v.max_size), used, v.service_id ? shortId(v.service_id, ctx.full) : '-', age(v.created_at, ctx.io.now())];
}

const SNAPSHOT_HEADERS = ['ID', 'NAME', 'REGION', 'STATUS', 'SIZE', 'VOLUME', 'CREATED AT'];
function snapshotRow(ctx: Ctx, s: Snapshot): string[] {
  return [shortId(s.id, ctx.full), s.name, s.region, short(s.status), gb(s.size), shortId(s.parent_volume_id, ctx.full), age(s.created_at, ctx.io.now())];
}

function printVolume(ctx: Ctx, reply: { volume: PersistentVolume }): void {
  if (!printRaw(ctx, reply)) ctx.out(renderTable(VOLUME_HEADERS, [volumeRow(ctx, reply.volume)]));
}

function printSnapshot(ctx: Ctx, reply: { snapshot: Snapshot }): void {
  if (!printRaw(ctx, reply)) ctx.out(renderTable(SNAPSHOT_HEADERS, [snapshotRow(ctx, reply.snapshot)]));
}

/** The `volumes` command group. */
export const volumesCommand: Command = {
  name: 'volumes',
  aliases: ['vol', 'volume'],
  summary: 'Manage persistent volumes',
  subcommands: [
    {
      name: 'create', summary: 'Create a volume (empty, or a copy of a snapshot)', usage: 'NAME', args: [1, 1],
      flags: [
        { name: 'region', kind: 'string', placeholder: 'REGION', help: 'Region of the volume (its instances run there)', defaultText: 'was' },
        { name: 'size', kind: 'int', placeholder: 'GB', help: 'Size in GB (writes past it fail with ENOSPC)', defaultText: '10, or the snapshot\'s size' },
        { name: 'snapshot', kind: 'string', placeholder: 'SNAPSHOT', help: 'Create the volume from this snapshot (name or id)' },
        { name: 'read-only', kind: 'bool', help: 'Instances mount it read-only: reads work, writes fail with EROFS (fixed at creation)' },
      ],
      examples: ['pier volumes create data --region was --size 1', 'pier volumes create restored --snapshot nightly'],
      run: async (ctx) => {
        const client = ctx.client();
        const snapshot = ctx.args.str('snapshot');
        const body: Record<string, unknown> = {
          name: ctx.args.positionals[0], region: ctx.args.str('region') ?? 'was', volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK',
        };
        const size = ctx.args.int('size');
        if (size !== undefined) body.max_size = size;
        else if (!snapshot) body.max_size = 10;
        if (snapshot) body.snapshot_id = await resolveSnapshot(client, snapshot);
        if (ctx.args.bool('read-only')) body.read_only = true;
        printVolume(ctx, await client.post<{ volume: PersistentVolume }>('/v1/volumes', body));
        return 0;
      },
    },
    {
      name: 'update', summary: 'Rename a volume or grow it', usage: 'NAME', args: [1, 1],
      flags: [
        { name: 'name', kind: 'string', placeholder: 'NAME', help: 'New name' },
        { name: 'size', kind: 'int', placeholder: 'GB', help: 'New size in GB (only grows)' },
      ],
      run: async (ctx) => {
        const client = ctx.client();
        const id = await resolveVolume(client, ctx.args.positionals[0]!);
        const body: Record<string, unknown> = {};
        if (ctx.args.str('name') !== undefined) body.name = ctx.args.str('name');
        if (ctx.args.int('size') !== undefined) body.max_size = ctx.args.int('size');
        printVolume(ctx, await client.post<{ volume: PersistentVolume }>(`/v1/volumes/${id}`, body));
        return 0;
      },
    },
    {
      name: 'get', summary: 'Show a volume', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const client = ctx.client();
        const reply = await client.get<{ volume: PersistentVolume }>(`/v1/volumes/${await resolveVolume(client, ctx.args.positionals[0]!)}`);
        if (printRaw(ctx, reply)) return 0;
        const v = reply.volume;
        ctx.out(renderKeyValues([
          ['ID', v.id], ['Name', v.name], ['Region', v.region], ['Status', v.status], ['Size', gb(v.max_size)],
          ['Used', `${v.used_bytes} of ${v.total_bytes} bytes`], ['Service', v.service_id || '-'], ['Snapshot', v.snapshot_id || '-'],
          ['Messages', (v.messages ?? []).join('; ') || '-'], ['Created', `${v.created_at} (${age(v.created_at, ctx.io.now())})`],
        ]));
        return 0;
      },
    },
    {
      name: 'list', summary: 'List volumes',
      run: async (ctx) => {
        const volumes = await ctx.client().listAll<PersistentVolume>('/v1/volumes', 'volumes');
        printList(ctx, { volumes, count: volumes.length }, volumes, VOLUME_HEADERS, (v) => volumeRow(ctx, v));
        return 0;
      },
    },
    {
      name: 'delete', summary: 'Delete a volume and its data (refused while a service uses it)', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const client = ctx.client();
        const reply = await client.request<{ volume: PersistentVolume }>('DELETE', `/v1/volumes/${await resolveVolume(client, ctx.args.positionals[0]!)}`);
        if (!printRaw(ctx, reply)) ctx.out(`Volume ${ctx.args.positionals[0]} is being deleted.`);
        return 0;
      },
    },
  ],
};

/** The `snapshots` command group. */
export const snapshotsCommand: Command = {
  name: 'snapshots',
  aliases: ['snapshot'],
  summary: 'Manage volume snapshots',
  subcommands: [
    {
      name: 'create', summary: 'Copy a volume into a snapshot', usage: 'NAME VOLUME', args: [2, 2],
      examples: ['pier snapshots create nightly data'],
      run: async (ctx) => {
        const client = ctx.client();
        const [name, volume] = ctx.args.positionals as [string, string];
        printSnapshot(ctx, await client.post<{ snapshot: Snapshot }>('/v1/snapshots', { name, parent_volume_id: await resolveVolume(client, volume) }));
        return 0;
      },
    },
    {
      name: 'update', summary: 'Rename a snapshot', usage: 'NAME', args: [1, 1],
      flags: [{ name: 'name', kind: 'string', placeholder: 'NAME', help: 'New name' }],
      run: async (ctx) => {
        const client = ctx.client();
        const id = await resolveSnapshot(client, ctx.args.positionals[0]!);
        printSnapshot(ctx, await client.post<{ snapshot: Snapshot }>(`/v1/snapshots/${id}`, { name: ctx.args.str('name') }));
        return 0;
      },
    },
    {
      name: 'get', summary: 'Show a snapshot', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const client = ctx.client();
        printSnapshot(ctx, await client.get<{ snapshot: Snapshot }>(`/v1/snapshots/${await resolveSnapshot(client, ctx.args.positionals[0]!)}`));
        return 0;
      },
    },
    {
      name: 'list', summary: 'List snapshots',
      run: async (ctx) => {
        const snapshots = await ctx.client().listAll<Snapshot>('/v1/snapshots', 'snapshots');
        printList(ctx, { snapshots, count: snapshots.length }, snapshots, SNAPSHOT_HEADERS, (s) => snapshotRow(ctx, s));
        return 0;
      },
    },
    {
      name: 'delete', summary: 'Delete a snapshot (volumes restored from it keep their data)', usage: 'NAME', args: [1, 1],
      run: async (ctx) => {
        const client = ctx.client();
        const reply = await client.request<{ snapshot: Snapshot }>('DELETE', `/v1/snapshots/${await resolveSnapshot(client, ctx.args.positionals[0]!)}`);
        if (!printRaw(ctx, reply)) ctx.out(`Snapshot ${ctx.args.positionals[0]} is being deleted.`);
        return 0;
      },
    },
  ],
};
