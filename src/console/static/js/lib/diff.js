// Pure fallback diff of two deployment definitions, used when the API's /diff endpoint is unavailable.

/** Flattens nested JSON into "a.b[0].c" → value pairs (leaves only). */
export function flatten(value, prefix = '', out = {}) {
  if (Array.isArray(value)) {
    if (value.length === 0 && prefix) out[prefix] = [];
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
  } else if (value && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0 && prefix) out[prefix] = {};
    for (const k of keys) flatten(value[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}

/** Changes from `before` to `after` as {path, before, after}, sorted by path. */
export function definitionChanges(before, after) {
  const a = flatten(before ?? {});
  const b = flatten(after ?? {});
  const paths = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return paths
    .filter((p) => JSON.stringify(a[p]) !== JSON.stringify(b[p]))
    .map((p) => ({ path: p, before: a[p], after: b[p] }));
}

/** Normalises the API's {changes, lines} (or the local fallback) into display rows {sign, text}. */
export function diffRows(reply) {
  if (Array.isArray(reply?.lines) && reply.lines.length > 0) {
    return reply.lines.map((line) => {
      const text = typeof line === 'string' ? line : JSON.stringify(line);
      const sign = text.startsWith('+') ? '+' : text.startsWith('-') ? '-' : ' ';
      return { sign, text };
    });
  }
  const rows = [];
  for (const c of reply?.changes ?? []) {
    if (typeof c === 'string') { rows.push({ sign: ' ', text: c }); continue; }
    const path = c.path ?? c.field ?? '';
    if (c.before !== undefined) rows.push({ sign: '-', text: `- ${path}: ${JSON.stringify(c.before)}` });
    if (c.after !== undefined) rows.push({ sign: '+', text: `+ ${path}: ${JSON.stringify(c.after)}` });
  }
  return rows;
}
