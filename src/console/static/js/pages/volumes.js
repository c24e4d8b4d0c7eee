// Volumes (issue #20): list with used/total, status and its message, the service that mounts it; create, grow, delete
// (the API's 409 shown when a service names it), and snapshots: take, list, delete, restore into a new volume.
// Used/total is the current value only: /v1/streams/metrics carries no volume series (Prometheus /metrics has
// pier_volume_used_bytes and pier_volume_size_bytes), so there is no chart over time here.
import { api, listAll } from '../api.js';
import { h, replace } from '../dom.js';
import { ago, confirmDialog, errorText, notice, poll, toast } from '../ui.js';
import { showFieldErrors } from './form-kit.js';

const GB = 1e9;

/** Colour family of a volume's or snapshot's status (the service statuses' table does not know these). */
const TONES = { ATTACHED: 'ok', AVAILABLE: 'ok', DETACHED: 'idle', CREATING: 'progress', DELETING: 'progress', DELETED: 'idle' };

/** A status badge without the enum's prefix (PERSISTENT_VOLUME_STATUS_ATTACHED → ATTACHED). */
function statusBadge(status) {
  const name = String(status ?? 'UNKNOWN').replace(/^(PERSISTENT_VOLUME_STATUS|SNAPSHOT_STATUS)_/, '');
  return h('span', { class: `badge tone-${TONES[name] ?? 'idle'}`, 'data-status': name, title: status }, name);
}

