import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FeathersSyncModule, type FeathersSyncOptions } from '../../src';
import { FeathersSyncConfigError } from '../../src/errors/sync.errors';
import { createFeathersApp } from '../support/feathers-app';
import { redactUri, SecretScrubber } from '../../src/shared/redact';
import { parseRedisUri } from '../../src/transports/redis/redis-uri';

describe('Redis Cluster and Sentinel uris', () => {
  it('a single server uri is left to ioredis', () => {
    expect(parseRedisUri('redis://u:p@host:6379/2')).toEqual({ kind: 'server' });
    expect(parseRedisUri('rediss://host')).toEqual({ kind: 'server' });
  });

  it('reads a cluster’s seed nodes, credentials, TLS and sharded', () => {
    expect(parseRedisUri('redis+cluster://h1:7001,h2:7002,[::1]:7003,h4')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7001 },
        { host: 'h2', port: 7002 },
        { host: '::1', port: 7003 },
        { host: 'h4', port: 6379 },
      ],
      nodeOptions: {},
    });
    expect(parseRedisUri('rediss+cluster://app:p%40ss@h1:7001,h2:7002?sharded=true')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7001 },
        { host: 'h2', port: 7002 },
      ],
      nodeOptions: { username: 'app', password: 'p@ss', tls: {} },
      sharded: true,
    });
  });

  it('reads a sentinel group: sentinels, master name, credentials of both, db, TLS', () => {
    expect(
      parseRedisUri(
        'rediss+sentinel://:secret@s1:26379,s2/mymaster?db=3&sentinelUsername=sen&sentinelPassword=pw&role=master',
      ),
    ).toEqual({
      kind: 'sentinel',
      options: {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
        ],
        name: 'mymaster',
        password: 'secret',
        db: 3,
        sentinelUsername: 'sen',
        sentinelPassword: 'pw',
        tls: {},
        sentinelTLS: {},
        enableTLSForSentinelMode: true,
      },
    });
  });

  it.each([
    ['redis+cluster://h1:7001,,h2:7002', /"" is not a host\[:port\]/],
    ['redis+cluster://h1:99999', /it is not a valid uri/],
    ['redis+cluster://h1:7001/0', /no databases but 0/],
    ['redis+cluster://h1:7001?shard=yes', /parameter "shard" is unknown/],
    ['redis+cluster://h1:7001?sharded=yes', /sharded must be true or false/],
    ['redis+sentinel://s1:26379,s2:26379', /the master name/],
    ['redis+sentinel://s1:26379/m?role=slave', /role can only be master/],
    ['redis+sentinel://s1:26379/m?db=x', /db must be a database number/],
  ])('refuses %s, showing the expected form', (uri, why) => {
    let error: unknown;
    try {
      parseRedisUri(uri);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    const message = (error as Error).message;
    expect(message).toMatch(why);
    expect(message).toMatch(
      uri.startsWith('redis+cluster')
        ? /Write it as redis\+cluster:\/\/\[user:password@\]host1:port1,host2:port2/
        : /Write it as redis\+sentinel:\/\/.*\/masterName/,
    );
  });

  it('never shows credentials in its errors or in a redacted uri', () => {
    const uri = 'redis+sentinel://user:hunter22@s1:1,s2:2/m?sentinelPassword=sekret9&role=replica';
    expect(() => parseRedisUri(uri)).toThrow(/role can only be master/);
    try {
      parseRedisUri(uri);
    } catch (error) {
      expect((error as Error).message).not.toMatch(/hunter22|sekret9/);
    }
    expect(redactUri(uri)).toBe(
      'redis+sentinel://user:***@s1:1,s2:2/m?sentinelPassword=***&role=replica',
    );
    expect(redactUri('redis+cluster://:pw123@h1:1,h2:2')).toBe('redis+cluster://:***@h1:1,h2:2');
    // A secret in the query is a secret of the scrubber too, not only hidden in the uri.
    const scrubber = new SecretScrubber(
      'redis+sentinel://app:pw1@s1:1,s2:2/m?sentinelPassword=sp4ss',
    );
    expect(scrubber.text('NOAUTH sp4ss pw1')).toBe('NOAUTH *** ***');
  });
});

describe('booting on a Redis Cluster or Sentinel uri', () => {
  async function bootError(options: FeathersSyncOptions): Promise<Error> {
    @Module({
      imports: [
        FeathersSyncModule.forRoot({ logger: false, app: createFeathersApp(), ...options }),
      ],
    })
    class AppModule {}
    try {
      const ctx = await NestFactory.createApplicationContext(AppModule, {
        logger: false,
        abortOnError: false,
      });
      await ctx.close();
    } catch (error) {
      return error as Error;
    }
    throw new Error('boot succeeded but should have failed');
  }

  it('fails on a malformed host list with the expected form, without the password', async () => {
    const error = await bootError({ uri: 'redis+cluster://app:t0psecret@h1:7001,h2:x' });
    expect(error).toBeInstanceOf(FeathersSyncConfigError);
    expect(error.message).toMatch(/"h2:x" is not a host\[:port\]/);
    expect(error.message).toMatch(/Write it as redis\+cluster:\/\//);
    expect(error.message).not.toContain('t0psecret');
  });

  it('refuses sharded pub/sub with the recoverable delivery', async () => {
    const error = await bootError({
      uri: 'redis+cluster://127.0.0.1:7001?sharded=true',
      delivery: 'recoverable',
    });
    expect(error.message).toMatch(/sharded pub\/sub with delivery 'recoverable'/);
  });

  it('lists the cluster and sentinel schemes among the supported ones', async () => {
    const error = await bootError({ uri: 'redis+clustr://h1:1,h2:2' });
    for (const scheme of ['redis+cluster://', 'rediss+cluster://', 'redis+sentinel://']) {
      expect(error.message).toContain(scheme);
    }
  });
});
