/**
 * Many rows in one statement without escaping: each column's values are joined by the ASCII
 * record separator and split by PostgreSQL's string_to_array. JSON.stringify escapes every
 * control character and ids are checked to hold none (isStorableId), so the separator cannot
 * occur inside a value. (A JSON array would not do: PostgreSQL's JSON parser rejects \u0000 and
 * lone surrogates, which JSON.stringify emits and which are valid in an event.)
 */

const SEPARATOR = '\u001e';

/** The SQL that splits parameter `$n` back into a text[] (cast it as needed). */
export function splitColumn(parameter: number): string {
  return `string_to_array($${parameter}, E'\\x1e')`;
}

/** Joins one column of `rows` for splitColumn. */
export function joinColumn<T>(rows: readonly T[], value: (row: T) => string | number): string {
  let text = '';
  for (let i = 0; i < rows.length; i++) text += (i === 0 ? '' : SEPARATOR) + value(rows[i]);
  return text;
}

// Control characters: PostgreSQL text cannot hold U+0000, and U+001E is the separator above.
// Lone surrogates: they have no UTF-8 form, so PostgreSQL refuses them too.
const UNSTORABLE =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether an id taken from an event (messageId, userId, ...) can be written as a text column:
 * no control characters and no lone surrogates. The event itself is stored as JSON text, whose
 * escapes keep such characters exact; ids are written bare.
 */
export function isStorableId(value: string): boolean {
  return !UNSTORABLE.test(value);
}
