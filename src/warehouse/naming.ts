/**
 * How Segment names warehouse tables and columns, so that SQL written against a Segment (or
 * RudderStack) warehouse runs unchanged: snake_case as segmentio/go-snakecase writes it, a `_`
 * before a leading digit or a reserved word, and names cut to the warehouse's limit. A cut name
 * ends in a hash of the whole name, so two long names that share their beginning never land in
 * one column, and the same name always lands in the same one.
 */
import { createHash } from 'node:crypto';

/** What a warehouse allows in names and tables (PostgreSQL, BigQuery). */
export interface WarehouseDialect {
  /** Longest table or column name, in bytes (names are ASCII once snake-cased). */
  readonly maxNameLength: number;
  /** Most columns in one table; values for columns past it go to the discards. */
  readonly maxColumns: number;
  /** Words that cannot be a bare name, lower case. */
  readonly reservedWords: ReadonlySet<string>;
  /** Beginnings a name cannot have, lower case (BigQuery reserves `_partition`, `_table_`, ...). */
  readonly reservedPrefixes?: readonly string[];
  /** Whether the warehouse can store this text in a string column (no NUL in PostgreSQL). */
  canStore(text: string): boolean;
}

const ALREADY_SNAKE = /^(?:[a-z0-9]|_(?=[a-z0-9]))*$/;
const ALPHANUMERIC_RUN = /[A-Za-z0-9]+/g;
// A word: capitals and digits, then lower case and digits ("Base64", "Encode", "2FA", "CString").
const WORD = /[A-Z0-9]*[a-z0-9]*/g;

/**
 * snake_case as segmentio/go-snakecase writes it: words are split at every character that is not
 * an ASCII letter or digit and before a capital that follows a lower-case letter or digit,
 * lower-cased and joined by `_` (`Order Completed` → `order_completed`, `CStringRef` →
 * `cstring_ref`, `2FA Enabled` → `2fa_enabled`). A name already in snake_case is kept as it is.
 */
export function snakeCase(text: string): string {
  if (ALREADY_SNAKE.test(text)) return text;
  const words: string[] = [];
  for (const run of text.match(ALPHANUMERIC_RUN) ?? []) {
    for (const word of run.match(WORD) ?? []) if (word !== '') words.push(word.toLowerCase());
  }
  return words.join('_');
}

/**
 * The warehouse name for `text` (already snake-cased or not): undefined when nothing of it is
 * left (`•¶§` has no letters), else prefixed with `_` before a digit, a reserved word or a
 * reserved beginning, and cut to the dialect's limit with a hash of the whole name at the end.
 */
export function warehouseName(text: string, dialect: WarehouseDialect): string | undefined {
  // Events repeat their keys: each is named once (a bounded cache, so odd keys cannot grow it).
  let names = namesByDialect.get(dialect);
  if (!names || names.size >= MAX_CACHED_NAMES) {
    namesByDialect.set(dialect, (names = new Map()));
  }
  const known = names.get(text);
  if (known !== undefined) return known === NO_NAME ? undefined : known;
  const name = nameOf(text, dialect);
  names.set(text, name ?? NO_NAME);
  return name;
}

/** Cached for a text that has no name (an empty name is never one). */
const NO_NAME = '';

const MAX_CACHED_NAMES = 50_000;
const namesByDialect = new WeakMap<WarehouseDialect, Map<string, string>>();

function nameOf(text: string, dialect: WarehouseDialect): string | undefined {
  let name = snakeCase(text);
  if (name === '') return undefined;
  if (/^[0-9]/.test(name) || dialect.reservedWords.has(name)) name = `_${name}`;
  // After the step above, which made BigQuery's reserved word `partition` its reserved beginning
  // `_partition`. One more `_` is enough there: BigQuery's one beginning with `__` is `__root__`.
  if (dialect.reservedPrefixes?.some((prefix) => name.startsWith(prefix))) name = `_${name}`;
  if (name.length <= dialect.maxNameLength) return name;
  const hash = createHash('sha1').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, dialect.maxNameLength - hash.length - 1)}_${hash}`;
}
