/**
 * A local HTTP server that plays a vendor's API (the real vendors cannot be reached from tests):
 * records every request and answers with whatever the test scripts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  /** Text is sent as UTF-8; a Buffer as its bytes (for bodies that are not valid UTF-8). */
  body?: string | Buffer;
}

export type VendorScript = (
  request: RecordedRequest,
  index: number,
) => ScriptedResponse | Promise<ScriptedResponse>;

export interface VendorServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  script: VendorScript;
  close(): Promise<void>;
}

export async function startVendor(
  script: VendorScript = () => ({ status: 200, body: '{}' }),
): Promise<VendorServer> {
  const requests: RecordedRequest[] = [];
  const vendor = { script } as VendorServer;
  const server = http.createServer((request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => (body += chunk));
    request.on('end', async () => {
      const recorded = {
        method: request.method!,
        path: request.url!,
        headers: request.headers,
        body,
        at: Date.now(),
      };
      requests.push(recorded);
      try {
        const answer = await vendor.script(recorded, requests.length - 1);
        response.writeHead(answer.status, {
          'content-type': 'application/json',
          ...answer.headers,
        });
        response.end(answer.body ?? '{}');
      } catch {
        response.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(vendor, {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
