import { execFileSync } from 'node:child_process';
import { redactUri } from '../../src/shared/redact';
import {
  killAllSamples,
  ROOT,
  type SampleRun,
  startSample,
  waitForHealth,
  warnSkipping,
} from './sample-support';

/**
 * The sample's PostgreSQL store: two instances on one database share the history. Needs the
 * optional `pg` package and a server (POSTGRES_URI, default the local one); without them the test
 * is skipped with a loud message.
 */

const POSTGRES_URI = process.env.POSTGRES_URI ?? 'postgres://postgres@127.0.0.1:5432/test';

function missing(): string | undefined {
  try {
    require.resolve('pg', { paths: [ROOT] });
  } catch {
    return 'the pg package is not installed (npm install pg)';
  }
  try {
    psql('SELECT 1');
  } catch {
    return `psql cannot reach ${redactUri(POSTGRES_URI)}`;
  }
  return undefined;
}

function psql(sql: string): void {
  execFileSync('psql', [POSTGRES_URI, '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], {
    stdio: 'pipe',
    timeout: 10_000,
  });
}

const reason = missing();
if (reason && process.env.CI === 'true') {
  describe('sample app on PostgreSQL', () => {
    it('has PostgreSQL and the pg package', () => {
      throw new Error(`${reason}; under CI=true this test must run.`);
    });
  });
} else if (reason) {
  warnSkipping('the sample PostgreSQL store test', `${reason}.`);
}

(reason ? describe.skip : describe)('sample app on PostgreSQL', () => {
  // A schema of its own, so the test never touches tables of anything else in that database.
  const schema = `sample_${process.pid}_${Date.now().toString(36)}`;
  let sample: SampleRun | undefined;

  beforeAll(async () => {
    psql(`CREATE SCHEMA ${schema}`);
    const url = new URL(POSTGRES_URI);
    url.searchParams.set('options', `-c search_path=${schema}`);
    sample = await startSample({
      DATABASE_URL: url.toString(),
      FEATHERS_SYNC_KEY: `sample-postgres-${process.pid}`,
    });
    await Promise.all(sample.urls.map((instance) => waitForHealth(instance, 200)));
  }, 120_000);

  afterAll(async () => {
    await sample?.stop().catch(() => undefined);
    killAllSamples();
    psql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it('shares the history between instances through one database', async () => {
    const [one, two] = sample!.urls;
    const created = await fetch(`${one}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'stored in PostgreSQL' }),
    });
    expect(created.status).toBe(201);
    const message = (await created.json()) as { id: number };

    const health = await waitForHealth(two, 200);
    expect(health.body).toMatchObject({ details: { instance: { store: 'postgres' } } });
    const listed = (await (await fetch(`${two}/messages`)).json()) as unknown[];
    expect(listed).toContainEqual(
      expect.objectContaining({ id: message.id, text: 'stored in PostgreSQL' }),
    );
    const fetched = await fetch(`${two}/messages/${message.id}`);
    expect(await fetched.json()).toMatchObject({ text: 'stored in PostgreSQL' });
  });
});
