/**
 * Reading an event's properties for a GA4 mapping while remembering which of them the mapping
 * used: what a mapping places in a GA4 parameter is consumed, everything else goes on as a
 * custom parameter. A mapping that reads a field only as a fallback (`total` when there is no
 * `revenue`) consumes it only when the fallback is taken.
 */
import { firstNumber, firstString, isRecord, type JsonObject } from '../shared/values';

export class PropertyReader {
  private readonly used = new Set<string>();

  constructor(private readonly properties: JsonObject) {}

  /**
   * The first non-empty string under `keys`, the spellings of one field (`product_id`,
   * `productId`); when one holds it, every spelling present counts as used.
   */
  text(...keys: string[]): string | undefined {
    return this.use(keys, firstString(...keys.map((key) => this.properties[key])));
  }

  /** The first number (or numeric string) under `keys`, used as `text` is. */
  number(...keys: string[]): number | undefined {
    return this.use(keys, firstNumber(...keys.map((key) => this.properties[key])));
  }

  /** The objects of an array property (`products`); used whenever it is an array. */
  records(key: string): JsonObject[] {
    const value = this.properties[key];
    return this.use([key], Array.isArray(value) ? value.filter(isRecord) : undefined) ?? [];
  }

  /** A reader of the same properties whose reads count here only once `adopt`ed. */
  fork(): PropertyReader {
    return new PropertyReader(this.properties);
  }

  /** Counts what `fork` used as used here. */
  adopt(fork: PropertyReader): void {
    for (const key of fork.used) this.used.add(key);
  }

  /** The properties no read used, in their order. */
  rest(): JsonObject {
    return Object.fromEntries(
      Object.entries(this.properties).filter(([key]) => !this.used.has(key)),
    );
  }

  private use<T>(keys: readonly string[], value: T | undefined): T | undefined {
    if (value === undefined) return undefined;
    for (const key of keys) if (Object.hasOwn(this.properties, key)) this.used.add(key);
    return value;
  }
}
