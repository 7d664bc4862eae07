/**
 * Parses a request body as JSON after one pass over the text that (a) refuses nesting deeper than
 * the limit, so deep input never reaches code that recurses over events, (b) refuses a top-level
 * key given twice, so what is measured is what JSON.parse keeps (it keeps the last), and (c)
 * measures each element of the top-level "batch" array as sent, together with the batch-level
 * "context" and "integrations" every element inherits, for the per-event size limit. The pass
 * jumps over strings (json-scan.ts), so it costs a fraction of JSON.parse.
 */
import { SluiceError } from '../errors';
import { closingQuote, JSON_CHARS } from '../json-scan';

export interface ParsedMessage {
  message: unknown;
  /**
   * `batch` elements refused as sent, by index: larger than `maxItemBytes` with what they inherit,
   * or nested deeper than the limit. They cost only themselves, as any invalid event of a batch.
   */
  refusedItems: Map<number, SluiceError>;
}

/** Where the batch's elements are in the text, and the size of what each inherits. */
interface Shape {
  /** Per element: its index, start and end (exclusive), flattened. */
  items: number[];
  inheritedBytes: number;
  /** Elements nested deeper than the limit. */
  tooDeep: Set<number>;
}

const { QUOTE, OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA } = JSON_CHARS;

/** The top-level keys whose objects are merged into every event of a batch. */
const INHERITED_KEYS = new Set(['context', 'integrations']);

export function parseMessage(
  text: string,
  limits: { maxDepth: number; maxItemBytes: number },
): ParsedMessage {
  const { items, inheritedBytes, tooDeep } = scan(text, limits.maxDepth);
  let message: unknown;
  try {
    // JSON.parse does not recurse, so a deep batch element is parsed safely and then refused.
    message = JSON.parse(text);
  } catch (error) {
    throw new SluiceError('SLUICE_E_INVALID_JSON', (error as Error).message, { cause: error });
  }
  const itemLimit = limits.maxItemBytes - inheritedBytes;
  const refusedItems = new Map<number, SluiceError>();
  for (const index of tooDeep) refusedItems.set(index, tooDeepError(limits.maxDepth));
  for (let i = 0; i < items.length; i += 3) {
    if (refusedItems.has(items[i])) continue;
    if (exceeds(text, items[i + 1], items[i + 2], itemLimit)) {
      refusedItems.set(
        items[i],
        new SluiceError(
          'SLUICE_E_EVENT_TOO_LARGE',
          `the limit is ${limits.maxItemBytes} bytes, with the batch's context and integrations`,
        ),
      );
    }
  }
  return { message, refusedItems };
}

function tooDeepError(maxDepth: number): SluiceError {
  return new SluiceError('SLUICE_E_TOO_DEEP', `the limit is ${maxDepth} levels`);
}

function scan(text: string, maxDepth: number): Shape {
  const items: number[] = [];
  const tooDeep = new Set<number>();
  let inheritedBytes = 0;
  const length = text.length;
  let depth = 0;
  let topIsObject = false;
  // At depth 1 of an object, the next string is a key (not a value).
  let expectKey = false;
  const keys = new Set<string>();
  // The top-level key whose value is being read.
  let key = '';
  let inBatch = false;
  let itemIndex = 0;
  let itemStart = -1;
  let inheritedStart = -1;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = closingQuote(text, i);
      if (depth === 1 && expectKey) {
        key = keyText(text, i, end);
        if (keys.has(key)) {
          throw new SluiceError(
            'SLUICE_E_INVALID_JSON',
            `the key ${JSON.stringify(key)} appears twice`,
          );
        }
        keys.add(key);
        expectKey = false;
      }
      i = end;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > maxDepth) {
        // Inside a batch element only that element is refused; elsewhere the whole body is.
        if (!(inBatch && itemStart >= 0)) throw tooDeepError(maxDepth);
        tooDeep.add(itemIndex);
      }
      if (depth === 1) {
        topIsObject = c === OPEN_OBJECT;
        expectKey = topIsObject;
      } else if (depth === 2 && topIsObject) {
        inBatch = c === OPEN_ARRAY && key === 'batch';
        if (c === OPEN_OBJECT && INHERITED_KEYS.has(key)) inheritedStart = i;
      } else if (depth === 3 && inBatch) {
        itemStart = i;
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      if (depth === 3 && inBatch && itemStart >= 0) {
        items.push(itemIndex, itemStart, i + 1);
        itemStart = -1;
      } else if (depth === 2) {
        inBatch = false;
        if (inheritedStart >= 0) {
          inheritedBytes += Buffer.byteLength(text.slice(inheritedStart, i + 1));
          inheritedStart = -1;
        }
      }
      depth--;
    } else if (c === COMMA) {
      if (depth === 2 && inBatch) itemIndex++;
      else if (depth === 1) expectKey = topIsObject;
    }
  }
  return { items, inheritedBytes, tooDeep };
}

/** The key spelled by the string text[start, end]: escapes (`"b\u0061tch"`) decoded. */
function keyText(text: string, start: number, end: number): string {
  const quoted = text.slice(start, end + 1);
  if (!quoted.includes('\\')) return quoted.slice(1, -1);
  try {
    return JSON.parse(quoted) as string;
  } catch (error) {
    throw new SluiceError('SLUICE_E_INVALID_JSON', (error as Error).message, { cause: error });
  }
}

/** Whether text[start, end) is more than `limit` UTF-8 bytes, measuring only when it could be. */
function exceeds(text: string, start: number, end: number, limit: number): boolean {
  const units = end - start;
  if (units > limit) return true; // every UTF-16 unit is at least one byte
  if (units * 3 <= limit) return false; // and at most three
  return Buffer.byteLength(text.slice(start, end)) > limit;
}
