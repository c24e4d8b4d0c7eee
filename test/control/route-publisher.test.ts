// The route publisher: what reaches the in-process edge and the remote edges' feed, and in which order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRoutePublisher } from '../../src/control/route-publisher.ts';
import { EdgeRouteFeed } from '../../src/edge/route-feed.ts';
import type { AppRoutes, Edge } from '../../src/edge/types.ts';

const table = (name: string): AppRoutes[] => [{ appId: name, hosts: [`${name}.example`], routes: [] } as unknown as AppRoutes];

function recordingEdge(): { edge: Edge; tables: AppRoutes[][] } {
  const tables: AppRoutes[][] = [];
  return { tables, edge: { setRoutes: (apps: AppRoutes[]) => { tables.push(apps); } } as unknown as Edge };
}

test('a table reaches the edge and the feed once; the same table is not resent', async () => {
  const { edge, tables } = recordingEdge();
  const feed = new EdgeRouteFeed();
  let current = table('a');
  const p = createRoutePublisher({ routes: async () => current, edge: () => edge, feed, log: () => {} });
  await p.refresh();
  await p.refresh();
  assert.equal(tables.length, 1);
  assert.equal(feed.current()?.json, JSON.stringify(current));
  current = table('b');
  await p.refresh();
  assert.deepEqual(tables, [table('a'), table('b')]);
  assert.equal(feed.current()?.json, JSON.stringify(table('b')));
});

test('an older, slower computation never overwrites a newer table', async () => {
  const { edge, tables } = recordingEdge();
  const feed = new EdgeRouteFeed();
  const pending: ((apps: AppRoutes[]) => void)[] = [];
  const p = createRoutePublisher({ routes: () => new Promise((resolve) => pending.push(resolve)), edge: () => edge, feed, log: () => {} });
  const older = p.refresh();
  const newer = p.refresh();
  pending[1]!(table('new'));
  await newer;
  pending[0]!(table('old'));
  await older;
  assert.deepEqual(tables, [table('new')]);
  assert.equal(feed.current()?.json, JSON.stringify(table('new')));
});

test('nothing is computed without an edge or a controller; push() logs a failure instead of rejecting', async () => {
  const feed = new EdgeRouteFeed();
  let asked = 0;
  const none = createRoutePublisher({ routes: async () => { asked++; return []; }, edge: () => undefined, feed, log: () => {} });
  await none.refresh();
  const noController = createRoutePublisher({ routes: () => undefined, edge: () => recordingEdge().edge, feed, log: () => {} });
  await noController.refresh();
  assert.equal(asked, 0);
  assert.equal(feed.current(), undefined);
  const lines: string[] = [];
  const failing = createRoutePublisher({ routes: async () => { throw new Error('store gone'); }, edge: () => recordingEdge().edge, feed, log: (l) => lines.push(l) });
  await failing.push();
  assert.deepEqual(lines, ['pier: updating edge routes failed: store gone']);
});
