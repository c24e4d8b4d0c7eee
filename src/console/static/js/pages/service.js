// A service's page: status, public URL, actions, and tabs for overview, deployments, logs, metrics and events.
import { api, pierInfo } from '../api.js';
import { h, replace } from '../dom.js';
import { publicUrl } from '../lib/urls.js';
import { ago, badge, confirmDialog, errorText, notice, poll, toast } from '../ui.js';
import { messages } from './apps.js';
import { drawOverview, stopOverview } from './service-overview.js';
import { deploymentsTab } from './service-deployments.js';
import { logViewer } from './service-logs.js';
import { metricsTab } from './service-metrics.js';
import { eventsTab } from './service-events.js';

const POLL_MS = 3000;
const TABS = [['overview', 'Overview'], ['deployments', 'Deployments'], ['logs', 'Logs'], ['metrics', 'Metrics'], ['events', 'Events']];

/** Renders /services/:id. */
export async function renderService(root, ctx) {
  const id = ctx.params.id;
  const state = { service: null, app: null, deployments: [], instances: [], regionals: [], info: ctx.info };
  if (!state.info?.domain && !state.info?.edge_url) state.info = await pierInfo();
  const header = h('div', { class: 'service-head' });
  const problem = h('div', { 'aria-live': 'polite' });
  const panel = h('div', { class: 'tab-panel', role: 'tabpanel', id: 'tab-panel', tabindex: '0' });
  let tab = TABS.some(([k]) => k === ctx.query.tab) ? ctx.query.tab : 'overview';
  const tabButtons = TABS.map(([key, label]) => h('button', {
    type: 'button', role: 'tab', id: `tab-${key}`, 'aria-controls': 'tab-panel', 'data-tab': key,
    onclick: () => selectTab(key),
    onkeydown: (e) => arrowKeys(e, key),
  }, label));
  replace(root, h('section', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Apps')),
    header, problem,
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Service sections' }, tabButtons),
    panel));

  let tabTeardown = () => {};
  let tabRefresh = () => {};
  ctx.onLeave(() => tabTeardown());

  const stop = poll(refresh, POLL_MS, (err) => {
    if (err.status === 404) { replace(problem, notice('warn', 'This service no longer exists. ', h('a', { href: '#/' }, 'Back to apps'))); return; }
    replace(problem, notice('error', errorText(err)));
  });
  ctx.onLeave(stop);

  async function refresh() {
    const [svc, deps, insts] = await Promise.all([
      api('GET', `/v1/services/${id}`),
      api('GET', '/v1/deployments', { query: { service_id: id, limit: 50 } }),
      api('GET', '/v1/instances', { query: { service_id: id, limit: 100 } }).catch(() => ({ instances: [] })),
    ]);
    state.service = svc.service;
    state.deployments = deps.deployments ?? [];
    state.instances = insts.instances ?? [];
    if (!state.app || state.app.id !== state.service.app_id) {
      state.app = (await api('GET', `/v1/apps/${state.service.app_id}`).catch(() => ({ app: null }))).app;
    }
    const activeId = state.service.active_deployment_id;
    state.regionals = activeId
      ? (await api('GET', '/v1/regional_deployments', { query: { deployment_id: activeId } }).catch(() => ({ regional_deployments: [] }))).regional_deployments ?? []
      : [];
    replace(problem);
    drawHeader();
    if (!panel.dataset.mounted) selectTab(tab);
    else tabRefresh(state);
  }

  function drawHeader() {
    const s = state.service;
    const def = deploymentById(s.active_deployment_id)?.definition ?? deploymentById(s.latest_deployment_id)?.definition;
    const url = publicUrl({ app: state.app, definition: def, info: state.info, organizationName: state.info?.organization_name ?? state.info?.organization?.name });
    const paused = s.status === 'PAUSED' || s.status === 'PAUSING';
    const isPrivate = def && def.type !== 'WORKER' && (def.routes ?? []).length === 0;
    replace(header,
      h('div', { class: 'title-row' },
        h('h1', null, state.app ? h('span', { class: 'muted' }, `${state.app.name} / `) : null, s.name),
        badge(s.status),
        h('span', { class: 'pill' }, isPrivate ? 'PRIVATE' : s.type),
        h('span', { class: 'muted small' }, 'updated ', ago(s.updated_at))),
      messages(s.messages),
      h('p', { class: 'public-url' },
        url ? ['Public URL: ', h('a', { href: url, target: '_blank', rel: 'noopener', 'data-public-url': '' }, url)]
          : h('span', { class: 'muted' }, def?.type === 'WORKER' ? 'Worker: no public URL.' : isPrivate ? 'Private service: reachable only from other services.' : 'Public URL unavailable until the first deployment.')),
      h('div', { class: 'actions' },
        h('a', { class: 'btn', href: `#/services/${s.id}/edit` }, 'Edit'),
        h('button', { type: 'button', class: 'btn', onclick: redeploy }, 'Redeploy'),
        paused
          ? h('button', { type: 'button', class: 'btn', onclick: () => action('resume', 'Resuming') }, 'Resume')
          : h('button', { type: 'button', class: 'btn', onclick: () => action('pause', 'Pausing') }, 'Pause'),
        h('button', { type: 'button', class: 'btn btn-danger', onclick: remove }, 'Delete')));
  }

  function deploymentById(depId) {
    return state.deployments.find((d) => d.id === depId);
  }

  function selectTab(key) {
    tab = key;
    for (const b of tabButtons) {
      const on = b.dataset.tab === key;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
    }
    panel.setAttribute('aria-labelledby', `tab-${key}`);
    panel.dataset.mounted = '1';
    tabTeardown();
    tabTeardown = () => {};
    tabRefresh = () => {};
    history.replaceState(null, '', `#/services/${id}?tab=${key}`);
    if (key === 'overview') {
      tabRefresh = (st) => drawOverview(panel, st);
      tabTeardown = () => stopOverview(panel);
      tabRefresh(state);
    } else if (key === 'deployments') {
      const t = deploymentsTab(panel, state, { rollback, redeploy });
      tabRefresh = t.refresh;
    } else if (key === 'logs') {
      const viewer = logViewer({ serviceId: id, type: 'runtime', live: true });
      replace(panel, viewer.el);
      tabTeardown = viewer.stop;
    } else if (key === 'metrics') {
      const m = metricsTab(panel, id);
      tabTeardown = m.stop;
    } else if (key === 'events') {
      tabRefresh = eventsTab(panel, state).refresh;
    }
  }

  function arrowKeys(e, key) {
    const i = TABS.findIndex(([k]) => k === key);
    const next = e.key === 'ArrowRight' ? (i + 1) % TABS.length : e.key === 'ArrowLeft' ? (i - 1 + TABS.length) % TABS.length : -1;
    if (next < 0) return;
    e.preventDefault();
    selectTab(TABS[next][0]);
    tabButtons[next].focus();
  }

  async function action(verb, label) {
    try {
      await api('POST', `/v1/services/${id}/${verb}`);
      toast(`${label} ${state.service.name}`);
      await refresh();
    } catch (err) { toast(errorText(err), 'error'); }
  }

  async function redeploy() {
    try {
      const reply = await api('POST', `/v1/services/${id}/redeploy`, { body: {} });
      toast(`Redeploying${reply.deployment?.version ? ` as v${reply.deployment.version}` : ''}`);
      await refresh();
    } catch (err) { toast(errorText(err), 'error'); }
  }

  async function rollback(dep) {
    const ok = await confirmDialog(`Roll back to v${dep.version}?`, `A new deployment is created from the definition of v${dep.version} (${dep.id.slice(0, 8)}). The current one keeps serving until it is healthy.`, 'Roll back');
    if (!ok) return;
    try {
      const reply = await api('POST', `/v1/services/${id}/redeploy`, { body: { deployment_id: dep.id } });
      toast(`Rolling back to v${dep.version}${reply.deployment?.version ? ` (new v${reply.deployment.version})` : ''}`);
      await refresh();
    } catch (err) { toast(errorText(err), 'error'); }
  }

  async function remove() {
    const s = state.service;
    if (!(await confirmDialog(`Delete ${s.name}?`, 'Its instances are stopped and its deployments deleted. This cannot be undone.', 'Delete service'))) return;
    try {
      await api('DELETE', `/v1/services/${id}`);
      toast(`Deleting ${s.name}`);
      ctx.navigate('/');
    } catch (err) { toast(errorText(err), 'error'); }
  }
}
