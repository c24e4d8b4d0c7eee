// API tokens (credentials): list, create (shown once), revoke. Says clearly when the server lacks the endpoint.
import { api, listAll } from '../api.js';
import { h, replace } from '../dom.js';
import { ago, confirmDialog, errorText, notice, toast } from '../ui.js';
import { showFieldErrors } from './form-kit.js';

/** Renders the API tokens page. */
export async function renderTokens(root) {
  const list = h('div', { 'aria-live': 'polite' });
  const created = h('div', { 'aria-live': 'polite' });
  const summary = h('div');
  const name = h('input', { id: 'token-name', 'data-field': 'name', required: true, autocomplete: 'off' });
  const description = h('input', { id: 'token-description', 'data-field': 'description', autocomplete: 'off' });
  const form = h('form', { class: 'card form-inline', 'aria-label': 'Create API token', onsubmit: create },
    h('h2', null, 'New token'),
    h('div', { class: 'row-fields' },
      h('div', { class: 'field' }, h('label', { for: 'token-name' }, 'Name'), name),
      h('div', { class: 'field' }, h('label', { for: 'token-description' }, 'Description'), description)),
    summary,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create token'));
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'API tokens')),
    h('p', { class: 'muted' }, 'Tokens authenticate the API, the koyeb/pier CLIs and this console. A new token is shown once.'),
    created, form, list));
  await refresh();

  async function refresh() {
    try {
      const creds = await listAll('/v1/credentials', 'credentials');
      draw(creds);
    } catch (err) {
      if (err.status === 501 || err.status === 404) {
        form.hidden = true;
        replace(list, notice('warn', h('strong', null, 'API tokens are not available on this Pier server yet. '), errorText(err)));
        return;
      }
      replace(list, notice('error', errorText(err)));
    }
  }

  function draw(creds) {
    if (creds.length === 0) { replace(list, h('p', { class: 'muted' }, 'No tokens.')); return; }
    replace(list, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Name', 'Description', 'Type', 'Created', 'Expires', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, creds.map((c) => h('tr', { 'data-token': c.name },
        h('td', null, h('strong', null, c.name)),
        h('td', null, c.description ?? ''),
        h('td', null, c.type ?? ''),
        h('td', null, ago(c.created_at)),
        h('td', null, c.expires_at ? ago(c.expires_at) : h('span', { class: 'muted' }, 'never')),
        h('td', null, h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => revoke(c) }, 'Revoke')))))));
  }

  async function create(e) {
    e.preventDefault();
    replace(summary);
    try {
      const reply = await api('POST', '/v1/credentials', { body: { name: name.value.trim(), description: description.value.trim(), type: 'USER' } });
      const token = reply.credential?.token;
      replace(created, notice('ok', h('p', null, `Token ${reply.credential?.name ?? ''} created. Copy it now; it will not be shown again:`),
        h('code', { class: 'token-once', 'data-token-value': '' }, token ?? '(the server did not return a token)')));
      form.reset();
      await refresh();
    } catch (err) {
      showFieldErrors(form, summary, err);
    }
  }

  async function revoke(c) {
    if (!(await confirmDialog(`Revoke token ${c.name}?`, 'Anything using it stops working immediately.', 'Revoke'))) return;
    try { await api('DELETE', `/v1/credentials/${c.id}`); toast(`Revoked ${c.name}`); await refresh(); } catch (err) { toast(errorText(err), 'error'); }
  }
}
