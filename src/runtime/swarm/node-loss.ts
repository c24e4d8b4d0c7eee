// Pier's own verdict that a Swarm node is lost, ahead of Swarm's: Pier pings every node's engine (the sockets of
// PIER_SWARM_NODE_SOCKETS) and drains a worker whose engine stopped answering, so its instances are reported lost and
// their replacements cannot be placed there while Swarm still counts it as ready; it sets the node back to active
// once its engine answers again and Swarm says ready. Only nodes Pier drained (the label below) are ever restored.
import { DockerEngine } from '../docker/engine.ts';
import { nodeAddress, nodeName, type NodeJson } from './spec.ts';

/** The node label recording that Pier drained the node because its engine stopped answering (value `1`). */
export const DRAINED_FOR_LOSS_LABEL = 'dev.pier.drained-for-loss';

/** Consecutive outcomes of the pings of one node's engine (one of the two is always 0), and when that run began. */
export interface NodeProbe { misses: number; answers: number; sinceMs?: number }

/** When a probed node is drained and restored. */
export interface NodeLossRules {
  /** Pings missed in a row (no answer within the timeout, or an error) before Pier drains the node. */
  misses: number;
  /** Pings answered in a row before a node Pier drained is set back to active (Swarm must also say ready). */
  answers: number;
}

/** One step the planner asks for, with the reason that goes to the log. */
export interface NodeAction { kind: 'drain' | 'restore' | 'forget'; node: NodeJson; reason: string }

/** Whether a node is a Swarm manager (never drained by Pier: draining it would not stop it being the cluster's brain). */
export function isManager(node: NodeJson): boolean {
  return node.Spec.Role === 'manager' || !!node.ManagerStatus;
}

/** Whether Pier drained the node for loss (its engine stopped answering): its tasks count as lost. */
export function drainedForLoss(node: NodeJson | undefined): boolean {
  return node?.Spec.Labels?.[DRAINED_FOR_LOSS_LABEL] === '1';
}

/** Whether the node can be counted on: Swarm says ready and Pier has not judged it lost. */
export function nodeUsable(node: NodeJson | undefined): boolean {
  return node?.Status.State === 'ready' && !drainedForLoss(node);
}

/**
 * Pure: what to do about the nodes, given the pings of their engines (keyed by node address). Rules:
 * - drain a node after `rules.misses` missed pings in a row, if it is a worker, active (never an operator's drain or
 *   pause) and still `ready` for Swarm (a node Swarm declared down needs nothing from Pier), and only while at least half
 *   the probed nodes answer: when most are silent at once, Pier's own side (its host, its network) is the likelier fault;
 * - restore a node carrying the label once `rules.answers` pings in a row answered and Swarm says ready: back to
 *   active if it is still drained, else (an operator changed it meanwhile) only the label goes.
 * A node without a probe (no socket) is left to Swarm.
 */
export function planNodeActions(nodes: readonly NodeJson[], probes: ReadonlyMap<string, NodeProbe>, rules: NodeLossRules, nowMs = 0): NodeAction[] {
  const over = (p: NodeProbe) => (p.sinceMs && nowMs ? ` over ${((nowMs - p.sinceMs) / 1000).toFixed(1)} s` : '');
  const probed = nodes.map((n) => probes.get(nodeAddress(n) ?? '')).filter((p): p is NodeProbe => !!p);
  const answering = probed.filter((p) => p.misses === 0).length;
  const halfAnswer = answering > 0 && answering * 2 >= probed.length;
  const out: NodeAction[] = [];
  for (const node of nodes) {
    const p = probes.get(nodeAddress(node) ?? '');
    if (!p) continue;
    if (drainedForLoss(node)) {
      if (p.answers >= rules.answers && node.Status.State === 'ready') {
        out.push(node.Spec.Availability === 'drain'
          ? { kind: 'restore', node, reason: `its engine answered ${p.answers} pings in a row${over(p)} and Swarm says ready` }
          : { kind: 'forget', node, reason: `its availability was changed to ${node.Spec.Availability ?? 'unknown'} meanwhile` });
      }
      continue;
    }
    if (p.misses < rules.misses || isManager(node) || node.Spec.Availability !== 'active' || node.Status.State !== 'ready') continue;
    if (!halfAnswer) continue;
    out.push({ kind: 'drain', node, reason: `its engine missed ${p.misses} pings in a row${over(p)} while Swarm still said ready` });
  }
  return out;
}

/** The node spec that carries out an action (the whole spec goes back: Swarm replaces it). */
export function nodeUpdateSpec(action: NodeAction): Record<string, unknown> {
  const labels = { ...action.node.Spec.Labels };
  if (action.kind === 'drain') labels[DRAINED_FOR_LOSS_LABEL] = '1';
  else delete labels[DRAINED_FOR_LOSS_LABEL];
  return {
    ...action.node.Spec,
    Labels: labels,
    ...(action.kind === 'drain' ? { Availability: 'drain' } : action.kind === 'restore' ? { Availability: 'active' } : {}),
  };
}

