/** What PostgreSQL allows in names and stores in text columns. */
import type { WarehouseDialect } from '../../src/warehouse/naming';

/** PostgreSQL's reserved key words (pg_get_keywords(), categories R and T, PostgreSQL 15). */
const RESERVED = `all analyse analyze and any array as asc asymmetric authorization binary both case
cast check collate collation column concurrently constraint create cross current_catalog
current_date current_role current_schema current_time current_timestamp current_user default
deferrable desc distinct do else end except false fetch for foreign freeze from full grant group
having ilike in initially inner intersect into is isnull join lateral leading left like limit
localtime localtimestamp natural not notnull null offset on only or order outer overlaps placing
primary references returning right select session_user similar some symmetric table tablesample
then to trailing true union unique user using variadic verbose when where window with`;

export const POSTGRES_DIALECT: WarehouseDialect = {
  maxNameLength: 63,
  maxColumns: 1600,
  reservedWords: new Set(RESERVED.split(/\s+/)),
  // text cannot hold U+0000; a lone surrogate has no UTF-8 form.
  canStore: (text) => !text.includes('\u0000') && text.isWellFormed(),
};
