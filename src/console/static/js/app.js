// The console's entry point: a hash router that mounts one page at a time and tears it down on leave.
import { clearToken, getToken, pierInfo } from './api.js';
import { h, replace } from './dom.js';
import { tickTimes, toast } from './ui.js';
import { renderSignIn } from './pages/signin.js';
import { renderApps } from './pages/apps.js';
import { renderServiceForm } from './pages/service-form.js';
import { renderService } from './pages/service.js';
import { renderSecrets } from './pages/secrets.js';
import { renderTokens } from './pages/tokens.js';
import { renderVolumes } from './pages/volumes.js';

const routes = [
  { pattern: /^\/signin$/, page: renderSignIn, nav: '', open: true },
  { pattern: /^\/$/, page: renderApps, nav: 'apps' },
  { pattern: /^\/services\/new$/, page: renderServiceForm, nav: 'apps' },
  { pattern: /^\/services\/([^/]+)\/edit$/, page: renderServiceForm, nav: 'apps', keys: ['id'] },
  { pattern: /^\/services\/([^/]+)$/, page: renderService, nav: 'apps', keys: ['id'] },
  { pattern: /^\/secrets$/, page: renderSecrets, nav: 'secrets' },
  { pattern: /^\/tokens$/, page: renderTokens, nav: 'tokens' },
  { pattern: /^\/volumes$/, page: renderVolumes, nav: 'volumes' },
];

const main = document.getElementById('main');
let cleanup = [];
let info = null;

/** Everything a page needs: where to mount, route params, query, shared server info, and a teardown hook. */
function context(params, query) {
  return { params, query, info: info ?? {}, onLeave: (fn) => cleanup.push(fn), navigate };
}

/** Moves to a console path such as "/services/abc". */
export function navigate(path) {
  location.hash = '#' + path;
}

async function route() {
  for (const fn of cleanup.splice(0)) {
    try { fn(); } catch (err) { console.error('page teardown failed', err); }
  }
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  const query = Object.fromEntries(new URLSearchParams(search));
  const match = routes.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  const signedIn = Boolean(getToken());
  document.getElementById('nav').hidden = !signedIn;
  document.getElementById('signout').hidden = !signedIn;
  if (!match) {
    replace(main, h('section', { class: 'page' }, h('h1', null, 'Not found'), h('p', null, h('a', { href: '#/' }, 'Back to apps'))));
    return;
  }
  if (!match.r.open && !signedIn) {
    navigate('/signin');
    return;
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === match.r.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (signedIn && info === null) {
    info = await pierInfo();
    if (info.version) document.getElementById('version').textContent = `Pier ${info.version}`;
  }
  const params = Object.fromEntries((match.r.keys ?? []).map((k, i) => [k, decodeURIComponent(match.m[i + 1])]));
  replace(main, h('p', { class: 'muted loading' }, 'Loading…'));
  try {
    await match.r.page(main, context(params, query));
  } catch (err) {
    console.error(err);
    replace(main, h('section', { class: 'page' }, h('h1', null, 'Something went wrong'), h('p', { role: 'alert' }, String(err.message ?? err))));
  }
}

document.getElementById('signout').addEventListener('click', () => {
  clearToken();
  navigate('/signin');
});
window.addEventListener('pier:signed-out', (e) => {
  toast(`Signed out: ${e.detail}`, 'error');
  navigate('/signin');
});
window.addEventListener('hashchange', route);
setInterval(tickTimes, 15000);

route();
