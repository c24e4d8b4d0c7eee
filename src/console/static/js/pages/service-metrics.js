// Metrics tab: requests, latency, instances, CPU and memory charts drawn with uPlot.
import uPlot from '/vendor/uplot.esm.js';
import { api } from '../api.js';
import { h, replace } from '../dom.js';
import { formatBytes } from '../lib/format.js';
import { instanceCounts, seriesLabel, timeLabel, toColumns } from '../lib/metrics.js';
import { errorText, notice } from '../ui.js';

const REFRESH_MS = 30000;
const PALETTE = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626', '#65a30d'];
// Pier's API also takes steps in seconds, so the shortest range shows every sample of its 10 s sampler.
const RANGES = [['15m', 15 * 60e3, '10s'], ['1h', 3600e3, '1m'], ['6h', 6 * 3600e3, '5m'], ['24h', 24 * 3600e3, '15m'], ['7d', 7 * 24 * 3600e3, '1h']];
const DEFAULT_RANGE = '1h';

const CHARTS = [
  { key: 'requests', title: 'Requests', unit: 'req/s', names: ['HTTP_THROUGHPUT'] },
  { key: 'latency', title: 'Response time', unit: 'ms', names: ['HTTP_RESPONSE_TIME_50P', 'HTTP_RESPONSE_TIME_90P', 'HTTP_RESPONSE_TIME_99P'], labels: ['p50', 'p90', 'p99'] },
  // INSTANCE_COUNT is Pier's recorded count; an API without it falls back to counting the CPU series.
  { key: 'instances', title: 'Instances', unit: '', names: ['INSTANCE_COUNT', 'CPU_TOTAL_PERCENT'], derive: 'instances' },
  { key: 'cpu', title: 'CPU', unit: '%', names: ['CPU_TOTAL_PERCENT'] },
  { key: 'memory', title: 'Memory', unit: 'bytes', names: ['MEM_RSS'] },
  { key: 'transfer', title: 'Public data transfer out', unit: 'bytes/s', names: ['PUBLIC_DATA_TRANSFER_OUT'] },
];

/** Mounts the metrics tab for a service; returns {stop}. */
export function metricsTab(panel, serviceId) {
  const plots = new Map();
  const cards = new Map();
  const problem = h('div');
  const range = h('select', { 'aria-label': 'Time range', onchange: () => load() }, RANGES.map(([k]) => h('option', { value: k, selected: k === DEFAULT_RANGE }, `Last ${k}`)));
  replace(panel,
    h('div', { class: 'toolbar' }, h('h2', { class: 'sr-only' }, 'Metrics'), range, h('div', { class: 'spacer' })),
    problem,
    h('div', { class: 'charts' }, CHARTS.map((c) => {
      const body = h('div', { class: 'chart-body' });
      const card = h('figure', { class: 'card chart', 'data-chart': c.key }, h('figcaption', null, c.title, c.unit ? h('span', { class: 'muted small' }, ` (${c.unit})`) : null), body);
      cards.set(c.key, body);
      return card;
    })));
  const timer = setInterval(load, REFRESH_MS);
  const resize = new ResizeObserver(() => { for (const [key, p] of plots) p.setSize(size(cards.get(key))); });
  resize.observe(panel);
  load();
  return { stop };

  async function load() {
    const [, ms, step] = RANGES.find(([k]) => k === range.value) ?? RANGES[1];
    const query = { service_id: serviceId, start: new Date(Date.now() - ms).toISOString(), end: new Date().toISOString(), step };
    const wanted = [...new Set(CHARTS.flatMap((c) => c.names))];
    let replies;
    try {
      replies = Object.fromEntries(await Promise.all(wanted.map(async (name) => [name, await fetchMetric(query, name)])));
      replace(problem);
    } catch (err) {
      replace(problem, notice(err.status === 501 || err.status === 404 ? 'warn' : 'error', `Metrics are unavailable: ${errorText(err)}`));
      return;
    }
    for (const c of CHARTS) draw(c, replies);
  }

  function draw(chart, replies) {
    let data;
    let names;
    if (chart.derive === 'instances') {
      const recorded = replies[chart.names[0]]?.[0];
      data = recorded ? toColumns([recorded]) : instanceCounts(replies[chart.names[1]]);
      names = ['instances'];
    } else if (chart.names.length > 1) {
      // Latency: one series per quantile, taking the service-wide (first) series of each metric.
      const metrics = chart.names.map((n) => replies[n]?.[0] ?? { samples: [] });
      data = toColumns(metrics);
      names = chart.labels;
    } else {
      const metrics = replies[chart.names[0]];
      data = toColumns(metrics);
      names = metrics.map((m, i) => seriesLabel(m, metrics.length === 1 ? chart.title.toLowerCase() : `series ${i + 1}`));
    }
    const host = cards.get(chart.key);
    plots.get(chart.key)?.destroy();
    plots.delete(chart.key);
    if (data[0].length === 0 || data.length < 2) {
      replace(host, h('p', { class: 'muted empty-chart' }, 'No data yet for this range.'));
      return;
    }
    replace(host);
    const bytes = chart.unit.startsWith('bytes');
    const value = bytes ? (_u, v) => (v === null ? '' : formatBytes(v)) : (_u, v) => (v === null ? '' : `${round(v)}${chart.unit === '%' ? '%' : ''}`);
    const opts = {
      ...size(host),
      series: [{}, ...names.map((label, i) => ({ label, stroke: PALETTE[i % PALETTE.length], width: 1.5, value, spanGaps: false }))],
      // uPlot's default two-row time labels collide on narrow charts; one row sized to the range reads better.
      axes: [{ values: (u, ticks) => ticks.map((t) => timeLabel(t, (u.scales.x.max ?? 0) - (u.scales.x.min ?? 0))), space: 70 }, { values: (_u, ticks) => ticks.map((t) => (bytes ? formatBytes(t) : round(t))), size: 64 }],
      scales: chart.derive === 'instances' ? { y: { range: (_u, _min, max) => [0, Math.max(1, max + 1)] } } : {},
      legend: { live: true },
    };
    plots.set(chart.key, new uPlot(opts, data, host));
  }

  function stop() {
    clearInterval(timer);
    resize.disconnect();
    for (const p of plots.values()) p.destroy();
    plots.clear();
  }
}

/** One metric's series; a name this API does not know (400) is just empty, so older servers still chart the rest. */
async function fetchMetric(query, name) {
  try {
    return (await api('GET', '/v1/streams/metrics', { query: { ...query, name } })).metrics ?? [];
  } catch (err) {
    if (err.status === 400 && name === 'INSTANCE_COUNT') return [];
    throw err;
  }
}

function size(host) {
  return { width: Math.max(240, (host?.clientWidth ?? 480) - 8), height: 180 };
}

function round(v) {
  return Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100;
}
