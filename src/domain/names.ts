// Name rules for apps, services and secrets. Names end up in DNS labels (`<app>-<org>.<domain>`,
// `<service>.<app>.internal`) and in env var references, so they are lower-case slugs with bounded length.

const SLUG = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function slug(kind: string, name: unknown, min: number, max: number): string | null {
  const rule = `must be ${min} to ${max} characters: lower-case letters, digits and dashes, starting and ending with a letter or digit`;
  if (typeof name !== 'string' || name === '') return `${kind} name is required and ${rule}`;
  if (name.length < min || name.length > max || !SLUG.test(name)) {
    const hint = /[A-Z]/.test(name) && SLUG.test(name.toLowerCase()) && name.length >= min && name.length <= max
      ? ` (try "${name.toLowerCase()}")`
      : '';
    return `${kind} name "${name}" ${rule}${hint}`;
  }
  return null;
}

/** Why this app name is invalid, or null. 3–23 characters so `<app>-<org>` still fits one 63-byte DNS label. */
export function validateAppName(name: unknown): string | null {
  return slug('app', name, 3, 23);
}

/** Why this service name is invalid, or null. 2–63 characters: one DNS label. */
export function validateServiceName(name: unknown): string | null {
  return slug('service', name, 2, 63);
}

/** Why this secret name is invalid, or null. 2–64 characters. */
export function validateSecretName(name: unknown): string | null {
  return slug('secret', name, 2, 64);
}
