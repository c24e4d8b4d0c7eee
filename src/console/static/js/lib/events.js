// Pure: merges the events of a service's levels (service, deployments, instances) into one timeline, newest first,
// each row saying which level it belongs to in the words the page shows.

/**
 * One timeline from lists of events. `deployments` and `instances` are the service's rows (for labels: "v3",
 * "instance 1a2b3c4d"); events of ids absent there keep a short id. At most `limit` rows.
 */
export function timeline({ serviceEvents = [], deploymentEvents = [], instanceEvents = [], deployments = [], limit = 50 }) {
  const version = new Map(deployments.map((d) => [d.id, d.version]));
  const rows = [
    ...serviceEvents.map((e) => ({ ...row(e), level: 'service', subject: 'service' })),
    ...deploymentEvents.map((e) => ({ ...row(e), level: 'deployment', subject: version.has(e.deployment_id) ? `deployment v${version.get(e.deployment_id)}` : `deployment ${short(e.deployment_id)}` })),
    ...instanceEvents.map((e) => ({ ...row(e), level: 'instance', subject: `instance ${short(e.instance_id)}` })),
  ];
  // Same time: the finer level first (an instance going HEALTHY explains its deployment going HEALTHY).
  const rank = { instance: 0, deployment: 1, service: 2 };
  rows.sort((a, b) => b.when.localeCompare(a.when) || rank[a.level] - rank[b.level]);
  return rows.slice(0, limit);
}

function row(e) {
  return { id: e.id, when: e.when, type: e.type, message: e.message };
}

function short(id) {
  return String(id ?? '').slice(0, 8);
}

/** "alice created service web" → the words of one activity row: who, what they did, to what. */
export function activityText(a) {
  const object = `${a.object?.type ?? 'object'} ${a.object?.name ?? ''}`.trim();
  return `${a.actor?.name ?? 'someone'} ${a.verb} ${object}`;
}
