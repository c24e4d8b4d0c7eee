// The regions and instance types Pier offers, in the wire shapes of Koyeb's catalog endpoints. Pier runs on one
// machine by default, so every region is a label the scheduler honours, not a separate place; instance types are
// the resource limits (CPU, memory, disk) given to each instance.

/** A region, in the wire shape of Koyeb's `RegionListItem`. */
export interface RegionInfo {
  id: string;
  name: string;
  coordinates: string[];
  status: 'AVAILABLE';
  instances: string[];
  datacenters: string[];
  volumes_enabled: boolean;
  scope: 'metropolitan';
}

/** An instance type, in the wire shape of Koyeb's `CatalogInstanceListItem`. */
export interface CatalogInstance {
  id: string;
  description: string;
  vcpu: number;
  vcpu_shares: number;
  memory: string;
  disk: string;
  price_per_second: string;
  price_hourly: string;
  price_monthly: string;
  regions: string[];
  status: 'AVAILABLE';
  require_plan: string[];
  display_name: string;
  aliases: string[];
  type: 'standard' | 'eco' | 'free';
  service_types: string[];
  volumes_enabled: boolean;
  light_sleep_enabled: boolean;
}

/** The region a service runs in when its definition names none (the Koyeb CLI's default). */
export const DEFAULT_REGION = 'was';

/** The instance type a service gets when its definition names none. */
export const DEFAULT_INSTANCE_TYPE = 'nano';

const ALL_REGIONS = ['fra', 'was', 'par', 'sfo', 'sin', 'tyo'];
// Where Koyeb sells eco and free instances; the same restriction keeps definitions portable both ways.
const ECO_REGIONS = ['fra', 'was', 'sin'];
const FREE_REGIONS = ['fra', 'was'];
// Koyeb prices a month as 744 hours (31 days): 0.0036 $/h * 744 = 2.68 $/month for nano.
const HOURS_PER_MONTH = 744;

interface Size { id: string; vcpu: number; memoryMb: number; diskMb: number; hourly: number; kind: CatalogInstance['type'] }

