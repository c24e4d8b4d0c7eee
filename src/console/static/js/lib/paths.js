// Pure helpers that treat API field paths ("definition.ports[0].port") as addresses into objects and form inputs.
// The form's inputs carry the API path they edit, so reading a form and placing a 400's field errors are one idea.

/** Splits "a.b[2].c" or "a.targets[*].x" into ["a", "b", 2, "c"] / ["a", "targets", "*", "x"]. */
export function parsePath(path) {
  const parts = [];
  for (const piece of path.split('.')) {
    const re = /([^[\]]+)|\[(\d+|\*\w*)\]/g;
    let m;
    while ((m = re.exec(piece))) {
      if (m[1] !== undefined) parts.push(m[1]);
      else parts.push(m[2].startsWith('*') ? '*' : Number(m[2]));
    }
  }
  return parts;
}

/**
 * Replaces append markers with concrete indexes against `target`: "[*]" is always a new item, while every
 * field sharing a named marker such as "targets[*rt]" lands in the same new item (a target with two inputs).
 */
export function resolveAppends(target, path, named) {
  let out = '';
  let rest = path;
  const re = /\[\*(\w*)\]/;
  let m;
  while ((m = re.exec(rest))) {
    const prefix = out + rest.slice(0, m.index);
    const key = `${prefix}[*${m[1]}]`;
    let index;
    if (m[1] && named.has(key)) index = named.get(key);
    else {
      const arr = getPath(target, prefix);
      index = Array.isArray(arr) ? arr.length : 0;
      if (m[1]) named.set(key, index);
    }
    out = `${prefix}[${index}]`;
    rest = rest.slice(m.index + m[0].length);
  }
  return out + rest;
}

/** Sets a value at a path, creating objects and arrays; "*" appends a new array item (for optional list entries). */
export function setPath(target, path, value) {
  const parts = parsePath(path);
  let node = target;
  for (let i = 0; i < parts.length; i++) {
    const key = parts[i];
    const last = i === parts.length - 1;
    const nextIsIndex = !last && (typeof parts[i + 1] === 'number' || parts[i + 1] === '*');
    if (key === '*') {
      if (last) { node.push(value); return target; }
      const fresh = nextIsIndex ? [] : {};
      node.push(fresh);
      node = fresh;
      continue;
    }
    if (last) { node[key] = value; return target; }
    if (node[key] === undefined || node[key] === null) node[key] = nextIsIndex ? [] : {};
    node = node[key];
  }
  return target;
}

/** Reads the value at a path, or undefined. */
export function getPath(source, path) {
  let node = source;
  for (const key of parsePath(path)) {
    if (node === undefined || node === null) return undefined;
    node = node[key === '*' ? 0 : key];
  }
  return node;
}

/**
 * Turns form entries into an object. Each entry is {field, value, kind} where kind is
 * "text" | "number" | "bool" | "list" (comma or newline separated) | "lines" (one item per line) | "json".
 * Empty values are skipped so the API applies its own defaults; arrays are compacted so removed rows leave no holes.
 */
export function collectEntries(entries) {
  const out = {};
  const named = new Map();
  for (const { field, value, kind } of entries) {
    const v = coerce(value, kind ?? 'text');
    if (v === undefined) continue;
    setPath(out, resolveAppends(out, field, named), v);
  }
  return compactArrays(out);
}

function coerce(raw, kind) {
  if (kind === 'bool') return raw === true || raw === 'true' || raw === 'on' ? true : undefined;
  if (typeof raw !== 'string') return raw ?? undefined;
  const text = raw.trim();
  // 'keep' marks a field that defines its section (a source's image): sent even blank, so the API names it.
  if (text === '') return kind === 'keep' ? '' : undefined;
  switch (kind) {
    case 'number': {
      const n = Number(text);
      // An unparsable number is sent as-is so the API's validation names the field.
      return Number.isFinite(n) ? n : text;
    }
    case 'list': return text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
    case 'lines': return raw.split('\n').map((s) => s.replace(/\r$/, '')).filter((s) => s.trim() !== '');
    case 'raw': return raw;
    default: return text;
  }
}

function compactArrays(node) {
  if (Array.isArray(node)) return node.filter((x) => x !== undefined).map(compactArrays);
  if (node && typeof node === 'object') {
    for (const k of Object.keys(node)) node[k] = compactArrays(node[k]);
  }
  return node;
}

/** True when an input's field pattern (which may use "[*]") names the given concrete API path. */
export function fieldMatches(pattern, path) {
  if (pattern === path) return true;
  if (!pattern.includes('[*')) return false;
  const source = pattern.split(/\[\*\w*\]/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\[\\d+\\]');
  return new RegExp('^' + source + '$').test(path);
}

/**
 * Finds where to show an API field error: the candidate naming the path exactly, else the nearest
 * candidate naming an ancestor ("definition.scalings[0].targets[3]" falls back to "definition.scalings[0]").
 * Returns undefined when nothing on the form matches, so the caller shows it in the form's summary.
 */
export function matchFieldPath(path, candidates) {
  let current = path;
  while (current) {
    const hit = candidates.find((c) => fieldMatches(c, current));
    if (hit) return hit;
    const cut = Math.max(current.lastIndexOf('.'), current.lastIndexOf('['));
    if (cut <= 0) return undefined;
    current = current.slice(0, cut);
  }
  return undefined;
}
