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
  function endingClient() {
    const emitter = new EventEmitter();
    let connects = 0;
    const fake = Object.assign(emitter, {
      connect: () => {
        connects++;
        return Promise.reject(new Error('Connection is closed.'));
      },
    });
    return { fake: fake as unknown as RedisClient, connects: () => connects };
  }

  it('connects a client again when it ends while the transport still needs it', async () => {
    const { fake, connects } = endingClient();
    reviveOnEnd(fake, () => false);
    fake.emit('end');
    await Promise.resolve();
    expect(connects()).toBe(1);
  });

  it('leaves a client ended by the transport’s own close alone', () => {
    const { fake, connects } = endingClient();
    reviveOnEnd(fake, () => true);
    fake.emit('end');
    expect(connects()).toBe(0);
  });
});
