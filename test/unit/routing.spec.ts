import { ServiceRouting } from '../../src/core/routing';
import { FeathersSyncConfigError } from '../../src';
import { resolveOptions } from '../../src/options/resolve-options';

describe('services and direction options', () => {
  const resolve = (options: Record<string, unknown>) =>
    resolveOptions({ uri: 'memory://x', logger: false, ...options });

  it('defaults: both directions, every service, the canary every 5 s', () => {
    const resolved = resolve({});
    expect(resolved.engine).toMatchObject({ direction: 'both', heartbeatMs: 5000 });
    expect(resolved.engine.routing).toBeUndefined();
    expect(resolved.subscribe).toBe(true);
    expect(resolve({ direction: 'publish' }).subscribe).toBe(false);
    expect(resolve({ heartbeatMs: 0 }).engine.heartbeatMs).toBe(0);
  });

  it.each([
    [
      { direction: 'both-ways' },
      /`direction` must be 'both'.*'publish'.*'subscribe'.*got string "both-ways"/,
    ],
    [{ services: ['todos'] }, /`services` must be an object \{ include\?, exclude\? \}/],
    [{ services: { include: 42 } }, /`services.include` must be a service path or RegExp/],
    [
      { services: { exclude: ['a', { b: 1 }] } },
      /`services.exclude` must be a service path or RegExp/,
    ],
    [
      { services: { only: ['a'] } },
      /`services.only` must be absent \(`services` takes `include` and `exclude` only\)/,
    ],
    [{ heartbeatMs: -1 }, /`heartbeatMs` must be a number ≥ 0/],
  ])('%j fails boot with a message that names the fix', (options, message) => {
    expect(() => resolve(options)).toThrow(FeathersSyncConfigError);
    expect(() => resolve(options)).toThrow(message);
  });

  it('include and exclude match paths (slashes ignored) and RegExps, global flags harmless', () => {
    const routing = new ServiceRouting({
      include: ['/todos/', /^admin\//g],
      exclude: ['admin/secrets'],
    });
    expect(routing.allows('todos')).toBe(true);
    expect(routing.allows('/todos')).toBe(true);
    expect(routing.allows('notes')).toBe(false);
    // A /g RegExp keeps a position between test() calls: the same answer every time here.
    expect([1, 2, 3].map(() => routing.allows('admin/logs'))).toEqual([true, true, true]);
    expect(routing.allows('admin/secrets')).toBe(false);
    expect(new ServiceRouting({ exclude: [/^internal/] }).allows('todos')).toBe(true);
    expect(new ServiceRouting({ include: [] }).allows('todos')).toBe(false);
  });
});
