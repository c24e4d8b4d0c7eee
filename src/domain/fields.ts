// Small readers for untrusted JSON: each one checks a type, records a field error with a fix-it description when
// the value is wrong, and returns a safe fallback so validation can go on and report every problem at once.
import type { FieldError } from './types.ts';

/** Collects field errors in the order they are found. */
export class FieldErrors {
  readonly list: FieldError[] = [];
  /** Records one problem at `field` (a Koyeb-style path such as `definition.ports[0].port`). */
  add(field: string, description: string): void {
    this.list.push({ field, description });
  }
  /** How many problems were recorded so far (lets a caller tell whether a sub-check failed). */
  get count(): number {
    return this.list.length;
  }
}

/** A plain JSON object (not an array, not null). */
export type JsonObject = Record<string, unknown>;

/** True for a plain object. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when a value was not given (undefined or JSON null, which clients send for "unset"). */
export function absent(v: unknown): v is undefined | null {
  return v === undefined || v === null;
}

/** Reads an optional object; a wrong type is an error and yields undefined. */
export function readObject(errors: FieldErrors, v: unknown, path: string): JsonObject | undefined {
  if (absent(v)) return undefined;
  if (!isObject(v)) {
    errors.add(path, 'must be an object');
    return undefined;
  }
  return v;
}

/** Reads an optional array; a wrong type is an error and yields []. */
export function readArray(errors: FieldErrors, v: unknown, path: string): unknown[] {
  if (absent(v)) return [];
  if (!Array.isArray(v)) {
    errors.add(path, 'must be a list');
    return [];
  }
  return v;
}

/** Reads an optional string; a wrong type is an error and yields undefined. */
export function readString(errors: FieldErrors, v: unknown, path: string): string | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'string') {
    errors.add(path, 'must be a string');
    return undefined;
  }
  return v;
}

/** Reads an optional boolean; a wrong type is an error and yields undefined. */
export function readBool(errors: FieldErrors, v: unknown, path: string): boolean | undefined {
  if (absent(v)) return undefined;
  if (typeof v !== 'boolean') {
    errors.add(path, 'must be true or false');
    return undefined;
  }
  return v;
}

/** Reads an optional list of strings; a wrong type is an error and yields undefined. */
export function readStringList(errors: FieldErrors, v: unknown, path: string): string[] | undefined {
  if (absent(v)) return undefined;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
    errors.add(path, 'must be a list of strings');
    return undefined;
  }
  return [...(v as string[])];
}

/**
 * Reads an optional integer within [min, max]. Integer strings ("8000") are accepted because the gRPC gateway
 * Koyeb's clients were written against encodes int64 as strings.
 */
export function readInt(
  errors: FieldErrors, v: unknown, path: string, min: number, max: number, unit = '',
): number | undefined {
  if (absent(v)) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  const suffix = unit ? ` ${unit}` : '';
  if (typeof n !== 'number' || !Number.isInteger(n)) {
    errors.add(path, `must be a whole number between ${min} and ${max}${suffix}`);
    return undefined;
  }
  if (n < min || n > max) {
    errors.add(path, `must be between ${min} and ${max}${suffix}, got ${n}`);
    return undefined;
  }
  return n;
}

/** Reports every key of `obj` that is not in `known` as an unknown field. */
export function rejectUnknown(errors: FieldErrors, obj: JsonObject, known: readonly string[], path: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) errors.add(`${path}.${key}`, `unknown field: remove it (known fields: ${known.join(', ')})`);
  }
}

/** Drops undefined values so canonical objects carry only what is set. */
export function compact<T extends object>(obj: T): T {
  for (const k of Object.keys(obj) as (keyof T)[]) if (obj[k] === undefined) delete obj[k];
  return obj;
}

/** Quotes a value for a message: strings in double quotes, anything else as JSON. */
export function quote(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

/**
 * Records an error when a string (or any string of a list) holds a NUL byte: the kernel cannot pass one in argv
 * or the environment, so it would only fail later, when an instance or a build starts.
 */
export function rejectNul(errors: FieldErrors, v: string | readonly string[] | undefined, path: string, what: string): boolean {
  const list = typeof v === 'string' ? [v] : v ?? [];
  const i = list.findIndex((s) => s.includes('\0'));
  if (i < 0) return false;
  errors.add(typeof v === 'string' ? path : `${path}[${i}]`, `must not contain a NUL character (\\u0000): ${what} cannot carry one`);
  return true;
}
