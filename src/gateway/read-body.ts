/**
 * Reads a request body as UTF-8 text, enforcing the size limit while reading (before anything
 * larger is buffered) and on the decompressed size of gzip/deflate bodies, so a gzip bomb costs
 * at most `limit` bytes of memory. Content-Type is ignored: SDKs send JSON as text/plain.
 */
import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { SluiceError } from '../errors';

export async function readBodyText(request: IncomingMessage, limit: number): Promise<string> {
  const encoding = (request.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  const declared = Number(request.headers['content-length']);
  // Compressed bodies may not be much larger than the decompressed limit either.
  const wireLimit = encoding === 'identity' ? limit : limit + 1024;
  if (Number.isFinite(declared) && declared > wireLimit) {
    throw tooLarge(limit);
  }
  let stream: Readable;
  switch (encoding) {
    case 'identity':
      stream = request;
      break;
    case 'gzip':
    case 'x-gzip':
      stream = request.pipe(zlib.createGunzip());
      break;
    case 'deflate':
      stream = request.pipe(zlib.createInflate());
      break;
    default:
      throw new SluiceError('SLUICE_E_UNSUPPORTED_ENCODING', `"${encoding}" (use gzip or none)`);
  }
  const body = await collect(request, stream, limit, wireLimit);
  if (!isUtf8(body)) throw new SluiceError('SLUICE_E_INVALID_UTF8');
  const text = body.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function collect(
  request: IncomingMessage,
  stream: Readable,
  limit: number,
  wireLimit: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let wireSize = 0;
    const fail = (error: SluiceError) => {
      if (stream !== request) stream.destroy();
      request.unpipe();
      // Stop reading: the response says Connection: close, so the rest is never needed.
      request.pause();
      reject(error);
    };
    if (stream !== request) {
      request.on('data', (chunk: Buffer) => {
        wireSize += chunk.length;
        if (wireSize > wireLimit) fail(tooLarge(limit));
      });
      stream.on('error', (error) =>
        fail(new SluiceError('SLUICE_E_INVALID_GZIP', error.message, { cause: error })),
      );
    }
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) return fail(tooLarge(limit));
      chunks.push(chunk);
    });
    stream.on('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size)));
    // The client's doing, answered (if anyone still listens) as a bad request, not a failure.
    request.on('error', (error) =>
      reject(new SluiceError('SLUICE_E_INVALID_REQUEST', 'the body was cut off', { cause: error })),
    );
    request.on('aborted', () =>
      reject(new SluiceError('SLUICE_E_INVALID_REQUEST', 'the client closed the request')),
    );
  });
}

function tooLarge(limit: number): SluiceError {
  return new SluiceError('SLUICE_E_BODY_TOO_LARGE', `the limit is ${limit} bytes`);
}
