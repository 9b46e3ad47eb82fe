import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Never handed out, even when free: the machine's shared brokers and the tools' default ports. */
const RESERVED = new Set([4222, 5672, 6222, 6379, 8222, 15672, 16379, 25672, 26379]);
const LOWEST = 20_000;
const handedOut = new Set<number>();

/**
 * A free loopback port whose companions `port + offset` are free too (a Redis Cluster node needs
 * its bus port, port + 10000). Chosen below the kernel's ephemeral range, so that no outgoing
 * socket takes a killed node's port before it restarts, and never twice in one process.
 */
export async function freePortWith(offsets: number[]): Promise<number> {
  const high = ephemeralLow() - 1 - Math.max(0, ...offsets);
  for (let attempt = 0; attempt < 500; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (high - LOWEST + 1));
    const all = [port, ...offsets.map((offset) => port + offset)];
    if (all.some((p) => RESERVED.has(p) || handedOut.has(p))) continue;
    if (!(await Promise.all(all.map(canBind))).every(Boolean)) continue;
    for (const p of all) handedOut.add(p);
    return port;
  }
  throw new Error('no free loopback port found');
}

function ephemeralLow(): number {
  try {
    const text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const low = Number(text.split(/\s+/)[0]);
    return Number.isInteger(low) && low > LOWEST + 12_000 ? low : 65_536;
  } catch {
    return 65_536;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      server.close(() => resolve(true)),
    );
  });
}
