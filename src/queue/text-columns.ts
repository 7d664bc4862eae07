/**
 * Many rows in one statement without escaping: each column's values are joined by the ASCII
 * record separator and split by PostgreSQL's string_to_array. JSON.stringify escapes every
 * control character and ids are checked to hold none, so the separator cannot occur inside a
 * value. (A JSON array would not do: PostgreSQL's JSON parser rejects \u0000 and lone surrogates,
 * which JSON.stringify emits and which are valid in an event.)
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
