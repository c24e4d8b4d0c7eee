// The public host name Pier gives every app: `<app>-<org>.<domain>`, Koyeb's scheme, kept so every URL already
// handed out keeps working. Both names may contain dashes, so two different (app, org) pairs can spell the same
// host (app "victim-b" in org "pier" and app "victim" in org "b-pier"). Rather than change the scheme, a name is
// refused when its host is taken: the API asks `findPublicHostClash` when an app or an organization is created or
// renamed, and answers 409 naming the clash.

/** An app as its host is computed: its name and its organization's name. */
export interface HostOwner { app: string; org: string }

/** The left-most label of an app's public host: `<app>-<org>`, lower-case. */
export function publicHostLabel(o: HostOwner): string {
  return `${o.app}-${o.org}`.toLowerCase();
}

/** The public host of an app under the platform domain (`hello-pier.localhost`). */
export function publicHost(o: HostOwner, domain: string): string {
  return `${publicHostLabel(o)}.${domain.toLowerCase().replace(/\.$/, '')}`;
}

/** True when two different apps would answer at the same public host. The same app never clashes with itself. */
export function publicHostsClash(a: HostOwner, b: HostOwner): boolean {
  const same = a.app.toLowerCase() === b.app.toLowerCase() && a.org.toLowerCase() === b.org.toLowerCase();
  return !same && publicHostLabel(a) === publicHostLabel(b);
}

/** The first of `existing` whose public host `candidate` would take, or undefined. */
export function findPublicHostClash(candidate: HostOwner, existing: Iterable<HostOwner>): HostOwner | undefined {
  for (const e of existing) if (publicHostsClash(candidate, e)) return e;
  return undefined;
}

/** The message of the 409 for a clash: which name to change and why. */
export function publicHostClashMessage(
  candidate: HostOwner, holder: HostOwner, domain: string, changing: 'app' | 'organization' = 'app',
): string {
  return `app ${candidate.app} of organization ${candidate.org} would be served at ${publicHost(candidate, domain)}, `
    + `which is already the host of app ${holder.app} of organization ${holder.org}: choose another ${changing} name`;
}

/**
 * The (app, org) pairs that could spell `label`: every split at a dash. Lets a store find possible holders of a
 * host with one indexed query per split instead of scanning every app.
 */
export function hostOwnersOf(label: string): HostOwner[] {
  const out: HostOwner[] = [];
  for (let i = label.indexOf('-'); i > 0; i = label.indexOf('-', i + 1)) {
    const app = label.slice(0, i);
    const org = label.slice(i + 1);
    if (app !== '' && org !== '') out.push({ app, org });
  }
  return out;
}
