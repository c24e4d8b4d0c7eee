// Secrets: list, create (simple value or registry credentials), reveal, delete. Values are never shown unasked.
import { api, listAll } from '../api.js';
import { h, replace } from '../dom.js';
import { ago, confirmDialog, errorText, notice, toast } from '../ui.js';
import { showFieldErrors } from './form-kit.js';

const registryKinds = {
  docker_hub_registry: ['username', 'password'],
  private_registry: ['username', 'password', 'url'],
  github_registry: ['username', 'password'],
  gitlab_registry: ['username', 'password'],
  digital_ocean_registry: ['username', 'password'],
};

/** Renders the secrets page. */
export async function renderSecrets(root) {
  const list = h('div', { 'aria-live': 'polite' });
  const formHost = h('div');
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'Secrets')),
    h('p', { class: 'muted' }, 'Reference a secret from a service\'s environment by name; values are injected at start and redacted from logs.'),
    formHost,
    list));
  replace(formHost, createForm());
  await refresh();

  async function refresh() {
    try {
      const secrets = await listAll('/v1/secrets', 'secrets');
      draw(secrets);
    } catch (err) {
      replace(list, notice('error', errorText(err)));
    }
  }

  function draw(secrets) {
    if (secrets.length === 0) { replace(list, h('p', { class: 'muted' }, 'No secrets yet.')); return; }
    replace(list, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Name', 'Type', 'Value', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, secrets.sort((a, b) => a.name.localeCompare(b.name)).map(row))));
  }

  function row(secret) {
    const value = h('code', { class: 'secret-value' }, '••••••••');
    const reveal = h('button', { type: 'button', class: 'btn btn-small', onclick: async () => {
      if (reveal.dataset.shown) { replace(value, '••••••••'); delete reveal.dataset.shown; reveal.textContent = 'Reveal'; return; }
      try {
        const reply = await api('POST', `/v1/secrets/${secret.id}/reveal`, { body: {} });
        const v = reply.value;
        replace(value, typeof v === 'string' ? v : JSON.stringify(v));
        reveal.dataset.shown = '1';
        reveal.textContent = 'Hide';
      } catch (err) { toast(errorText(err), 'error'); }
    } }, 'Reveal');
    return h('tr', { 'data-secret': secret.name },
      h('td', null, h('strong', null, secret.name)),
      h('td', null, secret.type ?? 'SIMPLE'),
      h('td', null, value, ' ', reveal),
      h('td', null, ago(secret.created_at)),
      h('td', null, h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: async () => {
        if (!(await confirmDialog(`Delete secret ${secret.name}?`, 'Services that reference it will fail to deploy until it exists again.', 'Delete secret'))) return;
        try { await api('DELETE', `/v1/secrets/${secret.id}`); toast(`Deleted ${secret.name}`); await refresh(); } catch (err) { toast(errorText(err), 'error'); }
      } }, 'Delete')));
  }

  function createForm() {
    const summary = h('div');
    const type = h('select', { id: 'secret-type', name: 'type' },
      h('option', { value: 'SIMPLE' }, 'Simple value'),
      Object.keys(registryKinds).map((k) => h('option', { value: k }, `Registry: ${k.replace(/_registry$/, '').replace(/_/g, ' ')}`)));
    const extra = h('div', { class: 'row-fields' });
    const drawExtra = () => {
      const kind = type.value;
      replace(extra, kind === 'SIMPLE'
        ? field('Value', h('textarea', { id: 'secret-value', rows: 2, 'data-field': 'value', autocomplete: 'off', spellcheck: 'false' }))
        : registryKinds[kind].map((f) => field(f, h('input', { type: f === 'password' ? 'password' : 'text', 'data-field': `${kind}.${f}`, autocomplete: 'off' }))));
    };
    type.addEventListener('change', drawExtra);
    drawExtra();
    const name = h('input', { id: 'secret-name', 'data-field': 'name', required: true, pattern: '[A-Za-z0-9_\\-\\.]+', autocomplete: 'off' });
    const form = h('form', { class: 'card form-inline', 'aria-label': 'Create secret', onsubmit: async (e) => {
      e.preventDefault();
      replace(summary);
      const body = { name: name.value.trim() };
      if (type.value === 'SIMPLE') {
        body.type = 'SIMPLE';
        body.value = form.querySelector('#secret-value').value;
      } else {
        body.type = 'REGISTRY';
        body[type.value] = Object.fromEntries([...extra.querySelectorAll('[data-field]')].map((i) => [i.dataset.field.split('.')[1], i.value]));
      }
      try {
        await api('POST', '/v1/secrets', { body });
        toast(`Created secret ${body.name}`);
        form.reset();
        drawExtra();
        await refresh();
      } catch (err) {
        showFieldErrors(form, summary, err);
      }
    } },
    h('h2', null, 'New secret'),
    h('div', { class: 'row-fields' }, field('Name', name), field('Type', type)),
    extra,
    summary,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create secret'));
    return form;
  }
}

function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}
