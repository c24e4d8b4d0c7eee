// Sign in with an API token: checked against the API once, then kept in localStorage.
import { api, setToken } from '../api.js';
import { h, replace } from '../dom.js';
import { errorText, notice } from '../ui.js';

/** Renders the sign-in page. */
export async function renderSignIn(root, ctx) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false', 'aria-describedby': 'token-help' });
  const status = h('div', { 'aria-live': 'polite' });
  const button = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const form = h('form', { class: 'card signin', onsubmit: submit },
    h('h1', null, 'Sign in to Pier'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'muted small' }, 'Paste a token from `pier tokens create` (or the one printed by `pier up`). It stays in this browser only.'),
    status,
    button);
  replace(root, h('section', { class: 'page page-narrow' }, form));
  input.focus();

  async function submit(event) {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    replace(status);
    try {
      await api('GET', '/v1/apps', { query: { limit: 1 }, token, keepSession: true });
      setToken(token);
      ctx.navigate(ctx.query.next || '/');
    } catch (err) {
      replace(status, notice('error', err.status === 401 ? 'That token was not accepted.' : errorText(err)));
      button.disabled = false;
    }
  }
}
