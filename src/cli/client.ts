// A thin HTTP client for Pier's Koyeb-compatible v1 API: JSON in and out, API errors as ApiError, and a --debug
// dump that never shows the token.
import { ApiError, CliError, apiErrorCode } from './errors.ts';

/** Query values; arrays become repeated parameters (`?statuses=A&statuses=B`), undefined values are left out. */
export type Query = Record<string, string | number | boolean | string[] | undefined>;

/** Options for one request. */
export interface RequestOptions {
  query?: Query;
  body?: unknown;
}

/** Talks to one API base URL with one token. */
export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly debug: ((line: string) => void) | undefined;

  constructor(baseUrl: string, token: string | undefined, debug?: (line: string) => void) {
    this.baseUrl = baseUrl;
    this.token = token;
    this.debug = debug;
  }

  /** The full URL of a path with its query string. */
  url(path: string, query: Query = {}): string {
    const u = new URL(path, this.baseUrl + '/');
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(item));
    }
    return u.toString();
  }

  /** The token, for the log-tail websocket handshake. */
  bearer(): string | undefined {
    return this.token;
  }

  /** Sends one request and returns the parsed JSON body; throws ApiError for non-2xx replies. */
  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const url = this.url(path, opts.query);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      headers['content-type'] = 'application/json';
    }
    if (this.debug) {
      this.debug(`> ${method} ${url}`);
      if (this.token) this.debug('> authorization: Bearer ***');
      if (body !== undefined) this.debug(`> ${body}`);
    }
    let res: Response;
    try {
      res = await fetch(url, { method, headers, body });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new CliError(`cannot reach the Pier API at ${this.baseUrl} (${why}); is \`pier up\` running? (--url or PIER_URL)`);
    }
    const text = await res.text();
    if (this.debug) {
      this.debug(`< ${res.status} ${res.statusText}`);
      if (text) this.debug(`< ${text}`);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : {};
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw toApiError(res.status, parsed, text);
    if (parsed === undefined) throw new CliError(`the API answered ${method} ${path} with a body that is not JSON`);
    return parsed as T;
  }

  /** GET helper. */
  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  /** POST helper. */
  post<T>(path: string, body: unknown = {}, query?: Query): Promise<T> {
    return this.request<T>('POST', path, { body, query });
  }

  /** Lists every item of a paginated collection (`{<key>: [], count}`), at most `maxItems`. */
  async listAll<T>(path: string, key: string, query: Query = {}, maxItems = 10_000): Promise<T[]> {
    const items: T[] = [];
    const limit = 100;
    for (let offset = 0; items.length < maxItems; offset += limit) {
      const page = await this.get<Record<string, unknown>>(path, { ...query, limit, offset });
      const batch = (page[key] as T[] | undefined) ?? [];
      items.push(...batch);
      const count = typeof page.count === 'number' ? page.count : undefined;
      const hasNext = page.has_next === true || (count !== undefined && offset + batch.length < count);
      if (batch.length < limit && !page.has_next) break;
      if (!hasNext && count !== undefined) break;
      if (batch.length === 0) break;
    }
    return items;
  }
}

function toApiError(status: number, parsed: unknown, text: string): ApiError {
  if (parsed && typeof parsed === 'object') {
    const b = parsed as { code?: unknown; message?: unknown; fields?: unknown; details?: unknown };
    const fields = Array.isArray(b.fields)
      ? b.fields.filter((f): f is { field: string; description: string } => typeof f?.field === 'string')
      : [];
    const code = apiErrorCode(b) ?? String(b.code ?? 'api_error');
    const message = typeof b.message === 'string' && b.message ? b.message : `HTTP ${status}`;
    return new ApiError(status, code, message, fields);
  }
  return new ApiError(status, 'api_error', `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
}
