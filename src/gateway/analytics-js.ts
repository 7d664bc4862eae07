/**
 * Serves analytics.js (the @segment/analytics-next standalone build) so the stock Segment snippet
 * works by changing only its host: the write key is filled in as Segment's CDN does, and the CDN
 * and API hosts baked into the bundle are replaced by this Sluice. Lazy chunks are served from
 * the same package folder.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const BUNDLE_DIR = path.join(
  path.dirname(require.resolve('@segment/analytics-next/package.json')),
  'dist',
  'umd',
);

export class AnalyticsJs {
  #standalone: string | undefined;

  /** The snippet bundle for one write key, pointing at `baseUrl` (e.g. https://collector.example.com). */
  bundle(writeKey: string, baseUrl: URL): string {
    this.#standalone ??= readFileSync(path.join(BUNDLE_DIR, 'standalone.js'), 'utf8');
    const origin = baseUrl.origin + baseUrl.pathname.replace(/\/$/, '');
    return (
      this.#standalone
        .replaceAll('__WRITE_KEY__', jsStringBody(writeKey))
        .replaceAll('https://cdn.segment.com', jsStringBody(origin))
        .replaceAll('api.segment.io/v1', jsStringBody(`${baseUrl.host}/v1`))
        // The bundle finds its own script tag with a pattern that only accepts https.
        .replaceAll('/(https:\\/\\/.*)\\/analytics\\.js', '/(https?:\\/\\/.*)\\/analytics\\.js')
    );
  }

  /** Path of a lazily loaded chunk, or undefined when the name is not a plain bundle file. */
  chunkPath(name: string): string | undefined {
    if (!/^[A-Za-z0-9_.-]+\.js(\.map)?$/.test(name)) return undefined;
    return path.join(BUNDLE_DIR, name);
  }
}

/** Escapes a value for use inside a double-quoted JavaScript string. */
function jsStringBody(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}
