// Form building blocks whose inputs carry the API path they edit (data-field), so reading the form and placing
// the API's 400 field errors use the same addresses.
import { h, replace } from '../dom.js';
import { collectEntries, matchFieldPath } from '../lib/paths.js';
import { errorText, notice } from '../ui.js';

let nextId = 0;
/** A unique element id. */
export function uid(prefix = 'f') {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

/**
 * An input bound to an API path. kind: text | number | bool | list | lines | raw | check.
 * `options` turns it into a <select> ([value, label] pairs); `multiline` into a <textarea>.
 */
export function input(field, { kind = 'text', value, options, multiline, ...attrs } = {}) {
  const id = attrs.id ?? uid();
  let el;
  if (options) {
    el = h('select', { ...attrs, id }, options.map(([v, label]) => h('option', { value: v, selected: String(value ?? '') === String(v) }, label)));
  } else if (multiline) {
    el = h('textarea', { rows: 3, spellcheck: 'false', ...attrs, id });
    el.value = Array.isArray(value) ? value.join('\n') : value ?? '';
  } else if (kind === 'bool' || kind === 'check') {
    el = h('input', { type: 'checkbox', ...attrs, id, checked: kind === 'bool' ? Boolean(value) : attrs.checked });
    // A 'check' input contributes its value when ticked (a region id, a service type).
    if (kind === 'check' && value !== undefined) el.value = String(value);
  } else {
    el = h('input', { type: kind === 'number' ? 'number' : 'text', autocomplete: 'off', spellcheck: 'false', ...attrs, id });
    el.value = value === undefined || value === null ? '' : Array.isArray(value) ? value.join(', ') : String(value);
  }
  if (field) el.dataset.field = field;
  el.dataset.kind = kind;
  return el;
}

/** A labelled field wrapper; `hint` is a short help line. */
export function field(label, control, hint) {
  const hintEl = hint ? h('span', { class: 'hint', id: uid('h') }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  if (control.type === 'checkbox') {
    return h('div', { class: 'field field-check' }, control, h('label', { for: control.id }, label), hintEl);
  }
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

/**
 * A repeatable list of rows for one array of the definition (ports, routes, env...).
 * `renderRow(values, path)` returns the row's fields for item path "prefix[i]". Removing a row renumbers the rest.
 */
export function listEditor({ prefix, title, items = [], renderRow, addLabel, empty = {}, describe }) {
  const rows = h('div', { class: 'list-rows' });
  const fieldset = h('fieldset', { class: 'list', 'data-field': prefix },
    h('legend', null, title),
    describe ? h('p', { class: 'hint' }, describe) : null,
    rows,
    h('button', { type: 'button', class: 'btn btn-small', onclick: () => { add(empty); rows.lastElementChild?.querySelector('input,select,textarea')?.focus(); } }, addLabel ?? `Add ${title.toLowerCase()}`));
  const add = (values) => {
    const row = h('div', { class: 'list-row' });
    const index = rows.children.length;
    replace(row, renderRow(values, `${prefix}[${index}]`),
      h('button', { type: 'button', class: 'btn btn-small btn-ghost remove', 'aria-label': `Remove ${title.toLowerCase()} ${index + 1}`, onclick: () => { row.remove(); renumber(); } }, 'Remove'));
    rows.append(row);
  };
  const renumber = () => {
    const re = new RegExp('^' + prefix.replace(/[.[\]]/g, '\\$&') + '\\[\\d+\\]');
    [...rows.children].forEach((row, i) => {
      for (const el of row.querySelectorAll('[data-field]')) el.dataset.field = el.dataset.field.replace(re, `${prefix}[${i}]`);
      for (const el of row.querySelectorAll('[data-alt-field]')) el.dataset.altField = el.dataset.altField.replace(re, `${prefix}[${i}]`);
      const rm = row.querySelector('.remove');
      if (rm) rm.setAttribute('aria-label', `Remove ${title.toLowerCase()} ${i + 1}`);
    });
  };
  for (const item of items) add(item);
  return fieldset;
}

/** Reads every enabled bound input under `root` into an object (disabled sections are left out). */
export function readForm(root) {
  const entries = [];
  for (const el of root.querySelectorAll('input[data-field], select[data-field], textarea[data-field]')) {
    if (el.matches(':disabled')) continue;
    const kind = el.dataset.kind ?? 'text';
    let value = el.value;
    if (kind === 'bool') value = el.checked;
    else if (kind === 'check') { if (!el.checked) continue; value = el.value; }
    entries.push({ field: el.dataset.field, value, kind: kind === 'check' ? 'text' : kind });
  }
  return collectEntries(entries);
}

/** Clears previous field errors under `root`. */
export function clearFieldErrors(root, summary) {
  for (const el of root.querySelectorAll('.field-error')) el.remove();
  for (const el of root.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  if (summary) replace(summary);
}

/**
 * Shows an API error: each `fields[]` entry next to the input naming its path (or the nearest enclosing
 * section), the rest and the message in `summary`. `prefix` maps e.g. app creation's "name" to "app.name".
 */
export function showFieldErrors(root, summary, err, prefix = '') {
  clearFieldErrors(root, summary);
  const bound = [...root.querySelectorAll('[data-field]:not([data-nomatch])')];
  const byField = new Map();
  for (const el of bound) {
    if (!byField.has(el.dataset.field)) byField.set(el.dataset.field, el);
    if (el.dataset.altField && !byField.has(el.dataset.altField)) byField.set(el.dataset.altField, el);
  }
  const unplaced = [];
  let first;
  for (const f of err.fields ?? []) {
    const path = prefix + f.field;
    const hit = matchFieldPath(path, [...byField.keys()]);
    const el = hit && byField.get(hit);
    if (!el) { unplaced.push(f); continue; }
    const msg = h('p', { class: 'field-error', id: uid('err'), 'data-error-for': f.field }, f.description);
    if (el.tagName === 'FIELDSET') {
      el.querySelector('legend')?.after(msg);
    } else {
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', [el.getAttribute('aria-describedby'), msg.id].filter(Boolean).join(' '));
      (el.closest('.field') ?? el).append(msg);
    }
    const details = el.closest('details');
    if (details) details.open = true;
    first ??= el;
  }
  if (summary) {
    replace(summary, notice('error',
      h('strong', null, err.fields?.length ? 'Please fix the highlighted fields. ' : ''), errorText(err),
      unplaced.length ? h('ul', null, unplaced.map((f) => h('li', null, h('code', null, f.field), ': ', f.description))) : null));
  }
  (first?.matches?.('input,select,textarea') ? first : first?.querySelector('input,select,textarea'))?.focus();
}
