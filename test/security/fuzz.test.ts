// Bounded fuzzing of the API with fast-check: random and malformed definitions, ids, query strings and bodies over
// every route. Only 4xx with Koyeb-shaped error bodies (never 5xx), and a failed request never leaves a partial write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { apiRoutes } from '../../src/api/routes.ts';
import { declaresKoyebError, errorCodeOf } from '../../src/api/error-body.ts';
import { createApp, createService, startTestPier, webDefinition } from '../api/helpers.ts';

const TABLES = ['organizations', 'api_tokens', 'apps', 'services', 'deployments', 'regional_deployments', 'secrets'];

test('fuzz: random requests get 2xx or 4xx with an error body, and failed requests write nothing', async () => {
  // The fuzzer is one token sending hundreds of requests: no rate limit.
  const t = await startTestPier({ env: { PIER_API_RATE_LIMIT: '0' } });
  try {
    const appId = await createApp(t, 'fuzz');
    const svc = await createService(t, appId, 'web');
    const routes = apiRoutes();
    const counts = async () => {
      const out: Record<string, number> = {};
      for (const table of TABLES) out[table] = Number((await t.pier.store.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))!.n);
      return out;
    };
    const segment = fc.oneof(fc.constant(appId), fc.constant(svc.id), fc.uuid(), fc.string({ minLength: 1, maxLength: 40 }), fc.constant('%00'), fc.constant("' OR 1=1 --"))
      // fetch normalises dot segments away, which would leave the route (unknown /v1 paths are 501 by design).
      .filter((s) => s !== '.' && s !== '..');
    const leaf = fc.oneof(fc.anything({ maxDepth: 2 }), fc.string({ maxLength: 300 }), fc.integer(), fc.constant(null), fc.constant(-1), fc.constant(1e300));
    // Valid definitions with one field replaced by junk, so validation deep inside the definition is reached.
    const definition = fc.record({ key: fc.constantFrom('type', 'docker', 'ports', 'routes', 'env', 'regions', 'scalings', 'instance_types', 'git', 'health_checks', 'name'), junk: leaf })
      .map(({ key, junk }) => ({ ...webDefinition(), [key]: junk }));
    const body = fc.oneof(
      leaf,
      fc.record({ name: fc.oneof(fc.string({ maxLength: 70 }), leaf), app_id: fc.oneof(fc.constant(appId), leaf), definition }, { requiredKeys: [] }),
      fc.record({ name: fc.string({ maxLength: 20 }), type: fc.oneof(fc.constantFrom('SIMPLE', 'REGISTRY', 'ORGANIZATION'), leaf), value: leaf, read_only: leaf, expires_at: leaf }, { requiredKeys: [] }),
      fc.record({ definition, skip_build: leaf, use_cache: leaf }, { requiredKeys: [] }),
    );
    const raw = fc.oneof(fc.constant('{'), fc.constant('[1,2'), fc.string({ maxLength: 100 }), fc.constant('null'), fc.constant('{"name":'));
    const query = fc.array(fc.tuple(fc.constantFrom('limit', 'offset', 'app_id', 'service_id', 'name', 'types', 'statuses', 'order', 'id', 'start', 'end'), fc.oneof(fc.string({ maxLength: 20 }), fc.constant('-5'), fc.constant('99999999999'))), { maxLength: 3 });
    const request = fc.record({
      route: fc.integer({ min: 0, max: routes.length - 1 }), params: fc.array(segment, { minLength: 3, maxLength: 3 }), query,
      payload: fc.oneof(body.map((b) => ({ json: true as const, b })), raw.map((b) => ({ json: false as const, b }))),
    });

    let failures = 0;
    const deadline = Date.now() + 20_000; // bounded in time as well as in runs
    await fc.assert(fc.asyncProperty(request, async (r) => {
      if (Date.now() > deadline) return;
      const route = routes[r.route]!;
      let i = 0;
      const path = route.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(r.params[i++]!));
      const qs = new URLSearchParams(r.query).toString();
      const before = await counts();
      const init: RequestInit = { method: route.method, headers: { authorization: `Bearer ${t.token}`, 'content-type': 'application/json' } };
      if (route.method !== 'GET') init.body = r.payload.json ? JSON.stringify(r.payload.b) ?? 'null' : r.payload.b;
      const res = await fetch(`${t.url}${path}${qs ? `?${qs}` : ''}`, init);
      const text = await res.text();
      const label = `${route.method} ${path}?${qs} ${String(init.body).slice(0, 200)} -> ${res.status} ${text.slice(0, 300)}`;
      assert.ok(res.status < 500, label);
      if (res.status >= 400) {
        failures++;
        const err = JSON.parse(text) as { status: number; code: string | number; message: string };
        assert.equal(err.status, res.status, label);
        // Koyeb's shape where its spec declares the status (code a string), google.rpc.Status elsewhere (an int code);
        // Pier's own code is in details either way (src/api/error-body.ts).
        assert.equal(typeof err.code, declaresKoyebError(path, res.status) ? 'string' : 'number', label);
        assert.equal(typeof errorCodeOf(err), 'string', label);
        assert.equal(typeof err.message, 'string', label);
        assert.deepEqual(await counts(), before, `partial write: ${label}`);
      }
    }), { numRuns: 400, seed: Number(process.env.PIER_FUZZ_SEED ?? Date.now() % 2 ** 31), endOnFailure: true });
    assert.ok(failures > 0, 'the fuzzer reached the error paths');
  } finally {
    await t.close();
  }
});
