// `pier edge`: a regional edge proxy away from the control plane. It reads the route table from the API with an
// operator token, prefers instances of its own region and keeps serving the last table while the API is away.
import type { Command } from '../command.ts';
import { CliError } from '../errors.ts';
import { resolveSettings } from '../settings.ts';
import { edgeDataplaneChoice, loadTcpProxyLimits } from '../../config.ts';
import { parseRegionMap } from '../../edge/regions.ts';
import { REGION_ID } from '../../edge/remote-traffic.ts';

/** `pier edge --api URL --token T --addr HOST:PORT --region R`. */
export const edgeCommand: Command = {
  name: 'edge',
  summary: 'Run an edge proxy for one region, fed by the API, in the foreground until Ctrl-C',
  flags: [
    { name: 'api', kind: 'string', placeholder: 'URL[,URL...]', help: "Control planes' APIs, any of them: the edge follows the leader and skips dead ones (else --url, PIER_URL, credentials.json)" },
    { name: 'addr', kind: 'string', placeholder: 'HOST:PORT', help: 'Listen address (port 0: any free port)', defaultText: '0.0.0.0:8000' },
    { name: 'region', kind: 'string', placeholder: 'REGION', help: "This edge's region: its clients go to that region's instances first" },
    { name: 'region-map', kind: 'string', placeholder: 'FILE', help: "Client networks by region, one 'CIDR REGION' per line, first match wins: clients without the x-pier-region header go to their network's region first (else this edge's)" },
    { name: 'workers', kind: 'int', placeholder: 'N', help: "Worker processes sharing the listen socket (the Node edge's; behind HAProxy it runs one)", defaultText: '1' },
    { name: 'dataplane', kind: 'string', placeholder: 'auto|haproxy|node', help: 'What serves the address: HAProxy in front of the Node edge, or the Node edge alone (env PIER_EDGE_DATAPLANE)', defaultText: 'auto: haproxy where installed' },
    { name: 'dir', kind: 'string', placeholder: 'DIR', help: "HAProxy's files (config, sockets); a fresh temporary directory when unset" },
  ],
  examples: [
    'pier edge --api http://10.0.0.1:7700,http://10.0.0.2:7700 --token $PIER_TOKEN --addr 0.0.0.0:80 --region fra',
    'pier edge --api http://10.0.0.1:7700 --token $PIER_TOKEN --addr 0.0.0.0:80 --region fra --region-map /etc/pier/regions.txt',
  ],
  run: async (ctx) => {
    const apiList = ctx.args.str('api');
    const settings = resolveSettings({ url: apiList?.split(',')[0]?.trim() || ctx.args.str('url'), token: ctx.args.str('token') }, ctx.io.env, ctx.io.readFile);
    if (!settings.token) throw new CliError('pier edge needs an operator token: --token or PIER_TOKEN');
    const region = ctx.args.str('region');
    if (!region) throw new CliError('pier edge needs --region (the region this edge serves)');
    if (!REGION_ID.test(region)) throw new CliError(`--region ${JSON.stringify(region)} is not a region id (lower-case letters, digits and '-', e.g. fra)`);
    const workers = ctx.args.int('workers') ?? 1;
    const mapFile = ctx.args.str('region-map');
    let regionMap;
    if (mapFile !== undefined) {
      let text;
      try {
        text = ctx.io.readFile(mapFile);
      } catch (err) {
        throw new CliError(`--region-map: cannot read ${mapFile}: ${(err as Error).message}`);
      }
      try {
        regionMap = parseRegionMap(text, mapFile);
      } catch (err) {
        throw new CliError(`--region-map: ${(err as Error).message}`);
      }
    }
    const flag = ctx.args.str('dataplane');
    let dataplane;
    let tcpProxyLimits;
    try {
      dataplane = edgeDataplaneChoice(flag ?? ctx.io.env.PIER_EDGE_DATAPLANE, ctx.io.env.PATH, flag !== undefined ? '--dataplane' : 'PIER_EDGE_DATAPLANE');
      tcpProxyLimits = loadTcpProxyLimits(ctx.io.env).tcpProxyLimits;
    } catch (err) {
      throw new CliError((err as Error).message);
    }
    const { createRemoteEdge } = await import('../../edge/remote.ts');
    const stop = new AbortController();
    const stopped = new Promise<void>((resolve) => {
      const off = ctx.io.onInterrupt(() => { off(); stop.abort(); resolve(); });
    });
    let remote;
    try {
      remote = await createRemoteEdge({
        api: apiList ?? settings.url, token: settings.token, addr: ctx.args.str('addr') ?? '0.0.0.0:8000', region,
        edge: { workers, ...(regionMap ? { regionMap } : {}) }, log: (line) => ctx.err(line), signal: stop.signal, dataplane, dir: ctx.args.str('dir'), tcpProxyLimits,
      });
    } catch (err) {
      if (stop.signal.aborted) return 0;
      throw new CliError((err as Error).message);
    }
    // Bound already (503 "no route table yet" meanwhile); "serving" is said once the first table arrived.
    const served = await Promise.race([remote.firstTable.then(() => true, () => false), stopped.then(() => false)]);
    if (served) ctx.err(`pier edge: serving on ${remote.url} (readiness: ${remote.url}/_pier/ready; Ctrl-C to stop)`);
    await stopped;
    await remote.close();
    ctx.err('pier edge: stopped');
    return 0;
  },
};
