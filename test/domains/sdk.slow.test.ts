// Koyeb's own Python SDK drives /v1/domains against a real Pier, and still reads an app that carries Pier's `pier`
// extension key. Skips, naming the reason, when the SDK is not installed (scripts/install-koyeb-clients.sh --sdk-only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../../src/config.ts';
import { startPier } from '../../src/main.ts';
import { apiClient } from '../support/api-client.ts';
import { koyebSdkPython } from '../compat/clients.ts';

const sdk = koyebSdkPython();
const skip = 'error' in sdk ? `koyeb SDK absent: ${sdk.error}` : false;
const TOKEN = 'domains-sdk-test-token-0123456789';

// Values reach the script through argv, never spliced into its source.
const SCRIPT = `
import sys, json
import koyeb.api as k
from koyeb.api.api import apps_api, domains_api
from koyeb.api.models.create_domain import CreateDomain
from koyeb.api.models.update_domain import UpdateDomain
url, token, app_id = sys.argv[1:4]
c = k.Configuration(host=url); c.api_key['Bearer'] = token; c.api_key_prefix['Bearer'] = 'Bearer'
cl = k.ApiClient(c)
out = {}
a = apps_api.AppsApi(cl).get_app(app_id).app
out['app_domains'] = [d.name for d in a.domains]
api = domains_api.DomainsApi(cl)
d = api.create_domain(CreateDomain(name='sdk.example.com', type='CUSTOM', app_id=app_id)).domain
out['created'] = [d.name, str(d.status.value if hasattr(d.status, 'value') else d.status), d.intended_cname, d.messages[0]]
l = api.list_domains(types=['CUSTOM'])
out['listed'] = [x.name for x in l.domains]
out['detached'] = api.update_domain(d.id, UpdateDomain(app_id='')).domain.app_id
api.refresh_domain_status(d.id)
api.delete_domain(d.id)
out['after_delete'] = str(api.get_domain(d.id).domain.status)
print(json.dumps(out))
`;

test('Koyeb Python SDK: domains create / list / update / refresh / delete, app with the pier key', { skip, timeout: 60_000 }, async () => {
  if ('error' in sdk) return;
  const dir = mkdtempSync(join(tmpdir(), 'pier-domains-sdk-'));
  const pier = await startPier(loadConfig({ 'data-dir': dir, 'api-addr': '127.0.0.1:0', 'edge-addr': '127.0.0.1:0' }, { ...process.env, PIER_TOKEN: TOKEN }), {
    components: () => [], log: () => undefined,
  });
  try {
    const api = apiClient(pier.apiUrl, TOKEN);
    const app = (await api('POST', '/v1/apps', { name: 'sdkapp', pier: { https_redirect: true } })).body.app;
    const { stdout } = await promisify(execFile)(sdk.path, ['-c', SCRIPT, pier.apiUrl, TOKEN, app.id], { encoding: 'utf8', timeout: 50_000 });
    const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
    assert.deepEqual(out.app_domains, ['sdkapp-pier.localhost']);
    assert.deepEqual(out.created, ['sdk.example.com', 'PENDING', 'sdkapp-pier.localhost', 'Set a DNS record: CNAME sdk.example.com → sdkapp-pier.localhost']);
    assert.deepEqual(out.listed, ['sdk.example.com']);
    assert.equal(out.detached, '');
    assert.match(out.after_delete, /DELETING/);
  } finally {
    await pier.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
