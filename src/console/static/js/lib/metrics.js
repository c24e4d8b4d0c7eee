// Pure conversion of GET /v1/streams/metrics replies into uPlot's column data.

/** Merges series onto one sorted time axis (seconds); a series missing a timestamp gets null there. */
export function toColumns(metrics) {
  const times = new Set();
  const maps = [];
  for (const m of metrics ?? []) {
    const map = new Map();
    for (const s of m.samples ?? []) {
      const t = Math.round(Date.parse(s.timestamp) / 1000);
      if (Number.isNaN(t)) continue;
      times.add(t);
      map.set(t, Number(s.value));
    }
    maps.push(map);
  }
  const xs = [...times].sort((a, b) => a - b);
  return [xs, ...maps.map((map) => xs.map((t) => (map.has(t) ? map.get(t) : null)))];
}

/** Number of instances reporting at each timestamp, derived from a per-instance metric such as CPU_TOTAL_PERCENT. */
export function instanceCounts(metrics) {
  const cols = toColumns(metrics);
  const xs = cols[0];
  const counts = xs.map((_, i) => cols.slice(1).reduce((n, col) => n + (col[i] === null ? 0 : 1), 0));
  return [xs, counts];
}

/** A short legend label for a series from its labels (instance, region or the metric's name). */
export function seriesLabel(metric, fallback) {
  const l = metric?.labels ?? {};
  return l.instance_id ? l.instance_id.slice(0, 8) : l.region ?? l.quantile ?? fallback;
}

/** An x-axis tick label (local time) for a chart spanning `spanSeconds`: seconds only when the span is short. */
export function timeLabel(seconds, spanSeconds) {
  const d = new Date(seconds * 1000);
  const two = (n) => String(n).padStart(2, '0');
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  if (spanSeconds <= 30 * 60) return `${hm}:${two(d.getSeconds())}`;
  if (spanSeconds <= 24 * 3600) return hm;
  return `${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
}
