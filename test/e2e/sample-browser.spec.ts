import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { BROKERS, describeWithBroker, uniqueKey } from '../support/brokers';
import {
  killAllSamples,
  type SampleRun,
  startSample,
  waitForHealth,
  warnSkipping,
} from './sample-support';

/**
 * What a person sees: the sample started as two instances, one browser page on each, a message
 * posted on either page showing up live on the other. Once over the embedded cluster:// transport
 * and once over each broker.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  if (process.env.CI === 'true') {
    describe('sample app in a browser', () => {
      it('has Chromium', () => {
        throw new Error(
          `No Chromium at ${CHROMIUM}; the browser test must run in CI (apt-get install chromium, ` +
            'or set CHROMIUM_PATH).',
        );
      });
    });
  } else {
    warnSkipping(
      'the sample app browser test',
      `no Chromium at ${CHROMIUM}. Install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  }
}

const describeWithChromium = haveChromium ? describe : describe.skip;
/** Building the sample and booting two instances on a busy two-core machine. */
const STARTUP_TIMEOUT_MS = 120_000;

describeWithChromium('sample app in a browser', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    });
  });

  afterAll(async () => {
    await browser?.close();
    killAllSamples();
  });

  /** Two instances over `uri`, one page on each; the same checks whatever carries the events. */
  function syncsTwoPages(uri: string | undefined): void {
    let sample: SampleRun | undefined;
    let context: BrowserContext;
    let pages: Page[];

    beforeAll(async () => {
      sample = await startSample({
        ...(uri ? { FEATHERS_SYNC_URI: uri } : {}),
        FEATHERS_SYNC_KEY: uniqueKey('sample-browser'),
      });
      await Promise.all(sample.urls.map((url) => waitForHealth(url, 200)));
      context = await browser.newContext();
      pages = await Promise.all(sample.urls.map(() => context.newPage()));
      await Promise.all(pages.map((page, i) => openChat(page, sample!.urls[i])));
    }, STARTUP_TIMEOUT_MS);

    afterAll(async () => {
      await context?.close();
      await sample?.stop().catch(() => undefined);
    });

    it('shows a message posted on page 1 on page 2, and the other way round', async () => {
      const [one, two] = pages;
      const first = `hello from page 1 ${Date.now()}`;
      await post(one, first);
      await expectMessage(two, first);

      const second = `and back from page 2 ${Date.now()}`;
      await post(two, second);
      await expectMessage(one, second);
      await expectMessage(two, second);
    });

    it('shows the shared history on a page loaded later, from either instance', async () => {
      const [one, two] = pages;
      const texts = await one.locator('#messages li .text').allTextContents();
      expect(texts.length).toBeGreaterThanOrEqual(2);
      await two.reload();
      await waitConnected(two);
      const deadline = Date.now() + 10_000;
      let shown = await two.locator('#messages li .text').allTextContents();
      while (shown.length < texts.length && Date.now() < deadline) {
        await two.waitForTimeout(50);
        shown = await two.locator('#messages li .text').allTextContents();
      }
      expect(shown).toEqual(texts);
    });

    it('stops both instances cleanly with the pages still connected', async () => {
      const run = sample!;
      const stopped = await run.stop();
      sample = undefined;
      // The sample's own output goes with a failure: it says why an instance did not stop cleanly.
      expect({ ...stopped, output: stopped.code === 0 ? '' : run.output() }).toMatchObject({
        code: 0,
        signal: null,
        output: '',
      });
      expect(stopped.ms).toBeLessThan(5000);
    });
  }

  describe('over the embedded cluster:// transport (npm start default)', () =>
    syncsTwoPages(undefined));
  describeWithBroker('redis', 'over Redis', () => syncsTwoPages(BROKERS.redis));
  describeWithBroker('amqp', 'over RabbitMQ', () => syncsTwoPages(BROKERS.amqp));
  describeWithBroker('nats', 'over NATS', () => syncsTwoPages(BROKERS.nats));
});

async function openChat(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await waitConnected(page);
}

async function waitConnected(page: Page): Promise<void> {
  await page.waitForSelector('body[data-socket="connected"]', { timeout: 10_000 });
  // The badge turns green once /health answered: the page knows which instance it is on.
  await page.waitForSelector('#sync[data-state="ok"]', { timeout: 10_000 });
}

async function post(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
  await expectMessage(page, text);
  // The event may reach the page's socket before the create call's answer, which clears the input.
  await page.waitForFunction('document.querySelector("#text").value === ""', undefined, {
    timeout: 10_000,
  });
  expect(await page.inputValue('#text')).toBe('');
}

async function expectMessage(page: Page, text: string): Promise<void> {
  await page
    .locator('#messages li .text', { hasText: text })
    .first()
    .waitFor({ state: 'visible', timeout: 10_000 });
}
