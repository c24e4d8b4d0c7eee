// Decides which region a client is in: the configured request header first, then the address map, then the
// edge's own region. The address lookup is cached per connection by the caller, so it may be slowish.
import { BlockList, isIP, isIPv4 } from 'node:net';
import { REGION_ID } from './remote-traffic.ts';

/** One range of an address map: `cidr` (`address[/bits]`) holds clients of `region`. */
export interface RegionRange { cidr: string; region: string }


/** `address[/bits]` parsed, or a sentence saying what is wrong with it. */
export function parseCidr(cidr: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } | string {
  const parts = cidr.split('/');
  const address = parts[0] ?? '';
  // A zone id (fe80::1%eth0) names an interface of this host, never a client network (and HAProxy would refuse it).
  const v = address.includes('%') ? 0 : isIP(address);
  if (v === 0 || parts.length > 2) return `not an IP range: ${JSON.stringify(cidr)} (write ADDRESS or ADDRESS/BITS, e.g. 10.0.0.0/8)`;
  const max = v === 4 ? 32 : 128;
  const bits = parts[1];
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return `bad prefix length in ${JSON.stringify(cidr)} (0-${max})`;
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return `bad prefix length in ${JSON.stringify(cidr)} (0-${max})`;
  return { address, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/**
 * An address map file: one `CIDR REGION` per line (`10.0.0.0/8 fra`), first match wins, `#` starts a comment.
 * Throws naming `source`, the line and the fix; nothing is taken from a file with a bad line.
 */
export function parseRegionMap(text: string, source: string): RegionRange[] {
  const out: RegionRange[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const where = `${source}:${i + 1}`;
    const words = line.split(/\s+/);
    if (words.length !== 2) throw new Error(`${where}: expected "CIDR REGION" (e.g. "10.0.0.0/8 fra"), got ${JSON.stringify(line)}`);
    const [cidr, region] = words as [string, string];
    const parsed = parseCidr(cidr);
    if (typeof parsed === 'string') throw new Error(`${where}: ${parsed}`);
    if (!REGION_ID.test(region)) throw new Error(`${where}: region ${JSON.stringify(region)} is not a region id (lower-case letters, digits and '-', e.g. fra)`);
    out.push({ cidr, region });
  });
  return out;
}

/** Maps a client address to a region using CIDR ranges, first match wins. */
export class RegionMap {
  private readonly entries: { list: BlockList; region: string }[] = [];

  constructor(map: RegionRange[] = []) {
    for (const { cidr, region } of map) {
      const parsed = parseCidr(cidr);
      if (typeof parsed === 'string') throw new Error(`regionMap: ${parsed}`);
      const list = new BlockList();
      list.addSubnet(parsed.address, parsed.prefix, parsed.family);
      this.entries.push({ list, region });
    }
  }

  /** The region of `address`, or undefined when no range holds it. */
  lookup(address: string | undefined): string | undefined {
    if (!address || this.entries.length === 0) return undefined;
    // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; match them against IPv4 ranges.
    const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : null;
    const addr = v4 ?? address;
    if (isIP(addr) === 0) return undefined;
    const family = v4 || isIPv4(addr) ? 'ipv4' : 'ipv6';
    for (const e of this.entries) if (e.list.check(addr, family)) return e.region;
    return undefined;
  }
}
