// The definition part of the service form: source, instance, regions, scaling, ports, routes, env,
// health checks and advanced options. Every input's data-field is the API path it edits.
import { h } from '../dom.js';
import { field, input, listEditor, uid } from './form-kit.js';

const P = 'definition';

/** Builds the form sections pre-filled from `def`, with choices from the catalog and the secret names. */
export function definitionSections(def, catalog, secrets) {
  const secretNames = secrets.map((s) => s.name);
  return [
    typeSection(def),
    sourceSection(def, secretNames),
    instanceSection(def, catalog),
    scalingSection(def),
    networkSection(def),
    envSection(def, secretNames),
    healthSection(def),
    advancedSection(def),
  ];
}

function section(title, ...children) {
  return h('section', { class: 'form-section', 'aria-label': title }, h('h2', null, title), ...children);
}

function typeSection(def) {
  const current = def.type && def.type !== 'INVALID' ? def.type : 'WEB';
  const name = uid('type');
  const choice = (value, label, hint) => {
    const radio = input(`${P}.type`, { kind: 'check', type: 'radio', name, value, checked: current === value, id: uid('type'), 'data-nomatch': '' });
    radio.addEventListener('change', () => setWorker(radio.closest('form'), value === 'WORKER'));
    return h('label', { class: 'choice', for: radio.id }, radio, h('span', null, h('strong', null, label), h('span', { class: 'hint' }, hint)));
  };
  return section('Service type', h('fieldset', { class: 'choices', 'data-field': `${P}.type` }, h('legend', { class: 'sr-only' }, 'Service type'),
    choice('WEB', 'Web service', 'Listens on ports. Public when a route points at a port, private otherwise.'),
    choice('WORKER', 'Worker', 'Background process without ports or routes.')));
}

function sourceSection(def, secretNames) {
  const git = def.git ?? {};
  const docker = def.docker ?? {};
  const useGit = Boolean(def.git) && !def.docker;
  const gitBuilder = git.docker ? 'docker' : 'buildpack';
  const dockerSet = h('fieldset', { class: 'source', 'data-field': `${P}.docker`, disabled: useGit, hidden: useGit },
    h('legend', null, 'Docker image'),
    h('div', { class: 'row-fields' },
      field('Image', input(`${P}.docker.image`, { kind: 'keep', value: docker.image, placeholder: 'nginx:1.27 or ghcr.io/org/app:tag', id: 'docker-image' })),
      field('Registry secret', input(`${P}.docker.image_registry_secret`, { options: [['', 'None (public image)'], ...secretNames.map((n) => [n, n])], value: docker.image_registry_secret }))),
    h('div', { class: 'row-fields' },
      field('Entrypoint', input(`${P}.docker.entrypoint`, { kind: 'lines', multiline: true, rows: 2, value: docker.entrypoint }), 'One argument per line.'),
      field('Command', input(`${P}.docker.command`, { value: docker.command })),
      field('Args', input(`${P}.docker.args`, { kind: 'lines', multiline: true, rows: 2, value: docker.args }), 'One argument per line.')),
    field('Privileged', input(`${P}.docker.privileged`, { kind: 'bool', value: docker.privileged })));
  const buildpack = h('fieldset', { class: 'builder', 'data-field': `${P}.git.buildpack`, disabled: gitBuilder !== 'buildpack', hidden: gitBuilder !== 'buildpack' },
    h('legend', null, 'Buildpack'),
    h('div', { class: 'row-fields' },
      field('Build command', input(`${P}.git.buildpack.build_command`, { value: git.buildpack?.build_command })),
      field('Run command', input(`${P}.git.buildpack.run_command`, { value: git.buildpack?.run_command }))),
    field('Privileged', input(`${P}.git.buildpack.privileged`, { kind: 'bool', value: git.buildpack?.privileged })));
  const dockerfile = h('fieldset', { class: 'builder', 'data-field': `${P}.git.docker`, disabled: gitBuilder !== 'docker', hidden: gitBuilder !== 'docker' },
    h('legend', null, 'Dockerfile'),
    h('div', { class: 'row-fields' },
      field('Dockerfile', input(`${P}.git.docker.dockerfile`, { value: git.docker?.dockerfile, placeholder: 'Dockerfile' })),
      field('Target', input(`${P}.git.docker.target`, { value: git.docker?.target }))),
    h('div', { class: 'row-fields' },
      field('Entrypoint', input(`${P}.git.docker.entrypoint`, { kind: 'lines', multiline: true, rows: 2, value: git.docker?.entrypoint })),
      field('Command', input(`${P}.git.docker.command`, { value: git.docker?.command })),
      field('Args', input(`${P}.git.docker.args`, { kind: 'lines', multiline: true, rows: 2, value: git.docker?.args }))),
    field('Privileged', input(`${P}.git.docker.privileged`, { kind: 'bool', value: git.docker?.privileged })));
  const builderSelect = input(null, { options: [['buildpack', 'Buildpack'], ['docker', 'Dockerfile']], value: gitBuilder, id: 'git-builder' });
  builderSelect.addEventListener('change', () => toggle([[buildpack, builderSelect.value === 'buildpack'], [dockerfile, builderSelect.value === 'docker']]));
  const gitSet = h('fieldset', { class: 'source', 'data-field': `${P}.git`, disabled: !useGit, hidden: !useGit },
    h('legend', null, 'Git repository'),
    h('div', { class: 'row-fields' },
      field('Repository', input(`${P}.git.repository`, { kind: 'keep', value: git.repository, placeholder: 'github.com/org/repo or a local path', id: 'git-repository' })),
      field('Branch', input(`${P}.git.branch`, { value: git.branch, placeholder: 'main' })),
      field('Tag', input(`${P}.git.tag`, { value: git.tag })),
      field('Commit SHA', input(`${P}.git.sha`, { value: git.sha }))),
    h('div', { class: 'row-fields' },
      field('Work directory', input(`${P}.git.workdir`, { value: git.workdir })),
      field('Builder', builderSelect),
      field('Do not deploy on push', input(`${P}.git.no_deploy_on_push`, { kind: 'bool', value: git.no_deploy_on_push }))),
    buildpack, dockerfile);
  const archiveSet = archiveFieldset(def);
  const current = sourceKind(def);
  const sourceName = uid('src');
  const sets = { docker: dockerSet, git: gitSet, archive: archiveSet };
  toggle(Object.entries(sets).filter(([, el]) => el).map(([k, el]) => [el, k === current]));
  const radio = (value, label, checked) => {
    const r = h('input', { type: 'radio', name: sourceName, value, checked, id: uid('src'), 'data-source': value });
    r.addEventListener('change', () => toggle(Object.entries(sets).filter(([, el]) => el).map(([k, el]) => [el, k === value])));
    return h('label', { class: 'choice', for: r.id }, r, h('strong', null, label));
  };
  const archiveLabel = isFunction(def) ? 'Function' : 'Uploaded directory';
  return section('Source',
    h('div', { class: 'choices', role: 'radiogroup', 'aria-label': 'Source' },
      archiveSet ? radio('archive', archiveLabel, current === 'archive') : null,
      radio('docker', 'Docker image', current === 'docker'), radio('git', 'Git repository', current === 'git')),
    archiveSet, dockerSet, gitSet);
}

