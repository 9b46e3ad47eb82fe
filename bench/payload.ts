import type { BenchData, ParamsKind } from './protocol.js';

const WORDS =
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut ' +
  'labore et dolore magna aliqua ut enim ad minim veniam quis nostrud exercitation ullamco ';

/** Text of exactly `length` ASCII characters (no characters JSON has to escape). */
function text(length: number): string {
  let out = '';
  while (out.length < length) out += WORDS;
  return out.slice(0, length);
}

/**
 * Builds event data whose serialized result (`JSON.stringify({ ...data, id })`, what the service
 * returns and what the raw client publishes) is about `payloadBytes` long.
 */
export function payloadFactory(payloadBytes: number): (ph: number, seq: number) => BenchData {
  const sample: BenchData = {
    ph: 1,
    seq: 10_000,
    t: Date.now() + 0.123456,
    title: 'bench event',
    body: '',
    id: 10_001,
  };
  const overhead = JSON.stringify(sample).length;
  const body = text(Math.max(0, payloadBytes - overhead));
  return (ph, seq) => ({ ph, seq, t: 0, title: 'bench event', body });
}

const TOKEN = `eyJhbGciOiJIUzI1NiIsInR5cCI6ImFjY2VzcyJ9.${'e30'.repeat(60)}.${'s'.repeat(43)}`;

/**
 * The params of each service call. `none` is a call made from server code; `user` what a REST
 * call of a logged-in user carries after authentication; `auth` adds the authentication result
 * and request headers (which feathers-sync puts on the bus, twice).
 */
export function paramsFactory(kind: ParamsKind): () => Record<string, unknown> {
  switch (kind) {
    case 'none':
      return () => ({});
    case 'user':
      return () => ({
        provider: 'rest',
        user: { id: 42, email: 'user42@example.com', roles: ['member'] },
      });
    case 'auth':
      return () => ({
        provider: 'rest',
        user: { id: 42, email: 'user42@example.com', roles: ['member'] },
        authentication: { strategy: 'jwt', accessToken: TOKEN },
        headers: {
          host: 'api.example.com',
          'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) bench',
          authorization: `Bearer ${TOKEN}`,
          'content-type': 'application/json',
        },
      });
  }
}
