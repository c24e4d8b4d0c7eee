#!/usr/bin/env node
// Run ONCE (re-run only when the reference spec changes): copies the operations and schema definitions of Koyeb's
// core API spec (Swagger 2.0) into src/api/openapi-schemas.json, so the repo builds its OpenAPI document without
// the reference folder. Usage: node scripts/extract-openapi-schemas.mjs [path/to/koyeb-api-v1-core.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const source = resolve(process.argv[2] ?? resolve(root, '../shared/reference/koyeb-api-v1-core.json'));
const spec = JSON.parse(readFileSync(source, 'utf8'));

const operations = {};
for (const [path, ops] of Object.entries(spec.paths)) {
  for (const [method, op] of Object.entries(ops)) {
    if (!op || typeof op !== 'object' || !op.operationId) continue;
    const { summary, description, parameters, responses, tags } = op;
    operations[`${method.toUpperCase()} ${path}`] = { summary, description, parameters, responses, tags };
  }
}

const out = {
  source: 'koyeb/koyeb-api-client-go api/v1/koyeb/openapi.json (core subset), Swagger 2.0',
  info: spec.info,
  securityDefinitions: spec.securityDefinitions,
  operations,
  definitions: spec.definitions,
};
const target = resolve(root, 'src/api/openapi-schemas.json');
writeFileSync(target, JSON.stringify(out, null, 1) + '\n');
console.log(`wrote ${Object.keys(operations).length} operations and ${Object.keys(spec.definitions).length} definitions to ${target}`);