/**
 * Which source a stored definition uses: archive (`pier deploy`, `pier function deploy`), git (a repository or a push
 * to Pier's git remote) or docker. A new service starts as docker.
 */
export function sourceKind(def) {
  if (def.archive && !def.docker && !def.git) return 'archive';
  if (def.git && !def.docker) return 'git';
  return 'docker';
}

/**
 * A function is an archive built by Pier's function wrapper: `pier function deploy` gives it an HTTP check on the
 * wrapper's own health path (src/build/functions/definition.ts), which no other source uses.
 */
export function isFunction(def) {
  return Boolean(def.archive) && (def.health_checks ?? []).some((c) => c.http?.path === '/.pier/health');
}

/**
 * An archive source: the uploaded code is shown, never re-uploaded or changed here (the CLI uploads new code); a
 * directory's builder settings are editable, a function's builder is the wrapper's. Returns null without an archive.
 */
function archiveFieldset(def) {
  if (!def.archive) return null;
  const a = def.archive;
  const fn = isFunction(def);
  const code = h('p', { class: 'hint' },
    'Code: uploaded archive ', h('code', { id: 'archive-id' }, a.id ?? ''), '. ',
    fn ? 'Deploy new code with ' : 'Upload a new version with ',
    h('code', null, fn ? 'pier function deploy' : 'pier deploy DIR APP/SERVICE'),
    '; saving here keeps this code and changes the rest.');
  const AP = `${P}.archive`;
  let builder;
  if (fn) {
    builder = h('p', { class: 'hint' }, 'Built by Pier\'s function wrapper (no build settings).');
  } else if (a.docker) {
    builder = h('fieldset', { class: 'builder', 'data-field': `${AP}.docker` }, h('legend', null, 'Dockerfile'),
      h('div', { class: 'row-fields' },
        field('Dockerfile', input(`${AP}.docker.dockerfile`, { value: a.docker.dockerfile, placeholder: 'Dockerfile', id: 'archive-dockerfile' })),
        field('Target', input(`${AP}.docker.target`, { value: a.docker.target })),
        field('Command', input(`${AP}.docker.command`, { value: a.docker.command }))));
  } else {
    builder = h('fieldset', { class: 'builder', 'data-field': `${AP}.buildpack` }, h('legend', null, 'Buildpack'),
      h('div', { class: 'row-fields' },
        field('Build command', input(`${AP}.buildpack.build_command`, { value: a.buildpack?.build_command, id: 'archive-build-command' })),
        field('Run command', input(`${AP}.buildpack.run_command`, { value: a.buildpack?.run_command, id: 'archive-run-command' }))));
  }
  return h('fieldset', { class: 'source', 'data-field': AP, 'data-archive-kind': fn ? 'function' : 'directory' },
    h('legend', null, fn ? 'Function' : 'Uploaded directory'), code, builder);
}

