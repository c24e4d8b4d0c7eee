// Events tab: what happened to the service, its recent deployments and its instances (status changes with their
// messages, newest first), and who changed it through the API (activities).
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { activityText, timeline } from '../lib/events.js';
import { ago, errorText, notice } from '../ui.js';

/** Deployments whose events are shown: the newest few, plus the active one. */
const DEPLOYMENTS_SHOWN = 5;

/** Mounts the events tab; returns {refresh(state)} for the page's poll. */
export function eventsTab(panel, state) {
  const events = h('div', { 'data-events': '' }, h('p', { class: 'muted' }, 'Loading events…'));
  const activities = h('div', { 'data-activities': '' });
  replace(panel,
    h('h2', { class: 'sr-only' }, 'Events'),
    events,
    h('section', { class: 'form-section' }, h('h2', null, 'Changes through the API'), activities));
  let loading = false;
  refresh(state);
  return { refresh };

  async function refresh(st) {
    if (loading) return;
    loading = true;
    try {
      const s = st.service;
      const recent = [...st.deployments].sort((a, b) => Number(b.version) - Number(a.version)).slice(0, DEPLOYMENTS_SHOWN);
      const depIds = [...new Set([...recent.map((d) => d.id), s.active_deployment_id].filter(Boolean))];
      const instIds = st.instances.map((i) => i.id);
      const [svc, deps, insts, acts] = await Promise.all([
        api('GET', '/v1/service_events', { query: { service_id: s.id, limit: 50 } }),
        Promise.all(depIds.map((id) => api('GET', '/v1/deployment_events', { query: { deployment_id: id, limit: 50 } }))),
        instIds.length ? api('GET', '/v1/instance_events', { query: { instance_ids: instIds, limit: 100 } }) : { events: [] },
        api('GET', '/v1/activities', { query: { object_ids: s.id, limit: 20 } }).catch(() => ({ activities: [] })),
      ]);
      const rows = timeline({
        serviceEvents: svc.events ?? [], deploymentEvents: deps.flatMap((r) => r.events ?? []), instanceEvents: insts.events ?? [],
        deployments: st.deployments,
      });
      replace(events, rows.length === 0 ? h('p', { class: 'muted' }, 'No events yet.') : h('table', { class: 'table events' },
        h('caption', { class: 'sr-only' }, 'Events of the service, its deployments and instances, newest first'),
        h('thead', null, h('tr', null, ['When', 'Of', 'Type', 'Message'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, rows.map((r) => h('tr', { 'data-event': r.id, 'data-level': r.level },
          h('td', { title: r.when }, ago(r.when)),
          h('td', null, r.subject),
          h('td', null, h('code', null, r.type)),
          h('td', { class: 'messages-cell' }, r.message))))));
      const list = acts.activities ?? [];
      replace(activities, list.length === 0 ? h('p', { class: 'muted' }, 'No changes recorded.') : h('ul', { class: 'activities' },
        list.map((a) => h('li', { 'data-activity': a.id }, h('span', null, activityText(a)), ' ', h('span', { class: 'muted small', title: a.created_at }, ago(a.created_at))))));
    } catch (err) {
      replace(events, notice('error', errorText(err)));
    } finally {
      loading = false;
    }
  }
}
