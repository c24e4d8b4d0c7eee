// Known secret values are hidden from every log Pier stores or streams. A build or an app rarely prints a secret
// verbatim: it prints it inside a URL (percent-encoded) or an Authorization header or a config blob (base64, where
// the secret may start at any byte, so its encoding takes one of three shapes). Every such form is hidden.

/** Shortest secret redacted at all: shorter values would hide ordinary words. */
export const MIN_SECRET_LENGTH = 4;
/** Shortest encoded form redacted: shorter base64 runs occur by chance in ordinary text. */
const MIN_ENCODED_LENGTH = 6;

/** RFC 3986 strict percent-encoding: everything but unreserved characters (encodeURIComponent leaves !'()* alone). */
function strictPercent(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The base64 runs that appear whenever `bytes` are encoded at byte offset 0, 1 or 2 of a longer input: the output
 * characters that depend on the secret's bytes only (the characters shared with neighbouring bytes are left out).
 * Standard and URL-safe alphabets; padding is never part of a run, so padded and unpadded forms both match.
 */
function base64Runs(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let a = 0; a < 3; a++) {
    const b64 = Buffer.concat([Buffer.alloc(a), bytes]).toString('base64');
    const run = b64.slice(Math.ceil((4 * a) / 3), Math.floor((4 * (a + bytes.length)) / 3));
    out.push(run, run.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return out;
}

/** Every form of `secret` a log may carry: as is, percent-encoded (upper and lower hex, `+` for space), base64. */
export function secretForms(secret: string): string[] {
  if (secret.length < MIN_SECRET_LENGTH) return [];
  const forms = new Set<string>([secret]);
  const encoded = [encodeURIComponent(secret), strictPercent(secret), encodeURI(secret)];
  for (const e of encoded) {
    forms.add(e);
    forms.add(e.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()));
    forms.add(e.replace(/%20/g, '+'));
  }
  for (const run of base64Runs(Buffer.from(secret, 'utf8'))) forms.add(run);
  return [...forms].filter((f) => f === secret || f.length >= MIN_ENCODED_LENGTH);
}

/** A function that hides every form of the given secrets behind `marker`; longest forms are replaced first. */
export function createRedactor(secrets: readonly string[], marker: string): (line: string) => string {
  const forms = [...new Set(secrets.flatMap(secretForms))].sort((a, b) => b.length - a.length);
  if (forms.length === 0) return (line) => line;
  return (line) => {
    let out = line;
    for (const f of forms) if (out.includes(f)) out = out.split(f).join(marker);
    return out;
  };
}
