// Overview tab: active and latest deployment (with build stages and a live build log while in progress)
// and the instances of each region.
import { h, replace } from '../dom.js';
import { IN_PROGRESS_DEPLOYMENT, describeTrigger, shortId } from '../lib/format.js';
import { ago, badge } from '../ui.js';
import { logViewer } from './service-logs.js';
import { isFunction } from './definition-sections.js';

// The live build log survives polls: recreating it every 3 s would reconnect the websocket.
const buildLogs = new WeakMap();

/** Draws (or redraws on each poll) the overview into `panel`. */
export function drawOverview(panel, state) {
  const s = state.service;
  const active = state.deployments.find((d) => d.id === s.active_deployment_id);
  const latest = state.deployments.find((d) => d.id === s.latest_deployment_id) ?? state.deployments[0];
  const inProgress = latest && latest.id !== active?.id && IN_PROGRESS_DEPLOYMENT.has(latest.status) ? latest : undefined;
  let live = buildLogs.get(panel);
  if (live && live.deploymentId !== inProgress?.id) { live.viewer.stop(); live = undefined; buildLogs.delete(panel); }
  if (inProgress && !live) {
    live = { deploymentId: inProgress.id, viewer: logViewer({ serviceId: s.id, deploymentId: inProgress.id, type: 'build', live: true, compact: true }) };
    buildLogs.set(panel, live);
  }
  replace(panel,
    h('div', { class: 'grid-2' },
      deploymentCard('Active deployment', active, 'No deployment is serving yet.'),
      latest && latest.id !== active?.id ? deploymentCard('Latest deployment', latest) : null),
    inProgress ? h('section', { class: 'card', 'aria-label': 'Deployment in progress' },
      h('h2', null, `Deploying v${inProgress.version}: `, badge(inProgress.status)),
      stages(inProgress),
      // An image deployment may log nothing at build time: its empty log box is hidden (style.css) until a line comes.
      h('div', { class: `build-log${inProgress.definition?.docker ? ' hide-when-empty' : ''}` }, h('h3', null, 'Build log'), live.viewer.el)) : null,
    instancesCard(state));
}

/** Stops the overview's live build log, if any. */
export function stopOverview(panel) {
  buildLogs.get(panel)?.viewer.stop();
  buildLogs.delete(panel);
}

function deploymentCard(title, d, emptyText) {
  if (!d) return h('section', { class: 'card' }, h('h2', null, title), h('p', { class: 'muted' }, emptyText));
  const def = d.definition ?? {};
  const source = def.docker ? `image ${def.docker.image}` : def.git ? `git ${def.git.repository}${def.git.branch ? '@' + def.git.branch : ''}` : def.archive ? `${isFunction(def) ? 'function' : 'uploaded directory'} (archive ${shortId(def.archive.id)})` : '—';
  return h('section', { class: 'card deployment', 'data-deployment': d.id, 'aria-label': title },
    h('h2', null, title, ' ', h('span', { class: 'muted' }, `v${d.version}`), ' ', badge(d.status)),
    h('dl', { class: 'facts' },
      h('dt', null, 'Id'), h('dd', null, h('code', null, shortId(d.id))),
      h('dt', null, 'Source'), h('dd', null, source),
      d.provisioning_info?.image ? [h('dt', null, 'Image'), h('dd', null, h('code', null, d.provisioning_info.image))] : null,
      h('dt', null, 'Trigger'), h('dd', null, describeTrigger(d)),
      h('dt', null, 'Regions'), h('dd', null, (def.regions ?? []).join(', ') || '—'),
      h('dt', null, 'Instance'), h('dd', null, (def.instance_types ?? []).map((t) => t.type).join(', ') || '—'),
      h('dt', null, 'Scaling'), h('dd', null, (def.scalings ?? []).map((x) => `${x.min}–${x.max}`).join(', ') || '—'),
      // The public endpoint of each TCP proxy port, given at deploy time (metadata.proxy_ports).
      d.metadata?.proxy_ports?.length ? [h('dt', null, 'TCP proxy'), h('dd', null, d.metadata.proxy_ports.map((p) =>
        h('div', { 'data-tcp-proxy': String(p.port) }, h('code', null, `${p.host}:${p.public_port}`), ` → port ${p.port}`)))] : null,
      h('dt', null, 'Created'), h('dd', null, ago(d.created_at))),
    d.messages?.length ? h('ul', { class: 'messages' }, d.messages.map((m) => h('li', null, m))) : null);
}

function stages(d) {
  const list = d.provisioning_info?.stages ?? [];
  if (list.length === 0) {
    // An image deployment has no build stage: say what is happening instead of waiting for a build that never comes.
    const text = d.definition?.docker ? 'No build for an image: starting instances…' : 'Waiting for the build to start…';
    return h('div', null, h('p', { class: 'muted' }, text),
      d.messages?.length ? h('ul', { class: 'messages muted small' }, d.messages.map((m) => h('li', null, m))) : null);
  }
  return h('ol', { class: 'stages' }, list.map((st) => h('li', { 'data-stage': st.name },
    badge(st.status), ' ', h('strong', null, st.name), ' ',
    st.started_at ? h('span', { class: 'muted small' }, 'started ', ago(st.started_at)) : null,
    (st.build_attempts ?? []).flatMap((a) => a.steps ?? []).length
      ? h('ul', { class: 'steps' }, st.build_attempts.flatMap((a) => a.steps ?? []).map((step) => h('li', null, badge(step.status), ' ', step.name)))
      : null,
    st.messages?.length ? h('div', { class: 'muted small' }, st.messages.join(' · ')) : null)));
}

function instancesCard(state) {
  const current = state.instances.filter((i) => i.status !== 'STOPPED');
  const byRegion = new Map();
  for (const i of current) {
    if (!byRegion.has(i.region)) byRegion.set(i.region, []);
    byRegion.get(i.region).push(i);
  }
  for (const r of state.regionals) if (!byRegion.has(r.region)) byRegion.set(r.region, []);
  const regional = new Map(state.regionals.map((r) => [r.region, r]));
  return h('section', { class: 'card', 'aria-label': 'Instances' },
    h('h2', null, 'Instances'),
    byRegion.size === 0 ? h('p', { class: 'muted' }, 'No running instances.') : [...byRegion.entries()].sort().map(([region, list]) => h('div', { class: 'region', 'data-region': region },
      h('h3', null, region, ' ', regional.get(region) ? badge(regional.get(region).status) : null, ' ', h('span', { class: 'muted small' }, `${list.length} instance${list.length === 1 ? '' : 's'}`)),
      list.length ? h('table', { class: 'table' },
        h('thead', null, h('tr', null, ['Instance', 'Status', 'Replica', 'Type', 'Messages', 'Started'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, list.map((i) => h('tr', { 'data-instance': i.id },
          h('td', null, h('code', null, shortId(i.id))),
          h('td', null, badge(i.status)),
          h('td', null, String(i.replica_index ?? 0)),
          h('td', null, i.type ?? ''),
          h('td', { class: 'messages-cell' }, (i.messages ?? []).join(' · ')),
          h('td', null, ago(i.started_at ?? i.created_at)))))) : null)));
}