/**
 * The archive to send: the stored one as it is (id and every builder key), with the builder fields the form shows
 * replaced by their current values (a cleared field is removed). `formArchive` is what readForm found under
 * archive (blank fields are absent); a function (`editable` false) shows no builder fields and is sent unchanged.
 */
export function mergeArchive(stored, formArchive, editable = true) {
  const out = structuredClone(stored);
  if (!editable) return out;
  for (const kind of ['buildpack', 'docker']) {
    if (!out[kind]) continue;
    const shown = kind === 'buildpack' ? ['build_command', 'run_command'] : ['dockerfile', 'target', 'command'];
    const edited = formArchive?.[kind] ?? {};
    for (const key of shown) {
      if (edited[key] !== undefined) out[kind][key] = edited[key];
      else delete out[kind][key];
    }
  }
  return out;
}

/** Workers have no ports or routes: their section is disabled (and so left out of the definition). */
function setWorker(form, worker) {
  const net = form?.querySelector('fieldset.network');
  if (net) { net.disabled = worker; net.hidden = worker; }
  const note = form?.querySelector('.worker-note');
  if (note) note.hidden = !worker;
}

function toggle(pairs) {
  for (const [el, on] of pairs) { el.hidden = !on; el.disabled = !on; }
}

function instanceSection(def, catalog) {
  const type = (def.instance_types ?? []).find((t) => !t.scopes?.length)?.type ?? def.instance_types?.[0]?.type ?? '';
  const instanceInput = catalog.instances.length
    ? input(`${P}.instance_types[0].type`, {
      id: 'instance-type',
      value: type,
      options: catalog.instances.map((i) => [i.id, `${i.display_name ?? i.id} — ${describeInstance(i)}`]),
    })
    : input(`${P}.instance_types[0].type`, { id: 'instance-type', value: type, placeholder: 'nano' });
  const chosen = new Set(def.regions ?? []);
  const regionsSet = h('fieldset', { class: 'regions', 'data-field': `${P}.regions` }, h('legend', null, 'Regions'),
    catalog.regions.length
      ? catalog.regions.map((r) => {
        const box = input(`${P}.regions[*]`, { kind: 'check', value: r.id, checked: chosen.has(r.id), 'data-nomatch': '' });
        return h('label', { class: 'chip', for: box.id }, box, ` ${r.name ?? r.id} `, h('span', { class: 'muted small' }, r.id));
      })
      : field('Regions', input(`${P}.regions`, { kind: 'list', value: def.regions, id: 'regions-text' }), 'Comma separated region ids.'));
  return section('Instance and regions', field('Instance type', instanceInput), regionsSet);
}

function describeInstance(i) {
  const cpu = i.vcpu_shares ?? i.vcpu;
  return [cpu !== undefined ? `${cpu} vCPU` : '', i.memory ?? '', i.disk ? `${i.disk} disk` : ''].filter(Boolean).join(', ');
}

