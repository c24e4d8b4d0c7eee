// Log viewer: search past logs (/v1/streams/logs/query) or follow them live over the tail websocket.
import { api, getToken } from '../api.js';
import { h, replace } from '../dom.js';
import { logParams, tailUrl } from '../lib/urls.js';
import { errorText } from '../ui.js';

const MAX_LINES = 2000;
const MAX_RECONNECTS = 5;
const RANGES = [['15m', 15 * 60e3, '15 minutes'], ['1h', 3600e3, '1 hour'], ['24h', 24 * 3600e3, '24 hours'], ['7d', 7 * 24 * 3600e3, '7 days']];

/** A self-contained log viewer element; `stop()` closes its websocket. */
export function logViewer({ serviceId, deploymentId, type = 'runtime', live = true, compact = false }) {
  let ws;
  let stopped = false;
  let reconnects = 0;
  let reconnectTimer;
  const out = h('pre', { class: `logs${compact ? ' logs-compact' : ''}`, role: 'log', 'aria-label': `${type} logs`, tabindex: '0' });
  const status = h('span', { class: 'log-status muted small', 'aria-live': 'polite' });
  const typeSelect = h('select', { 'aria-label': 'Log type', 'data-log-type': '' },
    h('option', { value: 'runtime', selected: type === 'runtime' }, 'Runtime'), h('option', { value: 'build', selected: type === 'build' }, 'Build'));
  const search = h('input', { type: 'search', placeholder: 'Search logs', 'aria-label': 'Search logs', 'data-log-search': '' });
  const range = h('select', { 'aria-label': 'Time range' }, RANGES.map(([k, , label]) => h('option', { value: k, selected: k === '1h' }, `Last ${label}`)));
  const liveBox = h('input', { type: 'checkbox', checked: live, id: `live-${Math.random().toString(36).slice(2, 8)}` });
  const controls = h('form', { class: 'log-controls', role: 'search', onsubmit: (e) => { e.preventDefault(); restart(); } },
    typeSelect, search, range,
    h('label', { class: 'inline', for: liveBox.id }, liveBox, ' Live'),
    h('button', { type: 'submit', class: 'btn btn-small' }, 'Search'),
    status);
  for (const el of [typeSelect, range, liveBox]) el.addEventListener('change', restart);
  const el = h('div', { class: 'log-viewer' }, compact ? null : controls, out);
  restart();
  return { el, stop };

  function params() {
    const ms = RANGES.find(([k]) => k === range.value)?.[1] ?? 3600e3;
    return logParams({
      type: typeSelect.value, serviceId, deploymentId, text: search.value.trim() || undefined,
      start: new Date(Date.now() - ms).toISOString(), limit: 500,
    });
  }

  function restart() {
    closeSocket();
    replace(out);
    reconnects = 0;
    if (liveBox.checked) openSocket();
    else runQuery();
  }

  async function runQuery() {
    setStatus('Searching…');
    try {
      const p = params();
      p.set('order', 'asc');
      p.set('end', new Date().toISOString());
      const reply = await api('GET', `/v1/streams/logs/query?${p.toString()}`);
      const lines = reply.data ?? [];
      for (const entry of lines) append(entry);
      setStatus(`${lines.length} line${lines.length === 1 ? '' : 's'}${reply.pagination?.has_more ? ' (more available: narrow the range)' : ''}`);
      if (lines.length === 0) out.append(h('span', { class: 'muted' }, 'No log lines match.'));
    } catch (err) {
      setStatus(errorText(err));
    }
  }

  function openSocket() {
    if (stopped) return;
    const token = getToken();
    setStatus('Connecting…');
    // The browser sends these as "Sec-WebSocket-Protocol: Bearer, <token>", as Koyeb's CLI does.
    try {
      ws = new WebSocket(tailUrl(location, params()), token ? ['Bearer', token] : []);
    } catch (err) {
      // A token with characters a subprotocol cannot carry cannot tail; searching still works.
      setStatus(`Live logs unavailable (${err.message}); untick Live to search.`);
      return;
    }
    ws.onopen = () => { reconnects = 0; setStatus('● Live'); };
    ws.onmessage = (event) => {
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      if (frame.result) append(frame.result);
      else if (frame.error) setStatus(`Error: ${frame.error.message ?? JSON.stringify(frame.error)}`);
    };
    ws.onclose = () => {
      if (stopped || !liveBox.checked) return;
      if (reconnects >= MAX_RECONNECTS) { setStatus('Disconnected. Press Search to reconnect.'); return; }
      reconnects += 1;
      setStatus(`Reconnecting (${reconnects}/${MAX_RECONNECTS})…`);
      reconnectTimer = setTimeout(openSocket, 1000 * reconnects);
    };
  }

  function append(entry) {
    const atBottom = out.scrollHeight - out.scrollTop - out.clientHeight < 40;
    const labels = entry.labels ?? {};
    const time = entry.created_at ? new Date(entry.created_at).toLocaleTimeString() : '';
    const stream = labels.stream ?? '';
    out.append(h('span', { class: `line stream-${stream}` },
      h('span', { class: 'ts' }, time), ' ',
      labels.instance_id ? h('span', { class: 'inst' }, labels.instance_id.slice(0, 8)) : null, labels.instance_id ? ' ' : null,
      stream === 'koyeb' ? h('span', { class: 'sys' }, '[system] ') : null,
      highlight(entry.msg ?? ''), '\n'));
    while (out.childElementCount > MAX_LINES) out.firstElementChild.remove();
    if (atBottom) out.scrollTop = out.scrollHeight;
  }

  function highlight(msg) {
    const q = search.value.trim();
    if (!q) return msg;
    const i = msg.toLowerCase().indexOf(q.toLowerCase());
    if (i < 0) return msg;
    return [msg.slice(0, i), h('mark', null, msg.slice(i, i + q.length)), msg.slice(i + q.length)];
  }

  function setStatus(text) {
    status.textContent = text;
  }

  function closeSocket() {
    clearTimeout(reconnectTimer);
    if (ws) { ws.onclose = null; ws.close(); ws = undefined; }
  }

  function stop() {
    stopped = true;
    closeSocket();
  }
}
