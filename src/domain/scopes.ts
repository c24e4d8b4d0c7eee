// Region scopes on env, scalings and instance types: an item with scopes ["region:fra"] applies in fra only; an item
// without scopes applies everywhere, and a scoped item wins over an unscoped one in its region.

/** The scope string for a region id. */
export function regionScope(region: string): string {
  return `region:${region}`;
}

/** The region id of a `region:<id>` scope, or undefined for any other string. */
export function scopeRegion(scope: string): string | undefined {
  return scope.startsWith('region:') && scope.length > 'region:'.length ? scope.slice('region:'.length) : undefined;
}

/** True when an item with these scopes applies in `region`. */
export function appliesIn(scopes: readonly string[] | undefined, region: string): boolean {
  return !scopes?.length || scopes.includes(regionScope(region));
}

/** The item that applies in `region`: the last one scoped to it, else the last unscoped one. */
export function pickForRegion<T extends { scopes?: string[] }>(items: readonly T[], region: string): T | undefined {
  let unscoped: T | undefined;
  let scoped: T | undefined;
  for (const item of items) {
    if (!item.scopes?.length) unscoped = item;
    else if (item.scopes.includes(regionScope(region))) scoped = item;
  }
  return scoped ?? unscoped;
}
