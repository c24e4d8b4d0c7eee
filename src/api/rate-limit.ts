// Per-token rate limiting: one token bucket per API token, refilled continuously; an empty bucket answers 429.
import type { RateLimitSettings } from '../config.ts';
import { PierError } from '../domain/errors.ts';

/** Bucket size and refill rate; `ratePerSecond <= 0` disables limiting (config.ts reads PIER_API_RATE_LIMIT). */
export type RateLimitOptions = RateLimitSettings;

/** Defaults: generous for the CLI and console, low enough to stop a runaway script hammering the store. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { ratePerSecond: 100, burst: 500 };

interface Bucket { tokens: number; at: number }

/** A set of token buckets keyed by caller (token id); `now` is injectable so tests need no sleeping. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  constructor(readonly opts: RateLimitOptions = DEFAULT_RATE_LIMIT, private readonly now: () => number = () => Date.now()) {}

  /** Takes one request from `key`'s bucket; throws 429 rate_limit_error (with `retryAfter` seconds) when empty. */
  take(key: string): void {
    const { ratePerSecond, burst } = this.opts;
    if (ratePerSecond <= 0) return;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: burst, at: t };
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * ratePerSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (this.buckets.size > 10_000) this.prune(t);
    if (b.tokens < 1) {
      const retryAfter = Math.max(1, Math.ceil((1 - b.tokens) / ratePerSecond));
      throw new RateLimitError(retryAfter);
    }
    b.tokens -= 1;
  }

  /** Forgets full buckets so the map stays bounded by the number of busy tokens. */
  private prune(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.opts.ratePerSecond >= this.opts.burst) this.buckets.delete(k);
    }
  }
}

/** The 429 an empty bucket raises; the server turns `retryAfter` into a Retry-After header. */
export class RateLimitError extends PierError {
  constructor(readonly retryAfter: number) {
    super('rate_limit_error', `Too many requests for this API token; retry in ${retryAfter} s`);
  }
}
