import { io, type Socket } from 'socket.io-client';
import { killAllSamples, type SampleRun, startSample, waitForHealth } from './sample-support';

/**
 * Nest (Express 5) and Feathers (Express 4) on one port, as the sample wires them: each request
 * reaches exactly one of the two apps with its own parsers and error handling, socket.io rides on
 * Nest's server, and closing does not hang on open WebSockets.
 */
describe('sample app: Nest and Feathers on one server', () => {
  let sample: SampleRun;
  let url: string;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    sample = await startSample(
      { FEATHERS_SYNC_KEY: `sample-wiring-${process.pid}` },
      {
        instances: 1,
      },
    );
    url = sample.urls[0];
    await waitForHealth(url, 200);
  }, 120_000);

  afterAll(async () => {
    for (const socket of sockets) socket.close();
    await sample?.stop().catch(() => undefined);
    killAllSamples();
  });

  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('serves the page and the socket.io client from Nest’s server', async () => {
    const page = await fetch(`${url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script src="/socket.io/socket.io.js"></script>');
    const client = await fetch(`${url}/socket.io/socket.io.js`);
    expect(client.status).toBe(200);
  });

  it('answers /health from Nest with the sync status', async () => {
    const health = await waitForHealth(url, 200);
    expect(health.body).toMatchObject({
      status: 'ok',
      details: { sync: { status: 'up', transport: 'cluster', syncStatus: 'ready' } },
    });
  });

  it('runs Feathers REST with its own body parser and hooks', async () => {
    const created = await post('/messages', { text: '  over REST  ', extra: 'dropped' });
    expect(created.status).toBe(201);
    const message = (await created.json()) as Record<string, unknown>;
    expect(message).toMatchObject({ text: 'over REST', instance: expect.any(String) });
    expect(message).not.toHaveProperty('extra');

    const invalid = await post('/messages', { text: '   ' });
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ name: 'BadRequest', code: 400 });
  });

  it('parses Feathers queries with the extended parser (nested operators)', async () => {
    const first = (await (await post('/messages', { text: 'one' })).json()) as { id: number };
    await post('/messages', { text: 'two' });
    const response = await fetch(`${url}/messages?id[$gt]=${first.id}&$limit=1`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([expect.objectContaining({ text: 'two' })]);
  });

  it('keeps each framework’s 404: Feathers’ for its services, Nest’s for the rest', async () => {
    const feathers404 = await fetch(`${url}/messages/99999999`);
    expect(feathers404.status).toBe(404);
    expect(await feathers404.json()).toMatchObject({ name: 'NotFound', className: 'not-found' });

    const nest404 = await fetch(`${url}/no-such-route`);
    expect(nest404.status).toBe(404);
    expect(await nest404.json()).toMatchObject({
      statusCode: 404,
      message: 'Cannot GET /no-such-route',
    });
  });

  it('pushes service events to socket.io clients over the same port', async () => {
    const socket = io(url, { transports: ['websocket'] });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    const received = new Promise<{ text: string }>((resolve) =>
      socket.once('messages created', resolve),
    );
    await post('/messages', { text: 'to the socket' });
    await expect(received).resolves.toMatchObject({ text: 'to the socket' });
  });

  it('stops promptly and cleanly while a WebSocket is still open', async () => {
    const socket = sockets[0];
    expect(socket.connected).toBe(true);
    const disconnected = new Promise<void>((resolve) => socket.once('disconnect', () => resolve()));
    socket.io.reconnection(false);
    const stopped = await sample.stop();
    await disconnected;
    expect(stopped).toMatchObject({ code: 0, signal: null });
    expect(stopped.ms).toBeLessThan(5000);
    expect(sample.output()).toContain('Stopped.');
    expect(sample.output()).not.toMatch(/did not exit|ERROR/);
  });
});
