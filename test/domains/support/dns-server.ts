// A loopback DNS responder for tests: A answers from a table (default 127.0.0.1, so pebble's validator reaches the
// edge), CNAME and TXT answers from tables, empty NOERROR for everything else (AAAA, CAA). Never forwards anywhere.
import dgram from 'node:dgram';

/** A running test DNS server and its records (edit them between checks). */
export interface TestDns {
  addr: string;
  port: number;
  cnames: Map<string, string>;
  a: Map<string, string>;
  /** TXT records of a name, one answer per value. */
  txt: Map<string, string[]>;
  /** Questions asked, `<type> <name>` (1 = A, 5 = CNAME, 16 = TXT). */
  asked: string[];
  close(): Promise<void>;
}

function readName(buf: Buffer, offset: number): { name: string; end: number } {
  const labels: string[] = [];
  let i = offset;
  for (let guard = 0; guard < 128 && buf[i]! !== 0; guard++) {
    const len = buf[i]!;
    labels.push(buf.subarray(i + 1, i + 1 + len).toString('ascii'));
    i += len + 1;
  }
  return { name: labels.join('.').toLowerCase(), end: i + 1 };
}

function encodeName(name: string): Buffer {
  const parts = name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'ascii')]));
  return Buffer.concat([...parts, Buffer.from([0])]);
}

function answer(type: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt16BE(0xc00c, 0); // pointer to the question name
  head.writeUInt16BE(type, 2);
  head.writeUInt16BE(1, 4);
  head.writeUInt32BE(5, 6);
  head.writeUInt16BE(rdata.length, 10);
  return Buffer.concat([head, rdata]);
}

/** Starts the responder on 127.0.0.1 and a free UDP port. */
export async function startTestDns(): Promise<TestDns> {
  const cnames = new Map<string, string>();
  const a = new Map<string, string>();
  const txt = new Map<string, string[]>();
  const asked: string[] = [];
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    if (msg.length < 17) return;
    const { name, end } = readName(msg, 12);
    const qtype = msg.readUInt16BE(end);
    const answers: Buffer[] = [];
    if (asked.length < 10_000) asked.push(`${qtype} ${name}`);
    if (qtype === 16) {
      for (const value of txt.get(name) ?? []) {
        const bytes = Buffer.from(value, 'utf8').subarray(0, 255);
        answers.push(answer(16, Buffer.concat([Buffer.from([bytes.length]), bytes])));
      }
    }
    if (qtype === 1) answers.push(answer(1, Buffer.from((a.get(name) ?? '127.0.0.1').split('.').map(Number))));
    if (qtype === 5 && cnames.has(name)) answers.push(answer(5, encodeName(cnames.get(name)!)));
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(0x8180, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    sock.send(Buffer.concat([header, msg.subarray(12, end + 4), ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const port = sock.address().port;
  return { addr: `127.0.0.1:${port}`, port, cnames, a, txt, asked, close: () => new Promise((r) => sock.close(() => r())) };
}