/** Bytes in decimal units, as volume sizes are (max_size is in GB of 10^9 bytes): 850 MB, 1.5 GB. */
function decimalBytes(n) {
  if (n >= GB / 10) return `${+(n / GB).toFixed(2)} GB`;
  if (n >= 1e6) return `${+(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${+(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

/** Renders the volumes page. */
export async function renderVolumes(root, ctx) {
  const volumesHost = h('div', { 'aria-live': 'polite', id: 'volumes-list' });
  const snapshotsHost = h('div', { 'aria-live': 'polite', id: 'snapshots-list' });
  const problem = h('div');
  const regions = await listAll('/v1/catalog/regions', 'regions').catch(() => []);
  let volumes = [];
  const snapshotForm = takeSnapshotForm();
  const growForm = takeGrowForm();
  replace(root, h('section', { class: 'page' },
    h('div', { class: 'page-head' }, h('h1', null, 'Volumes')),
    h('p', { class: 'muted' }, 'A volume is a disk of a fixed size that outlives deployments; one instance mounts it at a time. Mount one from a service\'s definition (volumes: id and path) or with pier service update --volumes name:/path.'),
    problem,
    createForm(),
    volumesHost,
    growForm.form,
    h('h2', { class: 'section-gap' }, 'Snapshots'),
    snapshotForm.form,
    snapshotsHost));
  ctx.onLeave(poll(refresh, 3000, (err) => replace(problem, notice('error', errorText(err)))));

  async function refresh() {
    const [vols, snaps, services] = await Promise.all([
      listAll('/v1/volumes', 'volumes'),
      listAll('/v1/snapshots', 'snapshots'),
      listAll('/v1/services', 'services').catch(() => []),
    ]);
    replace(problem);
    volumes = vols.filter((v) => v.status !== 'PERSISTENT_VOLUME_STATUS_DELETED');
    const serviceNames = new Map(services.map((s) => [s.id, s.name]));
    drawVolumes(volumes, serviceNames);
    drawSnapshots(snaps.filter((s) => s.status !== 'SNAPSHOT_STATUS_DELETED'));
    snapshotForm.setVolumes(volumes);
    growForm.setVolumes(volumes);
  }

  function drawVolumes(list, serviceNames) {
    if (list.length === 0) { replace(volumesHost, h('p', { class: 'muted' }, 'No volumes yet.')); return; }
    replace(volumesHost, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Name', 'Region', 'Size', 'Used', 'Status', 'Service', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, list.sort((a, b) => a.name.localeCompare(b.name)).map((v) => volumeRow(v, serviceNames)))));
  }

  function volumeRow(v, serviceNames) {
    const total = v.total_bytes || v.max_size * GB;
    const used = v.used_bytes ?? 0;
    const share = total > 0 ? Math.min(1, used / total) : 0;
    const pct = Math.round(share * 100);
    const service = v.service_id
      ? h('a', { href: `#/services/${v.service_id}` }, serviceNames.get(v.service_id) ?? v.service_id.slice(0, 8))
      : h('span', { class: 'muted' }, '—');
    return h('tr', { 'data-volume': v.name },
      h('td', null, h('strong', null, v.name)),
      h('td', null, v.region),
      h('td', null, `${v.max_size} GB`),
      h('td', { class: 'volume-usage' },
        h('div', { class: `usage-bar${share >= 0.99 ? ' is-full' : share >= 0.8 ? ' is-high' : ''}`, role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': pct, 'aria-label': `${v.name} used` },
          h('span', { style: `width: ${pct}%` })),
        h('span', { class: 'small', 'data-usage': '' }, `${decimalBytes(used)} of ${decimalBytes(total)} (${pct} %)`)),
      h('td', null, statusBadge(v.status), (v.messages ?? []).map((m) => h('div', { class: 'small muted', 'data-message': '' }, m))),
      h('td', null, service),
      h('td', null, ago(v.created_at)),
      h('td', null, h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: async () => {
        if (!(await confirmDialog(`Delete volume ${v.name}?`, 'Its data is deleted; its snapshots stay. A volume that a service names cannot be deleted.', 'Delete volume'))) return;
        try {
          await api('DELETE', `/v1/volumes/${v.id}`);
          toast(`Deleting ${v.name}`);
          await refresh();
        } catch (err) {
          replace(problem, notice('error', `Cannot delete ${v.name}: ${errorText(err)}`));
        }
      } }, 'Delete')));
  }

  // A restore form being filled in survives the 3 s poll: the table is redrawn only when the snapshots changed, and
  // each row's form host is reused.
  let drawnSnapshots = '';
  const restoreHosts = new Map();
  function drawSnapshots(list) {
    const key = JSON.stringify([list, volumes.map((v) => [v.id, v.name])]);
    if (key === drawnSnapshots) return;
    drawnSnapshots = key;
    for (const id of restoreHosts.keys()) if (!list.some((s) => s.id === id)) restoreHosts.delete(id);
    if (list.length === 0) { replace(snapshotsHost, h('p', { class: 'muted' }, 'No snapshots yet.')); return; }
    const names = new Map(volumes.map((v) => [v.id, v.name]));
    replace(snapshotsHost, h('table', { class: 'table' },
      h('thead', null, h('tr', null, ['Name', 'Volume', 'Region', 'Size', 'Status', 'Created', ''].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, list.sort((a, b) => a.name.localeCompare(b.name)).map((s) => snapshotRow(s, names)))));
  }

  function snapshotRow(s, names) {
    const restoreHost = restoreHosts.get(s.id) ?? h('div');
    restoreHosts.set(s.id, restoreHost);
    const available = s.status === 'SNAPSHOT_STATUS_AVAILABLE';
    const restore = h('button', { type: 'button', class: 'btn btn-small', disabled: !available, onclick: () => {
      if (restoreHost.firstChild) { replace(restoreHost); return; }
      const name = h('input', { 'data-field': 'name', 'aria-label': `Name of the volume restored from ${s.name}`, required: true, autocomplete: 'off', value: `${s.name}-restored` });
      const summary = h('div');
      const form = h('form', { class: 'form-inline', 'aria-label': `Restore ${s.name}`, onsubmit: async (e) => {
        e.preventDefault();
        replace(summary);
        try {
          await api('POST', '/v1/volumes', { body: { name: name.value.trim(), region: s.region, snapshot_id: s.id, volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' } });
          toast(`Restoring ${s.name} into ${name.value.trim()}`);
          replace(restoreHost);
          await refresh();
        } catch (err) { showFieldErrors(form, summary, err); }
      } }, name, ' ', h('button', { type: 'submit', class: 'btn btn-small btn-primary' }, 'Create volume'), summary);
      replace(restoreHost, form);
      name.focus();
    } }, 'Restore…');
    return h('tr', { 'data-snapshot': s.name },
      h('td', null, h('strong', null, s.name)),
      h('td', null, names.get(s.parent_volume_id) ?? h('span', { class: 'muted', title: s.parent_volume_id }, 'deleted volume')),
      h('td', null, s.region),
      h('td', null, `${s.size} GB`),
      h('td', null, statusBadge(s.status), (s.messages ?? []).map((m) => h('div', { class: 'small muted' }, m))),
      h('td', null, ago(s.created_at)),
      h('td', null, restore, ' ', h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: async () => {
        if (!(await confirmDialog(`Delete snapshot ${s.name}?`, 'Volumes restored from it keep their data.', 'Delete snapshot'))) return;
        try { await api('DELETE', `/v1/snapshots/${s.id}`); toast(`Deleting ${s.name}`); await refresh(); } catch (err) { toast(errorText(err), 'error'); }
      } }, 'Delete'), restoreHost));
  }

  function createForm() {
    const summary = h('div');
    const name = h('input', { id: 'volume-name', 'data-field': 'name', required: true, autocomplete: 'off', pattern: '[a-z0-9][a-z0-9\\-]*' });
    const region = regions.length
      ? h('select', { id: 'volume-region', 'data-field': 'region' }, regions.map((r) => h('option', { value: r.id }, r.name ? `${r.name} (${r.id})` : r.id)))
      : h('input', { id: 'volume-region', 'data-field': 'region', required: true, autocomplete: 'off' });
    const size = h('input', { id: 'volume-size', 'data-field': 'max_size', type: 'number', min: 1, max: 1000, step: 1, value: 1, required: true });
    const form = h('form', { class: 'card form-inline', 'aria-label': 'Create volume', onsubmit: async (e) => {
      e.preventDefault();
      replace(summary);
      const body = { name: name.value.trim(), region: region.value.trim(), max_size: Number(size.value), volume_type: 'PERSISTENT_VOLUME_BACKING_STORE_LOCAL_BLK' };
      try {
        await api('POST', '/v1/volumes', { body });
        toast(`Created volume ${body.name}`);
        name.value = '';
        await refresh();
      } catch (err) { showFieldErrors(form, summary, err); }
    } },
    h('h2', null, 'New volume'),
    h('div', { class: 'row-fields' }, field('Name', name), field('Region', region), field('Size (GB)', size)),
    summary,
    h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create volume'));
    return form;
  }

  /** Grow: a larger max_size; Pier grows the filesystem with the data in place (docs/volumes.md, "Growing"). */
  function takeGrowForm() {
    const summary = h('div');
    const volume = h('select', { id: 'grow-volume', 'aria-label': 'Volume to grow' });
    const size = h('input', { id: 'grow-size', 'data-field': 'max_size', type: 'number', min: 1, max: 1000, step: 1, required: true });
    const form = h('form', { class: 'card form-inline section-gap', 'aria-label': 'Grow volume', onsubmit: async (e) => {
      e.preventDefault();
      replace(summary);
      const v = volumes.find((x) => x.id === volume.value);
      try {
        await api('POST', `/v1/volumes/${volume.value}`, { body: { max_size: Number(size.value) } });
        toast(`Growing ${v?.name ?? 'the volume'} to ${size.value} GB`);
        await refresh();
      } catch (err) { showFieldErrors(form, summary, err); }
    } },
    h('div', { class: 'row-fields' }, field('Grow volume', volume), field('New size (GB)', size)),
    h('p', { class: 'small muted' }, 'Sizes only grow; the data stays. A host that cannot resize a mounted filesystem grows it once no instance mounts it (the volume\'s message says so).'),
    summary,
    h('button', { type: 'submit', class: 'btn' }, 'Grow'));
    const setVolumes = (list) => {
      const ids = list.map((v) => `${v.id}:${v.max_size}`).join();
      if (volume.dataset.ids === ids) return;
      volume.dataset.ids = ids;
      const current = volume.value;
      replace(volume, list.map((v) => h('option', { value: v.id, selected: v.id === current }, `${v.name} (${v.max_size} GB)`)));
    };
    return { form, setVolumes };
  }

  function takeSnapshotForm() {
    const summary = h('div');
    const volume = h('select', { id: 'snapshot-volume', 'data-field': 'parent_volume_id' });
    const name = h('input', { id: 'snapshot-name', 'data-field': 'name', required: true, autocomplete: 'off' });
    const form = h('form', { class: 'card form-inline', 'aria-label': 'Take snapshot', onsubmit: async (e) => {
      e.preventDefault();
      replace(summary);
      try {
        await api('POST', '/v1/snapshots', { body: { name: name.value.trim(), parent_volume_id: volume.value } });
        toast(`Taking snapshot ${name.value.trim()}`);
        name.value = '';
        await refresh();
      } catch (err) { showFieldErrors(form, summary, err); }
    } },
    h('div', { class: 'row-fields' }, field('Volume', volume), field('Snapshot name', name)),
    h('p', { class: 'small muted' }, 'A copy of the volume, taken from a frozen filesystem while an instance writes to it.'),
    summary,
    h('button', { type: 'submit', class: 'btn' }, 'Take snapshot'));
    const setVolumes = (list) => {
      const current = volume.value;
      const ids = list.map((v) => v.id).join();
      if (volume.dataset.ids === ids) return;
      volume.dataset.ids = ids;
      replace(volume, list.map((v) => h('option', { value: v.id, selected: v.id === current }, `${v.name} (${v.region})`)));
    };
    return { form, setVolumes };
  }
}

function field(label, input) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input);
}
