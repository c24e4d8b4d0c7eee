// Deployments tab: history with versions and triggers, redeploy / roll back, and a diff between any two.
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { definitionChanges, diffRows } from '../lib/diff.js';
import { describeTrigger, shortId } from '../lib/format.js';
import { ago, badge, errorText, notice } from '../ui.js';

/** Mounts the deployments tab; returns {refresh(state)} for the page's poll. */
export function deploymentsTab(panel, state, { rollback, redeploy }) {
  const table = h('div');
  const diffHost = h('section', { class: 'card diff', 'aria-live': 'polite', hidden: true });
  let picked = [];
  const compareButton = h('button', { type: 'button', class: 'btn', disabled: true, onclick: () => compare() }, 'Compare selected');
  replace(panel,
    h('div', { class: 'toolbar' },
      h('p', { class: 'muted' }, 'Tick two deployments to compare their definitions.'),
      h('div', { class: 'spacer' }),
      compareButton,
      h('button', { type: 'button', class: 'btn btn-primary', onclick: redeploy }, 'Redeploy latest')),
    diffHost,
    table);
  draw(state);
  return { refresh: draw };

  function draw(st) {
    const s = st.service;
    const deps = [...st.deployments].sort((a, b) => Number(b.version) - Number(a.version) || b.created_at.localeCompare(a.created_at));
    picked = picked.filter((id) => deps.some((d) => d.id === id));
    compareButton.disabled = picked.length !== 2;
    if (deps.length === 0) { replace(table, h('p', { class: 'muted' }, 'No deployments yet.')); return; }
    replace(table, h('table', { class: 'table deployments' },
      h('caption', { class: 'sr-only' }, 'Deployment history'),
      h('thead', null, h('tr', null, ['', 'Version', 'Status', 'Role', 'Trigger', 'Messages', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, deps.map((d) => {
        const box = h('input', { type: 'checkbox', checked: picked.includes(d.id), 'aria-label': `Select v${d.version} to compare`, onchange: (e) => pick(d.id, e.target.checked) });
        const isActive = d.id === s.active_deployment_id;
        return h('tr', { 'data-deployment': d.id, 'data-version': d.version, class: isActive ? 'is-active' : '' },
          h('td', null, box),
          h('td', null, h('strong', null, `v${d.version}`), ' ', h('code', { class: 'muted' }, shortId(d.id))),
          h('td', null, badge(d.status)),
          h('td', null, isActive ? h('span', { class: 'pill pill-ok' }, 'ACTIVE') : d.id === s.latest_deployment_id ? h('span', { class: 'pill' }, 'LATEST') : ''),
          h('td', null, describeTrigger(d)),
          h('td', { class: 'messages-cell' }, (d.messages ?? []).join(' · ')),
          h('td', null, ago(d.created_at)),
          h('td', null, isActive ? null : h('button', { type: 'button', class: 'btn btn-small', onclick: () => rollback(d) }, 'Roll back to this')));
      }))));
  }

  function pick(id, on) {
    picked = picked.filter((x) => x !== id);
    if (on) picked.push(id);
    if (picked.length > 2) picked = picked.slice(-2);
    draw(state);
  }

  async function compare() {
    const [a, b] = picked.map((id) => state.deployments.find((d) => d.id === id)).sort((x, y) => Number(x.version) - Number(y.version));
    diffHost.hidden = false;
    replace(diffHost, h('p', { class: 'muted' }, 'Comparing…'));
    let rows;
    let note = null;
    try {
      const reply = await api('GET', `/v1/deployments/${b.id}/diff`, { query: { against: a.id } });
      rows = diffRows(reply);
    } catch (err) {
      // Older servers lack /diff: compare the stored definitions here instead.
      rows = diffRows({ changes: definitionChanges(a.definition, b.definition) });
      note = notice('info', `Computed in the browser (${errorText(err)}).`);
    }
    replace(diffHost,
      h('h2', null, `Changes from v${a.version} to v${b.version}`),
      note,
      rows.length === 0 ? h('p', { class: 'muted' }, 'The definitions are identical.')
        : h('pre', { class: 'diff-lines' }, rows.map((r) => h('span', { class: r.sign === '+' ? 'add' : r.sign === '-' ? 'del' : '' }, r.text + '\n'))),
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => { diffHost.hidden = true; } }, 'Close'));
  }
}