const SIZES: Size[] = [
  { id: 'free', vcpu: 0.1, memoryMb: 512, diskMb: 2048, hourly: 0, kind: 'free' },
  { id: 'nano', vcpu: 0.25, memoryMb: 256, diskMb: 2560, hourly: 0.0036, kind: 'standard' },
  { id: 'micro', vcpu: 0.5, memoryMb: 512, diskMb: 5120, hourly: 0.0072, kind: 'standard' },
  { id: 'small', vcpu: 1, memoryMb: 1024, diskMb: 10240, hourly: 0.0144, kind: 'standard' },
  { id: 'medium', vcpu: 2, memoryMb: 2048, diskMb: 20480, hourly: 0.0288, kind: 'standard' },
  { id: 'large', vcpu: 4, memoryMb: 4096, diskMb: 40960, hourly: 0.0576, kind: 'standard' },
  { id: 'xlarge', vcpu: 8, memoryMb: 8192, diskMb: 81920, hourly: 0.1152, kind: 'standard' },
  { id: '2xlarge', vcpu: 16, memoryMb: 16384, diskMb: 163840, hourly: 0.2304, kind: 'standard' },
  { id: '3xlarge', vcpu: 24, memoryMb: 32768, diskMb: 245760, hourly: 0.4608, kind: 'standard' },
  { id: '4xlarge', vcpu: 32, memoryMb: 65536, diskMb: 327680, hourly: 0.9216, kind: 'standard' },
  { id: '5xlarge', vcpu: 40, memoryMb: 131072, diskMb: 409600, hourly: 1.8432, kind: 'standard' },
  { id: 'eco-nano', vcpu: 0.1, memoryMb: 256, diskMb: 2048, hourly: 1.61 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-micro', vcpu: 0.25, memoryMb: 512, diskMb: 4096, hourly: 2.68 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-small', vcpu: 0.5, memoryMb: 1024, diskMb: 8192, hourly: 5.36 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-medium', vcpu: 1, memoryMb: 2048, diskMb: 16384, hourly: 10.71 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-large', vcpu: 2, memoryMb: 4096, diskMb: 20480, hourly: 21.43 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-xlarge', vcpu: 4, memoryMb: 8192, diskMb: 20480, hourly: 42.85 / HOURS_PER_MONTH, kind: 'eco' },
  { id: 'eco-2xlarge', vcpu: 8, memoryMb: 16384, diskMb: 20480, hourly: 85.71 / HOURS_PER_MONTH, kind: 'eco' },
];

/** Formats a size in MB the way Koyeb's catalog does: whole gigabytes as "1GB", otherwise "256MB". */
export function formatCatalogSize(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024}GB` : `${mb}MB`;
}

/** Prices as decimal strings without float noise ("0.0036", "0.000001"). */
function price(n: number, digits: number): string {
  return n.toFixed(digits).replace(/0+$/, '').replace(/\.$/, '');
}

function toCatalog(s: Size): CatalogInstance {
  const regions = s.kind === 'free' ? FREE_REGIONS : s.kind === 'eco' ? ECO_REGIONS : ALL_REGIONS;
  const label = s.id.replace(/^eco-/, '').replace(/^./, (c) => c.toUpperCase());
  const displayName = s.kind === 'eco' ? `Eco ${label}` : label;
  return {
    id: s.id,
    description: `${s.vcpu} vCPU, ${formatCatalogSize(s.memoryMb)} RAM, ${formatCatalogSize(s.diskMb)} disk`,
    vcpu: Math.max(1, Math.round(s.vcpu)),
    vcpu_shares: s.vcpu,
    memory: formatCatalogSize(s.memoryMb),
    disk: formatCatalogSize(s.diskMb),
    price_per_second: price(s.hourly / 3600, 8),
    price_hourly: price(s.hourly, 5),
    price_monthly: price(s.hourly * HOURS_PER_MONTH, 2),
    regions: [...regions],
    status: 'AVAILABLE',
    require_plan: [],
    display_name: displayName,
    aliases: [],
    type: s.kind,
    // A free instance serves one web service and sleeps when idle; it has no use as a worker (Koyeb's rule).
    service_types: s.kind === 'free' ? ['web'] : ['web', 'worker'],
    // Every instance type mounts volumes (#20): they are host filesystems bound in, whatever the instance's size.
    volumes_enabled: true,
    light_sleep_enabled: s.kind === 'standard',
  };
}

/** Every instance type Pier offers, in catalog order. */
export const INSTANCE_TYPES: CatalogInstance[] = SIZES.map(toCatalog);

const REGION_DETAILS: Record<string, { name: string; coordinates: [string, string]; datacenter: string }> = {
  fra: { name: 'Frankfurt', coordinates: ['50.1109', '8.6821'], datacenter: 'fra1' },
  was: { name: 'Washington, D.C.', coordinates: ['38.9072', '-77.0369'], datacenter: 'was1' },
  par: { name: 'Paris', coordinates: ['48.8566', '2.3522'], datacenter: 'par1' },
  sfo: { name: 'San Francisco', coordinates: ['37.7749', '-122.4194'], datacenter: 'sfo1' },
  sin: { name: 'Singapore', coordinates: ['1.3521', '103.8198'], datacenter: 'sin1' },
  tyo: { name: 'Tokyo', coordinates: ['35.6762', '139.6503'], datacenter: 'tyo1' },
};

/** Every region Pier offers (all on the local node unless the scheduler is told otherwise). */
export const REGIONS: RegionInfo[] = ALL_REGIONS.map((id) => ({
  id,
  name: REGION_DETAILS[id]!.name,
  coordinates: [...REGION_DETAILS[id]!.coordinates],
  status: 'AVAILABLE',
  instances: INSTANCE_TYPES.filter((t) => t.regions.includes(id)).map((t) => t.id),
  datacenters: [REGION_DETAILS[id]!.datacenter],
  // Volumes (#20) live on the host that runs the region's instances; every region of one machine is that host.
  volumes_enabled: true,
  scope: 'metropolitan',
}));

/** The ids of the regions that take persistent volumes. */
export const VOLUME_REGION_IDS: string[] = REGIONS.filter((r) => r.volumes_enabled).map((r) => r.id);

/** The ids of every region, in catalog order. */
export const REGION_IDS: string[] = REGIONS.map((r) => r.id);

/** The region with this id, if Pier offers it. */
export function findRegion(id: string): RegionInfo | undefined {
  return REGIONS.find((r) => r.id === id);
}

/** The instance type with this id or alias, if Pier offers it. */
export function findInstanceType(id: string): CatalogInstance | undefined {
  return INSTANCE_TYPES.find((t) => t.id === id || t.aliases.includes(id));
}

/** Parses a catalog size string ("256MB", "2.5GB") into bytes, using binary units as container limits do. */
export function parseCatalogSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*(MB|GB|TB)$/i.exec(text.trim());
  if (!m) return undefined;
  const power = { MB: 2, GB: 3, TB: 4 }[m[2]!.toUpperCase() as 'MB' | 'GB' | 'TB'];
  return Math.round(Number(m[1]) * 1024 ** power);
}

/** The limits a runtime applies to one instance of this type: CPU in (fractional) cores, memory and disk in bytes. */
export function instanceResources(id: string): { cpu: number; memoryBytes: number; diskBytes: number } | undefined {
  const t = findInstanceType(id);
  if (!t) return undefined;
  return { cpu: t.vcpu_shares, memoryBytes: parseCatalogSize(t.memory)!, diskBytes: parseCatalogSize(t.disk)! };
}
