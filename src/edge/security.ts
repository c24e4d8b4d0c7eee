// Route security policies checked at the edge: basic-auth users and API keys. Comparisons are constant-time
// per candidate so a timing probe cannot learn a key prefix.
import { timingSafeEqual } from 'node:crypto';
import type { RouteEntry } from './types.ts';

/** A precomputed check for one route; null when the route is public. */
export interface AccessPolicy {
  /** `www-authenticate` value sent with a 401. */
  challenge: string;
  /** True when the request's `authorization` or `x-api-key` header carries an accepted credential. */
  allows(authorization: string | undefined, apiKey: string | undefined): boolean;
}

/** Build the policy for a route (realm names the app so browsers keep credentials apart). */
export function compilePolicy(route: RouteEntry, realm: string): AccessPolicy | null {
  const basics = (route.basicAuths ?? []).map((b) => Buffer.from('Basic ' + Buffer.from(`${b.username}:${b.password}`).toString('base64')));
  const keys = (route.apiKeys ?? []).map((k) => Buffer.from(k));
  const bearers = keys.map((k) => Buffer.concat([Buffer.from('Bearer '), k]));
  if (basics.length === 0 && keys.length === 0) return null;
  return {
    challenge: basics.length > 0 ? `Basic realm="${realm.replace(/"/g, '')}", charset="UTF-8"` : `Bearer realm="${realm.replace(/"/g, '')}"`,
    allows(auth, key) {
      if (auth !== undefined && (anyEqual(basics, auth) || anyEqual(bearers, auth))) return true;
      return key !== undefined && anyEqual(keys, key);
    },
  };
}

function anyEqual(candidates: Buffer[], value: string): boolean {
  if (candidates.length === 0) return false;
  const v = Buffer.from(value);
  let ok = false;
  for (const c of candidates) if (c.length === v.length && timingSafeEqual(c, v)) ok = true;
  return ok;
}
