import type { RedisClient } from '../../src/transports/redis/redis.clients';
import { ClusterWriteGate } from '../../src/transports/redis/redis-write-gate';

const cluster = { isCluster: true } as unknown as RedisClient;
const server = {} as unknown as RedisClient;
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ClusterWriteGate', () => {
  let gate: ClusterWriteGate | undefined;
  afterEach(() => gate?.stop());

  it('closes on a write lost with its master, and opens once the probe succeeds', async () => {
    let slotHasMaster = false;
    const changes: Array<string | undefined> = [];
    gate = new ClusterWriteGate(
      cluster,
      () => (slotHasMaster ? Promise.resolve(0) : Promise.reject(new Error('CLUSTERDOWN'))),
      () => changes.push(gate!.blockedBy?.message),
    );
    await expect(gate.watch(Promise.reject(new Error('Connection is closed.')))).rejects.toThrow(
      'Connection is closed.',
    );
    expect(gate.blockedBy?.message).toBe('Connection is closed.');
    await settle(500);
    expect(gate.blockedBy).toBeDefined();
    slotHasMaster = true;
    await settle(400);
    expect(gate.blockedBy).toBeUndefined();
    expect(changes).toEqual(['Connection is closed.', undefined]);
  });

  it('leaves other refusals to the core (holding them would stop every write behind them)', async () => {
    let probes = 0;
    gate = new ClusterWriteGate(
      cluster,
      () => Promise.resolve(probes++),
      () => undefined,
    );
    await expect(
      gate.watch(Promise.reject(new Error("NOPERM User app has no permissions to run 'evalsha'"))),
    ).rejects.toThrow('NOPERM');
    expect(gate.blockedBy).toBeUndefined();
    await settle(300);
    expect(probes).toBe(0);
  });

  it('never closes for one server or a Sentinel group, which keep order by themselves', async () => {
    gate = new ClusterWriteGate(
      server,
      () => Promise.resolve(0),
      () => undefined,
    );
    const write = Promise.reject(new Error('Connection is closed.'));
    expect(gate.watch(write)).toBe(write);
    await expect(write).rejects.toThrow();
    expect(gate.blockedBy).toBeUndefined();
  });
});
