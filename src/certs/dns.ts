// "Does the custom domain point at its app?": a CNAME to the app's auto-assigned host, or (apex domains, which
// cannot hold a CNAME) the same A/AAAA addresses; and "does its TXT challenge hold the claim's token?". Asked of
// PIER_DNS_RESOLVER when set, else the system resolver; tests may hand in their own resolver (the seam below).
import { Resolver } from 'node:dns/promises';

/** The lookups the checks make: node's Resolver, or a test's stand-in. */
export type DnsLookups = Pick<Resolver, 'resolveCname' | 'resolve4' | 'resolve6' | 'resolveTxt'>;

/** The TXT strings of a name (each record's chunks joined), or what went wrong. */
export type TxtLookup = (name: string) => Promise<{ ok: true; values: string[] } | { ok: false; found: string }>;

/**
 * The result of one DNS check: ok (by the CNAME, or by the same addresses: enough for HTTP-01, not for ownership,
 * since every app host resolves to the same edge), or what was found instead (shown on the domain).
 */
export type DnsVerdict = { ok: true; via: 'cname' | 'addresses' } | { ok: false; found: string };

/** Checks that `name` points at `intended`. */
export type DnsCheck = (name: string, intended: string) => Promise<DnsVerdict>;

function codeOf(err: unknown): string {
  return (err as { code?: string })?.code ?? 'ERROR';
}

async function addresses(r: DnsLookups, name: string): Promise<string[]> {
  const out: string[] = [];
  for (const lookup of [r.resolve4.bind(r), r.resolve6.bind(r)]) {
    try {
      out.push(...await lookup(name));
    } catch (err) {
      // No record of that family is an ordinary answer; anything else (timeout, refused) is reported by the caller.
      if (!['ENODATA', 'ENOTFOUND'].includes(codeOf(err))) throw err;
    }
  }
  return out.sort();
}

/** A resolver asking `server` (`host:port`, `host`, or undefined for the system's resolvers). */
export function dnsResolver(server?: string, timeoutMs = 3000): DnsLookups {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);
  return r;
}

/** TXT lookups through `resolver` (no record is an empty list, not an error). */
export function txtLookup(resolver: DnsLookups): TxtLookup {
  return async (name) => {
    try {
      return { ok: true, values: (await resolver.resolveTxt(name)).map((chunks) => chunks.join('')) };
    } catch (err) {
      if (['ENODATA', 'ENOTFOUND'].includes(codeOf(err))) return { ok: true, values: [] };
      return { ok: false, found: `the DNS lookup failed (${codeOf(err)})` };
    }
  };
}

/** A DNS check against `server` (`host:port`, `host`, or undefined for the system's resolvers), or through `resolver`. */
export function dnsCheck(server?: string, timeoutMs = 3000, resolver?: DnsLookups): DnsCheck {
  const r = resolver ?? dnsResolver(server, timeoutMs);
  const clean = (n: string) => n.toLowerCase().replace(/\.$/, '');
  return async (name, intended) => {
    try {
      let cnames: string[] = [];
      try {
        cnames = (await r.resolveCname(name)).map(clean);
      } catch (err) {
        if (!['ENODATA', 'ENOTFOUND'].includes(codeOf(err))) throw err;
      }
      if (cnames.includes(clean(intended))) return { ok: true, via: 'cname' };
      if (cnames.length) return { ok: false, found: `${name} has CNAME ${cnames.join(', ')}` };
      const [mine, theirs] = await Promise.all([addresses(r, name), addresses(r, intended)]);
      if (mine.length && theirs.length && mine.every((a) => theirs.includes(a))) return { ok: true, via: 'addresses' };
      return { ok: false, found: mine.length ? `${name} resolves to ${mine.join(', ')}, not to ${intended}` : `no CNAME or address record for ${name}` };
    } catch (err) {
      return { ok: false, found: `the DNS lookup failed (${codeOf(err)})` };
    }
  };
}
