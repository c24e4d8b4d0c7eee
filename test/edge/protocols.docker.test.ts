// WebSocket upgrade and streaming bodies through the edge to a REAL instance: a Node app built from a Git repository
// by Pier's buildpack builder and run by the Docker runtime. The app has no dependencies: it answers the WebSocket
// handshake itself, streams a response in timed chunks, and counts a streamed request body as it arrives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { WebSocket } from 'ws';
import { edgeGet, engineUp, startEdgePier, until, webDef } from './harness.ts';
import { gitRepo } from '../build/helpers.ts';

const SERVER = String.raw`
const http = require('http');
const crypto = require('crypto');
const server = http.createServer((req, res) => {
  if (req.url === '/stream') {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const t = setInterval(() => { res.write('chunk ' + n + '\n'); if (++n === 3) { clearInterval(t); res.end(); } }, 300);
    return;
  }
  if (req.url === '/upload') {
    let bytes = 0; let chunks = 0;
    req.on('data', (c) => { bytes += c.length; chunks++; });
    req.on('end', () => { res.end(JSON.stringify({ bytes, chunks })); });
    return;
  }
  res.end('ok ' + req.url);
});
server.on('upgrade', (req, socket) => {
  const accept = crypto.createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ' + accept + '\r\n\r\n');
  const text = Buffer.from('hello ' + req.url);
  socket.write(Buffer.concat([Buffer.from([0x81, text.length]), text]));
  socket.on('data', (frame) => {
    // One masked text frame from the client (short payload): unmask it and echo it back upper-cased.
    if ((frame[0] & 0x0f) === 0x8) { socket.end(Buffer.from([0x88, 0])); return; }
    const len = frame[1] & 0x7f; const mask = frame.subarray(2, 6); const data = Buffer.alloc(len);
    for (let i = 0; i < len; i++) data[i] = frame[6 + i] ^ mask[i % 4];
    const out = Buffer.from(data.toString().toUpperCase());
    socket.write(Buffer.concat([Buffer.from([0x81, out.length]), out]));
  });
});
server.listen(Number(process.env.PORT || 8000));
`;

test('edge: WebSocket upgrade and streaming bodies reach a real instance built from Git', { skip: !engineUp && 'no Docker engine', timeout: 240_000 }, async () => {
  const p = await startEdgePier();
  try {
    const repo = gitRepo({
      'package.json': JSON.stringify({ name: 'proto', version: '1.0.0', scripts: { start: 'node server.js' } }),
      'server.js': SERVER,
    }, 'node protocols app');
    const appId = await p.createApp('proto');
    const svc = await p.createService(appId, 'web', webDef('unused', '/', {
      docker: undefined, git: { repository: repo, branch: 'main' },
      health_checks: [{ http: { port: 8000, path: '/' } }],
    }));
    await until('the built Node service to be HEALTHY', async () => (await p.service(svc.id)).status === 'HEALTHY', 180_000, 500);
    const host = p.hostOf('proto');
    const edge = new URL(p.edgeUrl);
    // The edge's table follows the controller pass that made the service HEALTHY: wait (bounded) until it routes.
    await until('the edge to route the service', async () => (await edgeGet(p.edgeUrl, host, '/')).status === 200, 10_000, 50);

    // WebSocket: the handshake goes through the edge, then frames flow both ways.
    const ws = new WebSocket(`ws://${edge.host}/chat`, { headers: { host } });
    const frames: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`websocket frames so far: ${JSON.stringify(frames)}`)), 10_000);
      ws.on('message', (m) => {
        frames.push(m.toString());
        if (frames.length === 1) ws.send('ping through pier');
        if (frames.length === 2) { clearTimeout(timer); resolve(); }
      });
      ws.on('error', (e) => { clearTimeout(timer); reject(e); });
    });
    ws.terminate();
    assert.deepEqual(frames, ['hello /chat', 'PING THROUGH PIER']);

    // Streaming response: chunks arrive as the instance writes them, not all at the end.
    const arrivals: number[] = [];
    const body = await new Promise<string>((resolve, reject) => {
      const t0 = Date.now();
      const req = http.get({ host: edge.hostname, port: Number(edge.port), path: '/stream', headers: { host }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; arrivals.push(Date.now() - t0); });
        res.on('end', () => resolve(text));
      });
      req.setTimeout(10_000, () => req.destroy(new Error('stream timeout')));
      req.on('error', reject);
    });
    assert.equal(body, 'chunk 0\nchunk 1\nchunk 2\n');
    assert.ok(arrivals.length >= 2, `the response arrived in ${arrivals.length} piece(s): ${JSON.stringify(arrivals)}`);

    // Streaming request body: sent in pieces over time, counted by the instance as it arrives.
    const upload = await new Promise<{ bytes: number; chunks: number }>((resolve, reject) => {
      const req = http.request({ host: edge.hostname, port: Number(edge.port), path: '/upload', method: 'POST', headers: { host, 'transfer-encoding': 'chunked' }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => { text += c; });
        res.on('end', () => { try { resolve(JSON.parse(text)); } catch (e) { reject(new Error(`upload reply: ${text}`)); } });
      });
      req.on('error', reject);
      let sent = 0;
      const piece = Buffer.alloc(64 * 1024, 97);
      const t = setInterval(() => {
        req.write(piece);
        if (++sent === 4) { clearInterval(t); req.end(); }
      }, 150);
    });
    assert.equal(upload.bytes, 4 * 64 * 1024);
    assert.ok(upload.chunks >= 2, `the instance saw the body in ${upload.chunks} chunk(s)`);
  } finally {
    await p.close();
  }
});
