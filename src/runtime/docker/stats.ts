// Pure reading of one GET /containers/{id}/stats?stream=false answer (cgroup v1 and v2 field names).
import type { InstanceStats } from '../contract.ts';

interface CpuSample { cpu_usage?: { total_usage?: number; percpu_usage?: number[] }; system_cpu_usage?: number; online_cpus?: number }
/** The subset of the engine's stats answer Pier reads. */
export interface DockerStats {
  cpu_stats?: CpuSample;
  precpu_stats?: CpuSample;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number> };
}

/** CPU percent of one core (100 = one full vCPU, like `docker stats`) and memory without reclaimable page cache. */
export function statsFromDocker(s: DockerStats): InstanceStats {
  const cpu = s.cpu_stats ?? {};
  const pre = s.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const sysDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const cpus = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 1;
  const cpuPercent = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const mem = s.memory_stats ?? {};
  const inner = mem.stats ?? {};
  const cache = inner.total_inactive_file ?? inner.inactive_file ?? inner.cache ?? 0;
  const memoryBytes = Math.max(0, (mem.usage ?? 0) - cache);
  return { cpuPercent, memoryBytes, memoryLimitBytes: mem.limit ?? 0 };
}
