import { EventEmitter } from 'node:events';
import { quit, reviveOnEnd, type RedisClient } from '../../src/transports/redis/redis.clients';
import { Deadline } from '../../src/shared/timeout';

/** The shape of an ioredis client that quit() touches, and what was done to it. */
function client(status: string, quitting: () => Promise<unknown>) {
  const calls: string[] = [];
  const fake = {
    status,
    quit: () => {
      calls.push('quit');
      return quitting();
    },
    disconnect: () => calls.push('disconnect'),
  };
  return { fake: fake as unknown as RedisClient, calls };
}

describe('quit() of the Redis transports', () => {
  it('sends QUIT to a ready client, then disconnects it', async () => {
    const { fake, calls } = client('ready', () => Promise.resolve('OK'));
    await quit(fake, new Deadline(1000));
    expect(calls).toEqual(['quit', 'disconnect']);
  });

  it('disconnects a client whose QUIT failed (ioredis refuses it on a broken socket with the offline queue off), so that it cannot reconnect for ever', async () => {
    const { fake, calls } = client('ready', () =>
      Promise.reject(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
    );
    await quit(fake, new Deadline(1000));
    expect(calls).toEqual(['quit', 'disconnect']);
  });

  it('disconnects a client whose QUIT got no answer within the deadline', async () => {
    const { fake, calls } = client('ready', () => new Promise(() => undefined));
    await quit(fake, new Deadline(50));
    expect(calls).toEqual(['quit', 'disconnect']);
  });

  it('only disconnects a client that is not connected', async () => {
    const { fake, calls } = client('reconnecting', () => Promise.resolve('OK'));
    await quit(fake, new Deadline(1000));
    expect(calls).toEqual(['disconnect']);
  });
});

describe('reviveOnEnd() of the Redis transports', () => {
  // ioredis's Sentinel connector can end a client for good after a failover (a stale failover
  // detector fires while the client resolves the new master): connect() again brings it back.
  function endingClient(sentinels: unknown[] = [{ host: '127.0.0.1', port: 26379 }]) {
    const emitter = new EventEmitter();
    let connects = 0;
    const fake = Object.assign(emitter, {
      status: 'end',
      options: { sentinels },
      connect: () => {
        connects++;
        // As ioredis does when the connect fails at once: the client ends again.
        emitter.emit('end');
        return Promise.reject(new Error('Connection is closed.'));
      },
    });
    return { fake: fake as unknown as RedisClient, connects: () => connects };
  }
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('connects a Sentinel client again, after a pause, when it ends while the transport still needs it', async () => {
    const { fake, connects } = endingClient();
    reviveOnEnd(fake, () => false, 20);
    fake.emit('end');
    expect(connects()).toBe(0); // never in the same turn: a connect that fails at once would spin
    await sleep(30);
    expect(connects()).toBe(1);
    await sleep(25);
    expect(connects()).toBe(2); // it keeps trying, one pause apart
  });

  it('leaves a client ended by the transport’s own close alone', async () => {
    const { fake, connects } = endingClient();
    reviveOnEnd(fake, () => true, 5);
    fake.emit('end');
    await sleep(20);
    expect(connects()).toBe(0);
  });

  it('leaves a client that is not a Sentinel client alone (it ends only when its retryStrategy gave up)', async () => {
    const { fake, connects } = endingClient([]);
    reviveOnEnd(fake, () => false, 5);
    fake.emit('end');
    await sleep(20);
    expect(connects()).toBe(0);
  });
});
