// A certificate authority that lives in Pier's data directory, for machines where no public CA can reach the
// names (the default `localhost` domain): created once, its root trusted once by the user, then it signs
// short-lived leaf certificates for the edge. ECDSA P-256 throughout: issuing is a few milliseconds.
import { webcrypto, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

const crypto = webcrypto as unknown as Crypto;
x509.cryptoProvider.set(crypto);

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const;
const ROOT_CERT = 'root.pem';
const ROOT_KEY = 'root.key';
/** Leaf lifetime cap: what browsers accept and what ACME issues, so renewal paths are exercised locally too. */
export const MAX_LEAF_DAYS = 90;
const ROOT_YEARS = 10;
const DAY_MS = 86_400_000;

/** A loaded local CA. */
export interface LocalCa {
  /** The root certificate (PEM), what clients must trust. */
  rootPem: string;
  /** File holding `rootPem`. */
  rootPath: string;
  /** Sign a leaf for these DNS names / IP addresses (the first is also the common name), valid `days` (≤ 90). */
  issue(names: string[], days?: number): Promise<{ certPem: string; keyPem: string; notAfter: string }>;
}

/** Creates the CA once under dir (root cert + key, key 0600), loads it afterwards. */
export async function loadOrCreateLocalCa(dir: string): Promise<LocalCa> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, ROOT_CERT);
  const keyPath = join(dir, ROOT_KEY);
  // The certificate is written last, so its presence means both files are complete.
  if (!existsSync(certPath) || !existsSync(keyPath)) await createRoot(certPath, keyPath);
  const rootPem = readFileSync(certPath, 'utf8');
  const root = new x509.X509Certificate(rootPem);
  const signingKey = await crypto.subtle.importKey('pkcs8', pemBody(readFileSync(keyPath, 'utf8')), EC, false, ['sign']);
  const rootKeyId = root.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  if (!rootKeyId) throw new Error(`${certPath} has no subject key identifier; remove ${dir} to create a new local CA`);
  const rootAki = new x509.AuthorityKeyIdentifierExtension(rootKeyId, false);
  return {
    rootPem,
    rootPath: certPath,
    async issue(names, days = MAX_LEAF_DAYS) {
      if (names.length === 0) throw new Error('a certificate needs at least one name');
      const clean = names.map(checkName);
      const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']) as CryptoKeyPair;
      const now = Date.now();
      // Whole seconds: what the certificate encodes, so `notAfter` equals what a parser reads back.
      const notAfter = new Date(Math.floor((now + Math.min(Math.max(days, 1 / 24), MAX_LEAF_DAYS) * DAY_MS) / 1000) * 1000);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${cnOf(clean[0])}`,
        issuer: root.subject,
        // A minute of slack for clocks that run slightly behind ours.
        notBefore: new Date(now - 60_000),
        notAfter,
        signingAlgorithm: SIGN,
        publicKey: keys.publicKey,
        signingKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension(clean.map((n) => ({ type: isIP(n) ? 'ip' as const : 'dns' as const, value: n })), false),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          rootAki,
        ],
      }, crypto);
      const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
      return { certPem: cert.toString('pem') + '\n', keyPem: toPem('PRIVATE KEY', pkcs8), notAfter: notAfter.toISOString() };
    },
  };
}

/** The command(s) that make this machine trust the root (Debian: cp to /usr/local/share/ca-certificates + update-ca-certificates). */
export function trustInstructions(ca: LocalCa): string {
  return [
    `Pier's local certificate authority: ${ca.rootPath}`,
    'Trust it system-wide (Debian/Ubuntu; curl, wget and most tools then accept https://*.localhost):',
    `  sudo cp ${ca.rootPath} /usr/local/share/ca-certificates/pier-local-ca.crt`,
    '  sudo update-ca-certificates',
    `Node.js: NODE_EXTRA_CA_CERTS=${ca.rootPath}    one curl call: curl --cacert ${ca.rootPath} https://...`,
    `Firefox/Chrome on Linux keep their own store: certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n pier-local-ca -i ${ca.rootPath}`,
  ].join('\n');
}

async function createRoot(certPath: string, keyPath: string): Promise<void> {
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify']) as CryptoKeyPair;
  const now = Date.now();
  // A name unique to this installation, so two Pier roots trusted on one machine are told apart.
  const name = `CN=Pier local CA ${hostname().slice(0, 24)} ${new Date(now).toISOString().slice(0, 10)} ${randomBytes(3).toString('hex')}, O=Pier`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + ROOT_YEARS * 365 * DAY_MS),
    signingAlgorithm: SIGN,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    ],
  }, crypto);
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  // Temp files + rename: a crash never leaves a half-written key, and the key never exists with a wider mode.
  const tmpKey = `${keyPath}.${process.pid}.tmp`;
  const tmpCert = `${certPath}.${process.pid}.tmp`;
  try {
    writeFileSync(tmpKey, toPem('PRIVATE KEY', pkcs8), { mode: 0o600 });
    chmodSync(tmpKey, 0o600);
    writeFileSync(tmpCert, cert.toString('pem') + '\n', { mode: 0o644 });
    renameSync(tmpKey, keyPath);
    renameSync(tmpCert, certPath);
  } finally {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
  }
}

/** Names as a certificate holds them: lower-case DNS names (one leading `*.` allowed) or IP addresses. */
function checkName(n: string): string {
  const name = n.trim().toLowerCase().replace(/\.$/, '');
  if (isIP(name)) return name;
  const labels = name.split('.');
  const ok = name.length <= 253 && labels.every((l, i) => (i === 0 && l === '*' && labels.length > 1) || /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l));
  if (!ok) throw new Error(`"${n}" is not a host name a certificate can hold`);
  return name;
}

function cnOf(name: string): string {
  // The common name is limited to 64 characters; the SAN carries the full name anyway.
  return (name.length > 64 ? name.slice(0, 64) : name).replace(/[,+="\\<>;#]/g, '');
}

function serial(): string {
  const b = randomBytes(16);
  b[0] &= 0x7f; // positive INTEGER
  b[0] |= 0x01; // no leading zero byte to strip
  return b.toString('hex');
}

function pemBody(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const buf = Buffer.from(b64, 'base64');
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function toPem(label: string, der: ArrayBuffer): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
