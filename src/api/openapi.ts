// GET /v1/openapi.json: a Swagger 2.0 document of exactly what Pier serves, generated from the route table, with
// Koyeb's operation and schema text (src/api/openapi-schemas.json, extracted once by scripts/extract-openapi-schemas.mjs).
import { readFileSync } from 'node:fs';
import type { Route } from './router.ts';

interface Extracted {
  info: Record<string, unknown>;
  securityDefinitions: Record<string, unknown>;
  operations: Record<string, Record<string, unknown>>;
  definitions: Record<string, unknown>;
}

let extracted: Extracted | undefined;
function schemas(): Extracted {
  extracted ??= JSON.parse(readFileSync(new URL('./openapi-schemas.json', import.meta.url), 'utf8')) as Extracted;
  return extracted;
}

const errorResponses = {
  400: { description: 'Validation error', schema: { $ref: '#/definitions/ErrorWithFields' } },
  401: { description: 'Returned when the token is not valid.', schema: { $ref: '#/definitions/Error' } },
  404: { description: 'Returned when the resource does not exist.', schema: { $ref: '#/definitions/Error' } },
  500: { description: 'Returned in case of server error.', schema: { $ref: '#/definitions/Error' } },
};

/** Operations Pier adds to Koyeb's API, described by hand. */
const PIER_OPERATIONS: Record<string, Record<string, unknown>> = {
  'GET /v1/deployments/{id}/diff': {
    summary: 'Diff two deployments (Pier extension)',
    description: "Changes between a deployment's definition and another one's (default: its parent).",
    parameters: [
      { name: 'id', in: 'path', required: true, type: 'string' },
      { name: 'against', in: 'query', required: false, type: 'string', description: 'Deployment to compare with; default parent_id.' },
    ],
    responses: {
      200: {
        description: 'The changes and their human-readable lines.',
        schema: {
          type: 'object',
          properties: {
            changes: { type: 'array', items: { type: 'object' } },
            lines: { type: 'array', items: { type: 'string' } },
            against: { type: 'string' },
          },
        },
      },
      ...errorResponses,
    },
  },
  'GET /v1/docker-helper/verify': {
    summary: 'Verify a Docker image reference (syntax only in Pier)',
    parameters: [
      { name: 'image', in: 'query', required: false, type: 'string' },
      { name: 'secret_id', in: 'query', required: false, type: 'string' },
    ],
    responses: {
      200: {
        description: 'Whether the reference is usable.',
        schema: { type: 'object', properties: { success: { type: 'boolean' }, reason: { type: 'string' }, code: { type: 'string' } } },
      },
      ...errorResponses,
    },
  },
  'GET /v1/pier/info': {
    summary: 'Pier server information (Pier extension)',
    parameters: [],
    responses: {
      200: {
        description: 'Version, organization and edge domain.',
        schema: { type: 'object', properties: { version: { type: 'string' }, organization_id: { type: 'string' }, domain: { type: 'string' } } },
      },
      ...errorResponses,
    },
  },
};

function collectRefs(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) { for (const n of node) collectRefs(n, out); return; }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/definitions/')) out.add(v.slice('#/definitions/'.length));
    else collectRefs(v, out);
  }
}

/** The Swagger 2.0 document for these routes, with only the definitions they reference. */
export function buildOpenApi(routes: Route[]): Record<string, unknown> {
  const s = schemas();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const key = `${r.method} ${r.path}`;
    const op = PIER_OPERATIONS[key] ?? s.operations[key] ?? {
      summary: r.operationId, parameters: [], responses: { 200: { description: 'OK', schema: { type: 'object' } }, ...errorResponses },
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      ...op, operationId: r.operationId, tags: [r.tag], ...(r.pier ? { 'x-pier': true } : {}),
    };
  }
  const needed = new Set<string>();
  collectRefs(paths, needed);
  const definitions: Record<string, unknown> = {};
  const queue = [...needed];
  while (queue.length) {
    const name = queue.pop()!;
    if (definitions[name] || !s.definitions[name]) continue;
    definitions[name] = s.definitions[name];
    const more = new Set<string>();
    collectRefs(s.definitions[name], more);
    for (const m of more) if (!definitions[m]) queue.push(m);
  }
  return {
    swagger: '2.0',
    info: {
      title: 'Pier API',
      version: '1.0.0',
      description: "Pier's Koyeb-compatible v1 API: only the operations listed here are served; other /v1 paths answer 501 not_implemented.",
    },
    basePath: '/',
    schemes: ['http', 'https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    securityDefinitions: s.securityDefinitions,
    security: [{ Bearer: [] }],
    paths,
    definitions,
  };
}
