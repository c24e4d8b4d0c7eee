// "Does the custom domain point at its app?": a CNAME to the app's auto-assigned host, or (apex domains, which
// cannot hold a CNAME) the same A/AAAA addresses. Asked of PIER_DNS_RESOLVER when set, else the system resolver.
import { Resolver } from 'node:dns/promises';

/** The result of one DNS check: ok, or what was found instead (shown on the domain). */
export type DnsVerdict = { ok: true } | { ok: false; found: string };

/** Checks that `name` points at `intended`. */
export type DnsCheck = (name: string, intended: string) => Promise<DnsVerdict>;

function codeOf(err: unknown): string {
  return (err as { code?: string })?.code ?? 'ERROR';
}

async function addresses(r: Resolver, name: string): Promise<string[]> {
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

/** A DNS check against `server` (`host:port`, `host`, or undefined for the system's resolvers). */
export function dnsCheck(server?: string, timeoutMs = 3000): DnsCheck {
  const r = new Resolver({ timeout: timeoutMs, tries: 2 });
  if (server) r.setServers([server]);
  const clean = (n: string) => n.toLowerCase().replace(/\.$/, '');
  return async (name, intended) => {
    try {
      let cnames: string[] = [];
      try {
        cnames = (await r.resolveCname(name)).map(clean);
      } catch (err) {
        if (!['ENODATA', 'ENOTFOUND'].includes(codeOf(err))) throw err;
      }
      if (cnames.includes(clean(intended))) return { ok: true };
      if (cnames.length) return { ok: false, found: `${name} has CNAME ${cnames.join(', ')}` };
      const [mine, theirs] = await Promise.all([addresses(r, name), addresses(r, intended)]);
      if (mine.length && theirs.length && mine.every((a) => theirs.includes(a))) return { ok: true };
      return { ok: false, found: mine.length ? `${name} resolves to ${mine.join(', ')}, not to ${intended}` : `no CNAME or address record for ${name}` };
    } catch (err) {
      return { ok: false, found: `the DNS lookup failed (${codeOf(err)})` };
    }
  };
}
