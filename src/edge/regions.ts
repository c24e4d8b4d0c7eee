// Decides which region a client is in: the configured request header first, then the address map, then the
// edge's own region. The address lookup is cached per connection by the caller, so it may be slowish.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

/** Maps a client address to a region using CIDR ranges, first match wins. */
export class RegionMap {
  private readonly entries: { list: BlockList; region: string }[] = [];

  constructor(map: { cidr: string; region: string }[] = []) {
    for (const { cidr, region } of map) {
      const [addr, bits] = cidr.split('/');
      const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
      if (!family) throw new Error(`regionMap: not an IP range: ${cidr}`);
      const prefix = bits === undefined ? (family === 'ipv4' ? 32 : 128) : Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 'ipv4' ? 32 : 128)) {
        throw new Error(`regionMap: bad prefix length in ${cidr}`);
      }
      const list = new BlockList();
      list.addSubnet(addr, prefix, family);
      this.entries.push({ list, region });
    }
  }

  /** The region of `address`, or undefined when no range holds it. */
  lookup(address: string | undefined): string | undefined {
    if (!address || this.entries.length === 0) return undefined;
    // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; match them against IPv4 ranges.
    const v4 = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : null;
    const addr = v4 ?? address;
    const family = v4 || isIPv4(addr) ? 'ipv4' : 'ipv6';
    for (const e of this.entries) if (e.list.check(addr, family)) return e.region;
    return undefined;
  }
}