/** Timing of the node watch. */
export interface NodeLossTiming {
  /** Between two pings of a node's engine while it answers. */
  intervalMs: number;
  /** Between two pings once it missed one (so `misses` pings fit in a short window); also the manager's retry. */
  retryMs: number;
  /** How long one ping may take before it counts as missed. */
  timeoutMs: number;
  /** Between two passes over the manager's node list when no node crossed a threshold. */
  nodesMaxAgeMs: number;
}

/** The defaults, argued in docs/swarm.md ("Pier's own node-loss verdict"). */
export const NODE_LOSS_DEFAULTS: NodeLossRules & NodeLossTiming = {
  misses: 3, answers: 3, intervalMs: 500, retryMs: 250, timeoutMs: 1000, nodesMaxAgeMs: 2000,
};

const sleep = (ms: number, signal: AbortSignal) => new Promise<void>((resolve) => {
  if (signal.aborted) return resolve();
  const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
  const onAbort = () => { clearTimeout(t); resolve(); };
  signal.addEventListener('abort', onAbort, { once: true });
});

/**
 * Pings every node engine in its own loop (a dead node's misses are counted at its own pace, not at the pace of the
 * slowest live engine) and applies `planNodeActions` through the manager (POST /nodes/{id}/update with the version
 * just read) whenever a node crosses a threshold, and every `nodesMaxAgeMs` (labels set by an earlier process, a node
 * Swarm says ready again). Calls `onChange` after each node it updated (the manager's node event follows anyway) and
 * `log` with one line per action. Returns the function that stops it. Bounded: one ping in flight per node, each
 * bounded by `timeoutMs`; one manager pass at a time.
 */
export function watchNodeLoss(
  manager: DockerEngine,
  sockets: Readonly<Record<string, string>>,
  onChange: () => void,
  opts: Partial<NodeLossRules & NodeLossTiming> & { log?: (line: string) => void } = {},
): () => void {
  const o = { ...NODE_LOSS_DEFAULTS, ...opts };
  const ctl = new AbortController();
  const probes = new Map<string, NodeProbe>(Object.keys(sockets).map((addr) => [addr, { misses: 0, answers: 0 }]));
  let kicked = false;
  let wake: (() => void) | undefined;
  const kick = () => { kicked = true; wake?.(); };
  const kickedOrAfter = (ms: number) => new Promise<void>((resolve) => {
    if (kicked || ctl.signal.aborted) return resolve();
    const done = () => { clearTimeout(t); ctl.signal.removeEventListener('abort', done); wake = undefined; resolve(); };
    const t = setTimeout(done, ms);
    wake = done;
    ctl.signal.addEventListener('abort', done, { once: true });
  });

  for (const [addr, socket] of Object.entries(sockets)) {
    const engine = new DockerEngine(socket);
    const p = probes.get(addr)!;
    void (async () => {
      while (!ctl.signal.aborted) {
        const started = Date.now();
        const ok = await engine.ping(o.timeoutMs).then(() => true, () => false);
        if (ok ? p.answers === 0 : p.misses === 0) p.sinceMs = started;
        if (ok) { p.answers += 1; p.misses = 0; } else { p.misses += 1; p.answers = 0; }
        if (p.misses === o.misses || p.answers === o.answers) kick();
        await sleep(p.misses > 0 ? o.retryMs : o.intervalMs, ctl.signal);
      }
    })();
  }

  void (async () => {
    let managerFailing = false;
    while (!ctl.signal.aborted) {
      await kickedOrAfter(o.nodesMaxAgeMs);
      if (ctl.signal.aborted) break;
      kicked = false;
      try {
        // Read fresh each pass: an update needs the node's current version.
        const nodes = await manager.json<NodeJson[]>('GET', '/nodes', { timeoutMs: 5000, signal: ctl.signal });
        for (const action of planNodeActions(nodes, probes, o, Date.now())) {
          if (!action.node.Version) continue;
          const asked = Date.now();
          await manager.json('POST', `/nodes/${encodeURIComponent(action.node.ID)}/update`, {
            query: { version: action.node.Version.Index }, body: nodeUpdateSpec(action), timeoutMs: 5000, signal: ctl.signal,
          });
          o.log?.(`swarm: ${action.kind === 'drain' ? 'drained' : action.kind === 'restore' ? 'set back to active' : 'dropped Pier\'s drain label of'} ${nodeName(action.node, action.node.ID)}: ${action.reason}${Date.now() - asked >= 1000 ? ` (the manager took ${((Date.now() - asked) / 1000).toFixed(1)} s to apply it)` : ''}`);
          try { onChange(); } catch { /* the listener's own business */ }
        }
        managerFailing = false;
      } catch (err) {
        // The manager away or a raced update ("update out of sequence"): the next pass reads the nodes again, soon.
        // Said once per outage, not per pass.
        if (ctl.signal.aborted) break;
        if (!managerFailing) o.log?.(`swarm: node watch cannot read or update nodes through the manager (${(err as Error).message}); retrying`);
        managerFailing = true;
        await sleep(o.retryMs, ctl.signal);
        kicked = true;
      }
    }
  })();
  return () => ctl.abort();
}
