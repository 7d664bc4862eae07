/**
 * Text that PostgreSQL can store. A `text` value cannot hold U+0000, and a lone UTF-16 surrogate
 * has no UTF-8 form; both occur in what Sluice records but does not control — an error a
 * transformation threw, a destination's response. Used for such diagnostic text only: events
 * themselves are stored as JSON, whose escapes keep them exact.
 */
export function storableText(text: string): string {
  // U+FFFD is what a decoder shows for a character it cannot represent.
  return text.replaceAll('\u0000', '\ufffd').toWellFormed();
}

/** storableText for an optional value. */
export function storableTextOrNull(text: string | undefined | null): string | null {
  return text === undefined || text === null ? null : storableText(text);
}
