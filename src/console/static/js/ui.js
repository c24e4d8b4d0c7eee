// Shared widgets: status badges, relative times that keep themselves fresh, notices, confirm, polling.
import { h } from './dom.js';
import { relativeTime, statusTone } from './lib/format.js';

/** A status badge showing the API's exact status name. */
export function badge(status) {
  const name = status || 'UNKNOWN';
  return h('span', { class: `badge tone-${statusTone(name)}`, 'data-status': name }, name);
}

/** A <time> showing "3 minutes ago", refreshed by tickTimes(). */
export function ago(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: new Date(iso).toLocaleString(), class: 'rel' }, relativeTime(iso));
}

/** Refreshes every relative time on the page. */
export function tickTimes() {
  for (const el of document.querySelectorAll('time.rel')) el.textContent = relativeTime(el.getAttribute('datetime'));
}

/** An inline notice; kind is info | error | warn | ok. */
export function notice(kind, ...content) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...content);
}

/** A short-lived toast in the corner. */
export function toast(message, kind = 'ok') {
  const host = document.getElementById('toasts');
  if (!host) return;
  const el = h('div', { class: `toast notice-${kind}`, role: 'status' }, message);
  host.append(el);
  setTimeout(() => el.remove(), 4000);
}

/** Describes an API error for a notice, naming its code so users can search for it. */
export function errorText(err) {
  if (!err) return '';
  if (err.status === 501) return `Not implemented by this Pier server yet (501 ${err.code}): ${err.message}`;
  return err.code ? `${err.message} (${err.status || 'network'} ${err.code})` : String(err.message ?? err);
}

/** Asks for confirmation in a modal dialog; resolves true when confirmed. */
export function confirmDialog(title, body, confirmLabel = 'Confirm') {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'dialog', 'aria-label': title },
      h('h2', null, title),
      h('p', null, body),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'btn', onclick: () => dialog.close('cancel') }, 'Cancel'),
        h('button', { type: 'button', class: 'btn btn-danger', 'data-confirm': '', onclick: () => dialog.close('ok') }, confirmLabel)));
    dialog.addEventListener('close', () => { dialog.remove(); resolve(dialog.returnValue === 'ok'); });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/**
 * Runs fn now and then every `ms` while the page lives; never overlaps runs, skips while the tab is hidden.
 * Returns a stop function. Errors are handed to onError so a flaky poll shows, but does not kill, the page.
 */
export function poll(fn, ms, onError) {
  let stopped = false;
  let timer;
  const run = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try { await fn(); } catch (err) { onError?.(err); }
    }
    if (!stopped) timer = setTimeout(run, ms);
  };
  run();
  return () => { stopped = true; clearTimeout(timer); };
}
