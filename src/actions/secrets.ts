// Secret actions: values are encrypted at rest and never returned, except by POST /v1/secrets/{id}/reveal.
import { PierError, notFound, validationError } from '../domain/errors.ts';
import { validateSecretName } from '../domain/names.ts';
import type { FieldError } from '../domain/types.ts';
import {
  REGISTRY_KEYS, deleteSecret as removeSecret, findSecretByName, getSecret, insertSecret, publicRegistryFields,
  revealSecret as unseal, updateSecret as storeSecret, type SecretPayload, type SecretView,
} from '../store/secrets.ts';
import { newId, nowIso } from '../store/rows.ts';
import { objectBody, recordActivity, type ActionContext } from './common.ts';

function readPayload(input: Record<string, unknown>, type: string, errors: FieldError[], required: boolean): SecretPayload | undefined {
  const registries = REGISTRY_KEYS.filter((k) => input[k] !== undefined && input[k] !== null);
  if (type === 'SIMPLE') {
    if (registries.length) errors.push({ field: registries[0]!, description: 'only REGISTRY secrets take a registry configuration' });
    if (input.value === undefined) {
      if (required) errors.push({ field: 'value', description: 'is required for a SIMPLE secret' });
      return undefined;
    }
    if (typeof input.value !== 'string') { errors.push({ field: 'value', description: 'must be a string' }); return undefined; }
    return { value: input.value };
  }
  if (type === 'REGISTRY') {
    if (registries.length === 0) {
      if (required) errors.push({ field: 'type', description: `a REGISTRY secret needs exactly one of ${REGISTRY_KEYS.join(', ')}` });
      return undefined;
    }
    if (registries.length > 1) { errors.push({ field: registries[1]!, description: 'give exactly one registry configuration' }); return undefined; }
    const key = registries[0]!;
    const raw = input[key];
    if (!raw || typeof raw !== 'object' || Object.values(raw).some((v) => typeof v !== 'string')) {
      errors.push({ field: key, description: 'must be an object of string fields (username, password, url...)' });
      return undefined;
    }
    return { registry: { key, config: raw as Record<string, string> } };
  }
  errors.push({ field: 'type', description: 'must be SIMPLE or REGISTRY (MANAGED secrets are created by the platform)' });
  return undefined;
}

async function ownSecret(ctx: ActionContext, id: string): Promise<SecretView> {
  const s = await getSecret(ctx.store.db, id);
  if (!s || s.organization_id !== ctx.organizationId) throw notFound('secret', id);
  return s;
}

function alreadyExists(name: string): PierError {
  return new PierError('already_exists', `A secret named ${name} already exists`, [{ field: 'name', description: `a secret named "${name}" already exists` }]);
}

/** POST /v1/secrets. */
export async function createSecret(ctx: ActionContext, body: unknown): Promise<SecretView> {
  const input = objectBody(body);
  const type = typeof input.type === 'string' && input.type ? input.type : 'SIMPLE';
  const errors: FieldError[] = [];
  const problem = validateSecretName(input.name);
  if (problem) errors.push({ field: 'name', description: problem });
  const payload = readPayload(input, type, errors, true);
  if (errors.length) throw validationError(errors);
  const now = nowIso();
  const view: SecretView = {
    id: newId(), name: input.name as string, organization_id: ctx.organizationId, type: type as SecretView['type'],
    created_at: now, updated_at: now, project_id: '', ...publicRegistryFields(payload!),
  };
  await ctx.store.db.transaction(async (tx) => {
    if (await findSecretByName(tx, ctx.organizationId, view.name)) throw alreadyExists(view.name);
    await insertSecret(tx, ctx.store.secretKey, view, payload!);
    await recordActivity(tx, ctx, 'created', { type: 'secret', id: view.id, name: view.name }, { secret_type: view.type });
  });
  ctx.onWrite?.();
  return view;
}

/** GET /v1/secrets/{id}. */
export function getSecretView(ctx: ActionContext, id: string): Promise<SecretView> {
  return ownSecret(ctx, id);
}

/** PUT/PATCH /v1/secrets/{id}: new name and/or value (or registry configuration). */
export async function updateSecret(ctx: ActionContext, id: string, body: unknown): Promise<SecretView> {
  const input = objectBody(body);
  const current = await ownSecret(ctx, id);
  const errors: FieldError[] = [];
  const name = input.name === undefined || input.name === '' ? current.name : input.name;
  if (name !== current.name) {
    const problem = validateSecretName(name);
    if (problem) errors.push({ field: 'name', description: problem });
  }
  if (input.type !== undefined && input.type !== '' && input.type !== current.type) {
    errors.push({ field: 'type', description: 'cannot change: create a new secret instead' });
  }
  const payload = readPayload(input, current.type, errors, false);
  if (errors.length) throw validationError(errors);
  const view: SecretView = {
    ...current, name: name as string, updated_at: nowIso(), ...(payload ? publicRegistryFields(payload) : {}),
  };
  await ctx.store.db.transaction(async (tx) => {
    const clash = await findSecretByName(tx, ctx.organizationId, view.name);
    if (clash && clash.id !== id) throw alreadyExists(view.name);
    await storeSecret(tx, ctx.store.secretKey, view, payload);
    // Which parts changed, never the value.
    await recordActivity(tx, ctx, 'updated', { type: 'secret', id, name: view.name }, {
      ...(view.name !== current.name ? { previous_name: current.name } : {}), value_changed: payload !== undefined && payload !== null,
    });
  });
  ctx.onWrite?.();
  return view;
}

/** DELETE /v1/secrets/{id}. */
export async function deleteSecret(ctx: ActionContext, id: string): Promise<Record<string, never>> {
  const secret = await ownSecret(ctx, id);
  await ctx.store.db.transaction(async (tx) => {
    await removeSecret(tx, id);
    await recordActivity(tx, ctx, 'deleted', { type: 'secret', id, name: secret.name, deleted: true });
  });
  ctx.onWrite?.();
  return {};
}

/** POST /v1/secrets/{id}/reveal: the value (SIMPLE) or the registry configuration (REGISTRY). */
export async function revealSecret(ctx: ActionContext, id: string): Promise<{ value: unknown }> {
  const secret = await ownSecret(ctx, id);
  const payload = await unseal(ctx.store.db, ctx.store.secretKey, id);
  if (!payload) throw notFound('secret', id);
  // Who read a secret's value is worth knowing; the value itself is never recorded.
  await recordActivity(ctx.store.db, ctx, 'revealed', { type: 'secret', id, name: secret.name });
  return { value: payload.registry ? payload.registry.config : payload.value ?? '' };
}
