/**
 * A timestamp as a BigQuery load file must have it. Sluice types as timestamps the ISO-8601 texts
 * that isTimestamp (src/warehouse/event-rows.ts) accepts, some of which BigQuery's JSON loads do
 * not: offsets without a colon (`+0200`), a lower-case `z`, more than six digits of a second.
 * So every one is written the same way, in UTC: `2024-05-01T10:00:00.123456Z`. BigQuery keeps
 * microseconds: digits beyond them are cut.
 */

const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/**
 * The text in UTC as `YYYY-MM-DDTHH:MM:SS.ffffffZ`, or undefined when it is no ISO-8601 text or
 * falls outside BigQuery's range (years 1 to 9999 in UTC, which an offset can leave).
 */
export function bigQueryTimestamp(text: string): string | undefined {
  const match = ISO_8601.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction = '', zone] = match;
  const date = new Date(0);
  // setUTCFullYear, not Date.UTC: Date.UTC reads the years 0-99 as 1900-1999.
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  date.setUTCHours(Number(hour), Number(minute) - offsetMinutes(zone), Number(second), 0);
  const utcYear = date.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return undefined;
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  const two = (value: number) => String(value).padStart(2, '0');
  return (
    `${String(utcYear).padStart(4, '0')}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())}` +
    `T${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}` +
    `.${micros}Z`
  );
}

/** Minutes east of UTC: `+02:00`, `+0200` and `+02` are 120; none, `Z` and `z` are 0. */
function offsetMinutes(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return zone.startsWith('-') ? -minutes : minutes;
}
