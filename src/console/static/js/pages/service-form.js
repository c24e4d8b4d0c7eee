// Create or update a service with every definition option; the API's 400 field errors land beside their inputs.
import { api, listAll } from '../api.js';
import { h, replace } from '../dom.js';
import { errorText, notice, toast } from '../ui.js';
import { clearFieldErrors, field, input, readForm, showFieldErrors } from './form-kit.js';
import { definitionSections, isFunction, mergeArchive } from './definition-sections.js';

const DEFAULT_DEFINITION = {
  type: 'WEB',
  docker: { image: '' },
  ports: [{ port: 8000, protocol: 'http' }],
  routes: [{ path: '/', port: 8000 }],
  scalings: [{ min: 1, max: 1 }],
  env: [],
  health_checks: [],
};

/** Renders the create form (/services/new) or the edit form (/services/:id/edit). */
export async function renderServiceForm(root, ctx) {
  const editing = ctx.params.id;
  const [catalog, service, apps, secrets] = await Promise.all([
    loadCatalog(),
    editing ? api('GET', `/v1/services/${editing}`).then((r) => r.service) : null,
    editing ? [] : listAll('/v1/apps', 'apps').catch(() => []),
    listAll('/v1/secrets', 'secrets').catch(() => []),
  ]);
  let definition = structuredClone(DEFAULT_DEFINITION);
  if (service) {
    const depId = service.latest_deployment_id || service.active_deployment_id;
    if (depId) definition = (await api('GET', `/v1/deployments/${depId}`)).deployment.definition ?? definition;
  } else {
    if (catalog.instances[0]) definition.instance_types = [{ type: catalog.instances[0].id }];
    if (catalog.regions[0]) definition.regions = [catalog.regions[0].id];
  }

  const summary = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'service-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); submit(false); } });
  const head = [];
  let createdAppId;
  if (!editing) {
    const appSelect = input('app_id', {
      options: [['', '+ New app…'], ...apps.map((a) => [a.id, a.name])],
      value: ctx.query.app ?? apps[0]?.id ?? '',
      id: 'app-select',
    });
    const appName = input('app.name', { id: 'app-name', placeholder: 'my-app', required: true });
    const appNameField = field('New app name', appName, 'Lowercase letters, digits and dashes.');
    const sync = () => { appNameField.hidden = appSelect.value !== ''; appName.disabled = appSelect.value !== ''; };
    appSelect.addEventListener('change', sync);
    sync();
    head.push(h('div', { class: 'row-fields' }, field('App', appSelect), appNameField,
      field('Service name', input('name', { id: 'service-name', placeholder: 'web', required: true }))));
  }
  const sections = definitionSections(definition, catalog, secrets);
  replace(form,
    h('div', { class: 'card' }, head, sections),
    summary,
    h('div', { class: 'actions sticky-actions' },
      editing ? field('Save without deploying (stashed deployment)', input('save_only', { kind: 'bool', id: 'save-only' })) : null,
      h('button', { type: 'button', class: 'btn', onclick: () => submit(true) }, 'Validate'),
      h('a', { class: 'btn btn-ghost', href: editing ? `#/services/${editing}` : '#/' }, 'Cancel'),
      h('button', { type: 'submit', class: 'btn btn-primary' }, editing ? 'Save and deploy' : 'Create service')));

  replace(root, h('section', { class: 'page' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: '#/' }, 'Apps'), editing ? [' / ', h('a', { href: `#/services/${editing}` }, service.name)] : null),
    h('h1', null, editing ? `Edit ${service.name}` : 'Create service'),
    catalog.problem ? notice('warn', `Catalog unavailable (${catalog.problem}); type instance types and regions by hand.`) : null,
    form));

  async function submit(dryRun) {
    clearFieldErrors(form, summary);
    const values = readForm(form);
    const body = { definition: values.definition ?? {} };
    try {
      if (editing) {
        // Keys the form does not edit survive from the definition being replaced.
        body.definition = { ...keep(definition), ...body.definition };
        // The chosen source's fieldset is the only one enabled: an archive (pier deploy, pier function deploy) is
        // re-sent as stored, with the builder fields the form shows; choosing docker or git drops it.
        const archiveChosen = form.querySelector('fieldset[data-archive-kind]:not(:disabled)');
        if (archiveChosen && definition.archive) {
          body.definition.archive = mergeArchive(definition.archive, values.definition?.archive, !isFunction(definition));
        } else delete body.definition.archive;
        // A git builder with no settings is still a choice: buildpack: {} or docker: {} as the select says.
        const git = body.definition.git;
        if (git && !git.buildpack && !git.docker) git[form.querySelector('#git-builder')?.value === 'docker' ? 'docker' : 'buildpack'] = {};
        if (values.save_only) body.save_only = true;
        await api('PUT', `/v1/services/${editing}`, { body, query: { dry_run: dryRun ? 'true' : undefined } });
        if (dryRun) { replace(summary, notice('ok', 'The definition is valid.')); return; }
        toast(body.save_only ? 'Saved without deploying' : 'Deploying the new definition');
        ctx.navigate(`/services/${editing}`);
        return;
      }
      body.name = values.name ?? '';
      body.definition.name = body.name;
      let appId = values.app_id ?? createdAppId;
      if (!appId && !dryRun) {
        try {
          appId = (await api('POST', '/v1/apps', { body: { name: values.app?.name ?? '' } })).app.id;
          createdAppId = appId;
        } catch (err) {
          showFieldErrors(form, summary, err, 'app.');
          return;
        }
      }
      body.app_id = appId;
      const reply = await api('POST', '/v1/services', { body, query: { dry_run: dryRun ? 'true' : undefined } });
      if (dryRun) { replace(summary, notice('ok', 'The definition is valid.')); return; }
      toast(`Created ${body.name}; its first deployment is starting`);
      ctx.navigate(`/services/${reply.service.id}`);
    } catch (err) {
      if (err.fields?.length || err.status) showFieldErrors(form, summary, err);
      else replace(summary, notice('error', errorText(err)));
    }
  }
}

/** The parts of a stored definition the form has no inputs for. */
function keep(def) {
  const out = {};
  for (const key of ['name', 'archive', 'database']) if (def[key] !== undefined) out[key] = def[key];
  return out;
}

async function loadCatalog() {
  try {
    const [instances, regions] = await Promise.all([
      listAll('/v1/catalog/instances', 'instances'),
      listAll('/v1/catalog/regions', 'regions'),
    ]);
    return { instances, regions };
  } catch (err) {
    return { instances: [], regions: [], problem: errorText(err) };
  }
}
