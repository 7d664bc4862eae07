// The host side of fetch on its own: the connection goes to the address that was checked (so DNS
// rebinding cannot swap it), every resolved address is checked, and big bodies are refused.
import { guardedFetch, type FetchRules } from '../../src/sandbox/guarded-fetch';
import { localServer, type LocalServer } from './helpers';

let server: LocalServer;
beforeAll(async () => {
  server = await localServer((request, response) => {
    if (request.url === '/huge') {
      response.writeHead(200);
      const chunk = Buffer.alloc(1024 * 1024, 'a');
      for (let i = 0; i < 6; i++) response.write(chunk);
      return void response.end();
    }
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end(`host header: ${request.headers.host}`);
  });
});
afterAll(() => server.close());

const get = (url: string) => ({ url, method: 'GET', headers: {} });

/** No test here waits for the time limit: it is generous, so a loaded machine never trips it. */
function rules(overrides: Partial<FetchRules>): FetchRules {
  return { allowList: [], timeoutMs: 10_000, allowPrivateAddresses: false, ...overrides };
}

test('the connection goes to the checked address, whatever DNS would say later', async () => {
  const lookups: string[] = [];
  const answers = [[{ address: '127.0.0.1', family: 4 }], [{ address: '10.9.9.9', family: 4 }]];
  const response = await guardedFetch(
    get(`http://enrich.test:${server.port}/`),
    rules({
      allowList: ['enrich.test'],
      allowPrivateAddresses: ['127.0.0.1'],
      // A name that real DNS does not know: the request can only work if our answer is used,
      // and a second lookup (a rebinding chance) would get a refused address.
      resolve: async (hostname) => {
        lookups.push(hostname);
        return answers[lookups.length - 1];
      },
    }),
  );
  expect(response.body).toBe(`host header: enrich.test:${server.port}`);
  expect(lookups).toEqual(['enrich.test']);
});

test('a name is refused when any of its addresses is private', async () => {
  await expect(
    guardedFetch(
      get('https://mixed.example.com/'),
      rules({
        allowList: ['*.example.com'],
        resolve: async () => [
          { address: '93.184.216.34', family: 4 },
          { address: '::ffff:10.0.0.1', family: 6 },
        ],
      }),
    ),
  ).rejects.toThrow(
    'fetch https://mixed.example.com/: mixed.example.com resolves to ::ffff:10.0.0.1, a private or reserved address',
  );
});

test('a name that does not resolve is reported as such', async () => {
  await expect(
    guardedFetch(
      get('http://does-not-exist.invalid/'),
      rules({
        allowList: ['*.invalid'],
        resolve: () => Promise.reject(new Error('getaddrinfo ENOTFOUND does-not-exist.invalid')),
      }),
    ),
  ).rejects.toThrow(
    'fetch http://does-not-exist.invalid/: cannot resolve does-not-exist.invalid: getaddrinfo ENOTFOUND',
  );
});

test('a body over 5 MB is refused', async () => {
  await expect(
    guardedFetch(
      get(`${server.url}/huge`),
      rules({ allowList: ['127.0.0.1'], allowPrivateAddresses: true }),
    ),
  ).rejects.toThrow('the response is larger than 5 MB');
});

test('an aborted signal cancels the fetch', async () => {
  const controller = new AbortController();
  controller.abort();
  await expect(
    guardedFetch(
      get(`${server.url}/`),
      rules({ allowList: ['127.0.0.1'], allowPrivateAddresses: true }),
      controller.signal,
    ),
  ).rejects.toThrow('cancelled, the call ended');
});
