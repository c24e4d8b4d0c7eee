import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendLoadWatch, backendStatCommands, parseBackendRows } from './load-watch.ts';

test('show stat output: the BACKEND row of each block, by backend name', () => {
  const head = '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,';
  const row = (px: string, sv: string, scur: number, req: number) => {
    const f = head.slice(2).split(',').map(() => '');
    const cols = head.slice(2).split(',');
    f[cols.indexOf('pxname')] = px; f[cols.indexOf('svname')] = sv; f[cols.indexOf('scur')] = String(scur); f[cols.indexOf('req_tot')] = String(req);
    return f.join(',');
  };
  const out = [head, row('s_a_8000', 's1', 1, 5), row('s_a_8000', 'BACKEND', 3, 40), '', head, row('s_b_8000', 'BACKEND', 0, 7), ''].join('\n');
  assert.deepEqual([...parseBackendRows(out)], [['s_a_8000', { reqTot: 40, scur: 3 }], ['s_b_8000', { reqTot: 7, scur: 0 }]]);
  assert.deepEqual(backendStatCommands(['a', 'b']), ['show stat a 2 -1;show stat b 2 -1']);
  assert.equal(backendStatCommands(Array.from({ length: 250 }, (_, i) => `b${i}`)).length, 3);
});

test('a backend is reported when its requests per second or sessions pass what its servers take, below max only', () => {
  const w = new BackendLoadWatch();
  const watch = { max: 3, perSecond: 5, inFlight: 10 };
  assert.equal(w.observe('b', { reqTot: 100, scur: 0 }, 1, watch, 0), false, 'the first reading is the baseline');
  assert.equal(w.observe('b', { reqTot: 100, scur: 0 }, 1, watch, 100), false);
  assert.equal(w.observe('b', { reqTot: 101, scur: 0 }, 1, watch, 200), false, 'one request is no rate');
  assert.equal(w.observe('b', { reqTot: 102, scur: 0 }, 1, watch, 600), false, '1 request in 400 ms is under 5 per second');
  assert.equal(w.observe('b', { reqTot: 121, scur: 0 }, 1, watch, 700), true, '19 in 100 ms');
  assert.equal(w.observe('b', { reqTot: 121, scur: 50 }, 1, watch, 720), false, 'not again within the gap');
  assert.equal(w.observe('b', { reqTot: 121, scur: 0 }, 1, watch, 800), false, 'no request in the window after the rise: over');
  assert.equal(w.observe('b', { reqTot: 121, scur: 50 }, 1, watch, 850), true, '50 in flight on one server at target 10');
  assert.equal(w.observe('b', { reqTot: 999, scur: 50 }, 3, watch, 900), false, 'at max: nothing to ask for');
  assert.equal(w.observe('b', { reqTot: 3, scur: 0 }, 1, watch, 1000), false, 'a reload reset the counters: a new baseline');
  w.keep(new Set());
  assert.equal(w.observe('b', { reqTot: 500, scur: 0 }, 1, watch, 1100), false, 'a forgotten backend starts again from a baseline');
});

test('a window closes at a reading a hair short of RATE_WINDOW_MS, and a rise is reported on every reading until one closes under', () => {
  const w = new BackendLoadWatch();
  const watch = { max: 3, perSecond: 5 };
  assert.equal(w.observe('b', { reqTot: 0, scur: 0 }, 1, watch, 0), false, 'the baseline');
  assert.equal(w.observe('b', { reqTot: 10, scur: 0 }, 1, watch, 49.8), false, 'half a window: not closed yet');
  // Readings come every 50 ms give or take jitter: the one at 99.6 ms closes the window (20 in 99.6 ms).
  assert.equal(w.observe('b', { reqTot: 20, scur: 0 }, 1, watch, 99.6), true, 'closed a hair short of 100 ms');
  assert.equal(w.observe('b', { reqTot: 30, scur: 0 }, 1, watch, 150), true, 'the rise goes on: reported between windows');
  assert.equal(w.observe('b', { reqTot: 40, scur: 0 }, 1, watch, 200.5), true, 'its window closed over again');
  assert.equal(w.observe('b', { reqTot: 40, scur: 0 }, 1, watch, 300), false, 'a window with no request: the rise is over');
  assert.equal(w.observe('b', { reqTot: 40, scur: 0 }, 1, watch, 350), false, 'and stays so between windows');
});