function scalingSection(def) {
  const s = (def.scalings ?? []).find((x) => !x.scopes?.length) ?? def.scalings?.[0] ?? { min: 1, max: 1 };
  const t = Object.assign({}, ...(s.targets ?? []));
  const sp = `${P}.scalings[0]`;
  const target = (key, label, hint, sub = 'value', group = '') => field(label,
    input(`${sp}.targets[*${group}].${key}.${sub}`, { kind: 'number', value: t[key]?.[sub], min: 0 }), hint);
  return section('Scaling',
    h('div', { class: 'row-fields' },
      field('Min instances', input(`${sp}.min`, { kind: 'number', value: s.min, min: 0, id: 'scale-min' }), '0 lets the service sleep when idle.'),
      field('Max instances', input(`${sp}.max`, { kind: 'number', value: s.max, min: 0, id: 'scale-max' }))),
    h('fieldset', { class: 'targets', 'data-field': `${sp}.targets` },
      h('legend', null, 'Autoscaling targets (when max > min)'),
      h('div', { class: 'row-fields' },
        target('average_cpu', 'CPU %'),
        target('average_mem', 'Memory %'),
        target('requests_per_second', 'Requests / s per instance'),
        target('concurrent_requests', 'Concurrent requests per instance')),
      h('div', { class: 'row-fields' },
        target('requests_response_time', 'Response time (ms)', undefined, 'value', 'rt'),
        target('requests_response_time', 'Quantile', 'e.g. 95', 'quantile', 'rt'),
        target('sleep_idle_delay', 'Light sleep after (s idle)', undefined, 'light_sleep_value', 'sleep'),
        target('sleep_idle_delay', 'Deep sleep after (s idle)', undefined, 'deep_sleep_value', 'sleep'))));
}

function networkSection(def) {
  const ports = listEditor({
    prefix: `${P}.ports`, title: 'Ports', items: def.ports ?? [], empty: { protocol: 'http' }, addLabel: 'Add port',
    renderRow: (v, path) => [
      field('Port', input(`${path}.port`, { kind: 'number', value: v.port, min: 1, max: 65535 })),
      field('Protocol', input(`${path}.protocol`, { value: v.protocol ?? 'http', options: [['http', 'HTTP'], ['http2', 'HTTP/2'], ['tcp', 'TCP']] })),
    ],
  });
  const routes = listEditor({
    prefix: `${P}.routes`, title: 'Routes', items: def.routes ?? [], empty: { path: '/' }, addLabel: 'Add route',
    describe: 'A route exposes a port on the public URL. Without routes a web service is private (mesh only).',
    renderRow: (v, path) => [
      field('Path', input(`${path}.path`, { value: v.path, placeholder: '/' })),
      field('Port', input(`${path}.port`, { kind: 'number', value: v.port, min: 1, max: 65535 })),
    ],
  });
  const proxy = listEditor({
    prefix: `${P}.proxy_ports`, title: 'TCP proxy ports', items: def.proxy_ports ?? [], empty: {}, addLabel: 'Add TCP proxy port',
    renderRow: (v, path) => [
      field('Port', input(`${path}.port`, { kind: 'number', value: v.port, min: 1, max: 65535 })),
      input(`${path}.protocol`, { value: 'tcp', type: 'hidden' }),
    ],
  });
  const worker = def.type === 'WORKER';
  return section('Ports and routes',
    h('p', { class: 'hint worker-note', hidden: !worker }, 'Workers have no ports or routes.'),
    h('fieldset', { class: 'network plain', disabled: worker, hidden: worker }, h('legend', { class: 'sr-only' }, 'Ports and routes'), ports, routes, proxy));
}

function envSection(def, secretNames) {
  const list = uid('secrets');
  const editor = listEditor({
    prefix: `${P}.env`, title: 'Environment variables', items: def.env ?? [], empty: {}, addLabel: 'Add variable',
    describe: 'Values may use {{ secret.NAME }}. A secret reference injects the secret\'s value at start.',
    renderRow: (v, path) => {
      const isSecret = v.secret !== undefined && v.secret !== null && v.secret !== '';
      const value = input(`${path}.value`, { value: v.value, kind: 'raw', disabled: isSecret, hidden: isSecret });
      const secret = input(`${path}.secret`, { value: v.secret, list, placeholder: 'secret name', disabled: !isSecret, hidden: !isSecret });
      // Errors on either key land on whichever input the row shows.
      value.dataset.altField = `${path}.secret`;
      const mode = input(null, { options: [['value', 'Value'], ['secret', 'Secret']], value: isSecret ? 'secret' : 'value', 'aria-label': 'Value or secret' });
      mode.addEventListener('change', () => {
        const s = mode.value === 'secret';
        toggle([[value, !s], [secret, s]]);
        (s ? secret : value).focus();
      });
      return [
        field('Name', input(`${path}.key`, { value: v.key, placeholder: 'DATABASE_URL' })),
        field('Kind', mode),
        h('div', { class: 'field grow' }, h('label', { for: value.id }, 'Value'), value, secret),
        field('Scopes', input(`${path}.scopes`, { kind: 'list', value: v.scopes, placeholder: 'region:fra' })),
      ];
    },
  });
  return section('Environment', editor, h('datalist', { id: list }, secretNames.map((n) => h('option', { value: n }))));
}

