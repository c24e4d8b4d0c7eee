// Pure builders for URLs the console shows or calls: the service's public URL and the log endpoints.

/**
 * The public URL of a web service, or undefined when it has none (worker, private, or unknown domain).
 * Prefers the app's auto-assigned domain; otherwise builds "<app>-<org>.<domain>" from /v1/pier/info.
 * The edge's scheme and port come from info.edge_url.
 */
export function publicUrl({ app, definition, info, organizationName }) {
  if (!definition || (definition.type && definition.type !== 'WEB')) return undefined;
  if (!definition.routes || definition.routes.length === 0) return undefined;
  const auto = (app?.domains ?? []).find((d) => d.type === 'AUTOASSIGNED' && d.name);
  let host = auto?.name;
  if (!host && info?.domain && app?.name && organizationName) host = `${app.name}-${organizationName}.${info.domain}`;
  if (!host) return undefined;
  let scheme = 'http:';
  let port = '';
  if (info?.edge_url) {
    try {
      const edge = new URL(info.edge_url);
      scheme = edge.protocol;
      port = edge.port;
    } catch { /* keep defaults: a malformed edge_url should not hide the host */ }
  }
  const path = definition.routes[0].path && definition.routes[0].path !== '/' ? definition.routes[0].path : '/';
  return `${scheme}//${host}${port ? ':' + port : ''}${path}`;
}

/** Query string for /v1/streams/logs/query and /tail from the console's log filters. */
export function logParams({ type = 'runtime', serviceId, deploymentId, instanceId, text, start, end, order, limit, streams }) {
  const p = new URLSearchParams();
  p.set('type', type);
  if (serviceId) p.set('service_id', serviceId);
  if (deploymentId) p.set('deployment_id', deploymentId);
  if (instanceId) p.set('instance_id', instanceId);
  if (text) p.set('text', text);
  if (start) p.set('start', start);
  if (end) p.set('end', end);
  if (order) p.set('order', order);
  if (limit) p.set('limit', String(limit));
  for (const s of streams ?? []) p.append('streams', s);
  return p;
}

/** The websocket URL of the live log tail, on the page's own origin. */
export function tailUrl(location, params) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/v1/streams/logs/tail?${params.toString()}`;
}
