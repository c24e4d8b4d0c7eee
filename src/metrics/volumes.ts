// Persistent volume usage in Prometheus text (issue #20): what the volume reconciler measured on its last pass
// (statfs of each mounted filesystem), served on /metrics beside the edge's counters.

/** One volume's last measured usage. */
export interface VolumeUsageRow { id: string; name: string; organization_id: string; region: string; used_bytes: number; total_bytes: number; full: boolean }

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** `pier_volume_used_bytes`, `pier_volume_size_bytes` and `pier_volume_full` per volume; '' when there is none. */
export function renderVolumeMetrics(rows: readonly VolumeUsageRow[]): string {
  if (rows.length === 0) return '';
  const labels = (r: VolumeUsageRow) => `{volume_id="${label(r.id)}",volume="${label(r.name)}",organization_id="${label(r.organization_id)}",region="${label(r.region)}"}`;
  const out = [
    '# HELP pier_volume_used_bytes Bytes in use on a persistent volume (statfs of its filesystem).',
    '# TYPE pier_volume_used_bytes gauge',
    ...rows.map((r) => `pier_volume_used_bytes${labels(r)} ${r.used_bytes}`),
    '# HELP pier_volume_size_bytes The size of a persistent volume\'s filesystem: writes past it fail with ENOSPC.',
    '# TYPE pier_volume_size_bytes gauge',
    ...rows.map((r) => `pier_volume_size_bytes${labels(r)} ${r.total_bytes}`),
    '# HELP pier_volume_full 1 when less than 1 % (at most 8 MiB) of a volume is left.',
    '# TYPE pier_volume_full gauge',
    ...rows.map((r) => `pier_volume_full${labels(r)} ${r.full ? 1 : 0}`),
  ];
  return out.join('\n') + '\n';
}
