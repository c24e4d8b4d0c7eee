// Apps and their services with live statuses and status messages (polled).
import { api, listAll } from '../api.js';
import { h, replace } from '../dom.js';
import { ago, badge, confirmDialog, errorText, notice, poll, toast } from '../ui.js';

const POLL_MS = 3000;

/** Renders the apps and services list. */
export async function renderApps(root, ctx) {
  const body = h('div', { class: 'apps', 'aria-live': 'polite', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading apps…'));
  const problem = h('div');
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' },
      h('h1', null, 'Apps'),
      h('a', { class: 'btn btn-primary', href: '#/services/new' }, 'Create service')),
    problem,
    body));

  const stop = poll(async () => {
    const [apps, services] = await Promise.all([listAll('/v1/apps', 'apps'), listAll('/v1/services', 'services')]);
    replace(problem);
    body.setAttribute('aria-busy', 'false');
    draw(apps, services);
  }, POLL_MS, (err) => replace(problem, notice('error', errorText(err))));
  ctx.onLeave(stop);

  function draw(apps, services) {
    if (apps.length === 0) {
      replace(body, h('div', { class: 'empty card' },
        h('h2', null, 'No apps yet'),
        h('p', null, 'Create a service from a Docker image or a git repository; its app is created with it.'),
        h('a', { class: 'btn btn-primary', href: '#/services/new' }, 'Create your first service')));
      return;
    }
    const byApp = new Map(apps.map((a) => [a.id, []]));
    for (const s of services) byApp.get(s.app_id)?.push(s);
    replace(body, apps.sort((a, b) => a.name.localeCompare(b.name)).map((app) => appCard(app, byApp.get(app.id) ?? [])));
  }

  function appCard(app, services) {
    return h('article', { class: 'card app', 'data-app': app.name },
      h('div', { class: 'app-head' },
        h('h2', null, app.name),
        badge(app.status),
        h('span', { class: 'muted small' }, 'updated ', ago(app.updated_at)),
        h('div', { class: 'spacer' }),
        h('a', { class: 'btn btn-small', href: `#/services/new?app=${encodeURIComponent(app.id)}` }, 'Add service'),
        h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => deleteApp(app) }, 'Delete app')),
      messages(app.messages),
      services.length === 0
        ? h('p', { class: 'muted' }, 'No services in this app.')
        : h('table', { class: 'table' },
          h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Service'), h('th', { scope: 'col' }, 'Type'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Messages'), h('th', { scope: 'col' }, 'Updated'))),
          h('tbody', null, services.sort((a, b) => a.name.localeCompare(b.name)).map((s) => h('tr', { 'data-service': s.name },
            h('td', null, h('a', { href: `#/services/${s.id}` }, s.name)),
            h('td', null, s.type),
            h('td', null, badge(s.status)),
            h('td', { class: 'messages-cell' }, (s.messages ?? []).join(' · ')),
            h('td', null, ago(s.updated_at)))))));
  }

  async function deleteApp(app) {
    if (!(await confirmDialog(`Delete app ${app.name}?`, 'Its services and their instances are deleted too. This cannot be undone.', 'Delete app'))) return;
    try {
      await api('DELETE', `/v1/apps/${app.id}`);
      toast(`Deleting app ${app.name}`);
    } catch (err) {
      toast(errorText(err), 'error');
    }
  }
}

/** A status messages list, or nothing. */
export function messages(list) {
  if (!list || list.length === 0) return null;
  return h('ul', { class: 'messages' }, list.map((m) => h('li', null, m)));
}
