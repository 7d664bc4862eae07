/**
 * Building per-item verdicts for vendors that answer a batch item by item: the items the vendor
 * names get their own verdict, every other item shares one.
 */
import type { ResponseVerdict, Verdict } from '../destination';

/** One verdict per item of a request carrying `count` items: `named` ones, else `others`. */
export function perItemVerdict(
  count: number,
  named: ReadonlyMap<number, Verdict>,
  others: Verdict,
): ResponseVerdict {
  return {
    outcome: 'per-item',
    items: Array.from({ length: count }, (_, index) => named.get(index) ?? others),
  };
}

/** `value` as an index into a list of `length` entries, or undefined when it is none. */
export function indexIn(value: unknown, length: number): number | undefined {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) < length
    ? (value as number)
    : undefined;
}
