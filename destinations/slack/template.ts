/**
 * Message templates for Slack: `{{path.to.field}}` is replaced by that field of the event, with
 * alternatives tried in turn (`{{traits.name | userId | "someone"}}`, a quoted text being a
 * literal). Nothing in a template is executed: a placeholder is only ever a path lookup. Inserted
 * values are escaped for Slack's mrkdwn (`&`, `<`, `>`), so event data cannot forge links or
 * mentions; the template's own text is the operator's and is left as written.
 */
import { stringOf, valueAt } from '../shared/values';

const PLACEHOLDER = /\{\{\s*([^{}]+?)\s*\}\}/g;

/** Slack's message text limit; longer text is cut by Slack itself, so it is cut here first. */
const MAX_TEXT_LENGTH = 40_000;

/** Escapes the three characters Slack's formatting gives meaning to. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The text a looked-up value reads as: objects and arrays as JSON. */
function textOf(value: unknown): string | undefined {
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return stringOf(value);
}

/** The first alternative of a placeholder that yields text; empty when none does. */
function resolve(expression: string, data: unknown): string {
  for (const alternative of expression.split('|').map((part) => part.trim())) {
    const literal = /^"(.*)"$/.exec(alternative);
    if (literal) return escapeSlack(literal[1]);
    const text = textOf(valueAt(data, alternative));
    if (text !== undefined) return escapeSlack(text);
  }
  return '';
}

/** The template with every placeholder replaced by the event's data, cut to Slack's limit. */
export function renderTemplate(template: string, data: unknown): string {
  const text = template.replace(PLACEHOLDER, (_match, expression: string) =>
    resolve(expression, data),
  );
  return text.length > MAX_TEXT_LENGTH ? `${text.slice(0, MAX_TEXT_LENGTH - 1)}…` : text;
}