function healthSection(def) {
  const editor = listEditor({
    prefix: `${P}.health_checks`, title: 'Health checks', items: def.health_checks ?? [], empty: { tcp: {} }, addLabel: 'Add health check',
    describe: 'An instance is HEALTHY once its checks pass; without checks Pier probes the first port over TCP.',
    renderRow: (v, path) => {
      const isHttp = Boolean(v.http);
      const port = input(`${path}.${isHttp ? 'http' : 'tcp'}.port`, { kind: 'number', value: (v.http ?? v.tcp)?.port, min: 1, max: 65535 });
      const hcPath = input(`${path}.http.path`, { value: v.http?.path, placeholder: '/healthz', disabled: !isHttp });
      const method = input(`${path}.http.method`, { value: v.http?.method ?? 'GET', options: [['GET', 'GET'], ['HEAD', 'HEAD'], ['POST', 'POST']], disabled: !isHttp });
      const proto = input(null, { options: [['tcp', 'TCP'], ['http', 'HTTP']], value: isHttp ? 'http' : 'tcp', 'aria-label': 'Check protocol' });
      proto.addEventListener('change', () => {
        const http = proto.value === 'http';
        port.dataset.field = port.dataset.field.replace(/\.(http|tcp)\.port$/, http ? '.http.port' : '.tcp.port');
        hcPath.disabled = !http;
        method.disabled = !http;
      });
      return [
        field('Protocol', proto),
        field('Port', port),
        field('Path', hcPath),
        field('Method', method),
        field('Grace (s)', input(`${path}.grace_period`, { kind: 'number', value: v.grace_period, min: 0 })),
        field('Interval (s)', input(`${path}.interval`, { kind: 'number', value: v.interval, min: 1 })),
        field('Timeout (s)', input(`${path}.timeout`, { kind: 'number', value: v.timeout, min: 1 })),
        field('Restart after', input(`${path}.restart_limit`, { kind: 'number', value: v.restart_limit, min: 0 })),
      ];
    },
  });
  return section('Health checks', editor);
}

function advancedSection(def) {
  const files = listEditor({
    prefix: `${P}.config_files`, title: 'Config files', items: def.config_files ?? [], empty: {}, addLabel: 'Add config file',
    renderRow: (v, path) => [
      field('Path', input(`${path}.path`, { value: v.path, placeholder: '/etc/app/config.yaml' })),
      field('Permissions', input(`${path}.permissions`, { value: v.permissions, placeholder: '0644' })),
      field('Content', input(`${path}.content`, { kind: 'raw', multiline: true, value: v.content })),
    ],
  });
  const volumes = listEditor({
    prefix: `${P}.volumes`, title: 'Volumes', items: def.volumes ?? [], empty: {}, addLabel: 'Add volume',
    renderRow: (v, path) => [
      field('Volume id', input(`${path}.id`, { value: v.id })),
      field('Mount path', input(`${path}.path`, { value: v.path, placeholder: '/data' })),
    ],
  });
  const details = h('details', { class: 'form-section advanced', open: false },
    h('summary', null, h('h2', null, 'Advanced')),
    h('div', { class: 'row-fields' },
      field('Deployment strategy', input(`${P}.strategy.type`, {
        value: def.strategy?.type ?? '',
        options: [['', 'Default (rolling)'], ['DEPLOYMENT_STRATEGY_TYPE_ROLLING', 'Rolling'], ['DEPLOYMENT_STRATEGY_TYPE_BLUE_GREEN', 'Blue/green'],
          ['DEPLOYMENT_STRATEGY_TYPE_CANARY', 'Canary'], ['DEPLOYMENT_STRATEGY_TYPE_IMMEDIATE', 'Immediate']],
      })),
      field('Service mesh', input(`${P}.mesh`, {
        value: def.mesh ?? '',
        options: [['', 'Auto'], ['DEPLOYMENT_MESH_ENABLED', 'Enabled'], ['DEPLOYMENT_MESH_DISABLED', 'Disabled']],
      })),
      field('Egress', input(`${P}.network_policy.egress.mode`, {
        value: def.network_policy?.egress?.mode ?? '',
        options: [['', 'Default (allow)'], ['EGRESS_POLICY_MODE_DENY_ALL', 'Deny all']],
      })),
      field('Skip build cache', input(`${P}.skip_cache`, { kind: 'bool', value: def.skip_cache }))),
    files, volumes);
  if ((def.config_files?.length ?? 0) + (def.volumes?.length ?? 0) > 0 || def.strategy?.type || def.mesh) details.open = true;
  return details;
}
