import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The openssl binary: OPENSSL_BIN, else whatever PATH finds. */
const OPENSSL = process.env.OPENSSL_BIN ?? 'openssl';

/** A PEM certificate and its private key, as files and as text. */
export interface KeyPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/**
 * Everything a TLS test needs, made by `openssl` in a fresh temp dir (nothing is committed):
 * - `ca`: the test CA; `server` (SAN localhost, 127.0.0.1, ::1) and `client` are signed by it;
 * - `otherCa`: an unrelated CA (the "untrusted" case); `otherClient` is signed by it.
 * `remove()` deletes the dir. Keys are EC P-256 (fast to make), valid for a day.
 */
export interface TestCertificates {
  dir: string;
  ca: KeyPair;
  server: KeyPair;
  client: KeyPair;
  otherCa: KeyPair;
  otherClient: KeyPair;
  remove(): void;
}

/** Makes the CAs and certificates (synchronous: ~50 ms of openssl calls). */
export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'nfs-tls-certs-'));
  try {
    const ca = selfSigned(dir, 'ca', 'nestjs-feathers-sync test CA');
    const otherCa = selfSigned(dir, 'other-ca', 'nestjs-feathers-sync untrusted CA');
    const server = signed(dir, 'server', 'localhost', ca, [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = serverAuth',
      'subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1',
    ]);
    const clientExtensions = [
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      'extendedKeyUsage = clientAuth',
    ];
    const client = signed(dir, 'client', 'test-client', ca, clientExtensions);
    const otherClient = signed(dir, 'other-client', 'untrusted-client', otherCa, clientExtensions);
    return {
      dir,
      ca,
      server,
      client,
      otherCa,
      otherClient,
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** `openssl req` arguments for a new unencrypted EC P-256 key written to `keyFile`. */
function newKey(keyFile: string): string[] {
  return [
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyFile,
  ];
}

function selfSigned(dir: string, name: string, commonName: string): KeyPair {
  const pair = paths(dir, name);
  openssl(
    'req',
    '-x509',
    ...newKey(pair.keyFile),
    '-out',
    pair.certFile,
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints = critical, CA:TRUE',
    '-addext',
    'keyUsage = critical, keyCertSign, cRLSign',
  );
  return load(pair);
}

function signed(
  dir: string,
  name: string,
  commonName: string,
  issuer: KeyPair,
  extensions: string[],
): KeyPair {
  const pair = paths(dir, name);
  const csr = join(dir, `${name}.csr`);
  const extFile = join(dir, `${name}.ext`);
  writeFileSync(extFile, extensions.join('\n') + '\n');
  openssl('req', ...newKey(pair.keyFile), '-out', csr, '-subj', `/CN=${commonName}`);
  openssl(
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    issuer.certFile,
    '-CAkey',
    issuer.keyFile,
    '-CAcreateserial',
    '-out',
    pair.certFile,
    '-days',
    '1',
    '-extfile',
    extFile,
  );
  return load(pair);
}

function paths(dir: string, name: string): Pick<KeyPair, 'certFile' | 'keyFile'> {
  return { certFile: join(dir, `${name}.pem`), keyFile: join(dir, `${name}.key`) };
}

function load(pair: Pick<KeyPair, 'certFile' | 'keyFile'>): KeyPair {
  return {
    ...pair,
    cert: readFileSync(pair.certFile, 'utf8'),
    key: readFileSync(pair.keyFile, 'utf8'),
  };
}

function openssl(...args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr || String(error)}`);
  }
}

/** `pair`'s private key in PEM, encrypted (AES-256) with `passphrase`. */
export function encryptedKey(pair: KeyPair, passphrase: string): string {
  try {
    return execFileSync(
      OPENSSL,
      ['pkey', '-in', pair.keyFile, '-aes256', '-passout', 'env:KEY_PASSPHRASE'],
      { env: { ...process.env, KEY_PASSPHRASE: passphrase }, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`openssl pkey failed: ${stderr || String(error)}`);
  }
}
