/**
 * The SQL the fake BigQuery runs: scripts of `BEGIN TRANSACTION;`, MERGE statements and
 * `COMMIT TRANSACTION;`, nothing else. A MERGE must have the shape Sluice writes, one clause a
 * line:
 *   MERGE `project.dataset.table` AS t
 *   USING `project.dataset.staging` AS s
 *   ON t.`k` = s.`k` [AND ...] [AND t.`received_at` >= TIMESTAMP 'YYYY-MM-DD 00:00:00+00']
 *   WHEN MATCHED [AND (t.`c` IS NULL OR s.`c` >= t.`c`)] THEN UPDATE SET `c` = <value>, ...
 *   WHEN NOT MATCHED THEN INSERT (`c`, ...) VALUES (s.`c`, ...);
 * where a value is `s.`c``, `t.`c`` or COALESCE of two of them. It is run with BigQuery's
 * meaning: the first WHEN MATCHED clause whose condition holds updates the row, a target row
 * matched by two source rows fails the statement, a column the table lacks or of another type
 * fails it, and a failed statement leaves every table of the script as it was.
 */
import type { FakeDataset } from './fake-bigquery';
import { FakeError, type Row } from './fake-bigquery-rules';

type Scope = { t: Row; s: Row };

export function runScript(
  script: string,
  projectId: string,
  datasets: Map<string, FakeDataset>,
): void {
  const statements = script
    .split(/;\s*$/m)
    .map((statement) => statement.trim())
    .filter((statement) => statement !== '');
  const [begin, ...rest] = statements;
  const commit = rest.pop();
  if (begin !== 'BEGIN TRANSACTION' || commit !== 'COMMIT TRANSACTION') {
    throw invalidQuery('the fake runs only scripts of one transaction');
  }
  // All or nothing: statements change copies, which replace the tables at the commit.
  const changed = new Map<string, Row[]>();
  const tableOf = (path: string) => {
    const [project, dataset, table] = path.split('.');
    const found = project === projectId ? datasets.get(dataset)?.tables.get(table) : undefined;
    if (!found) throw new FakeError(404, 'notFound', `Not found: Table ${path}`);
    return { found, rows: () => changed.get(path) ?? found.rows };
  };
  for (const statement of rest) {
    const lines = statement.split('\n');
    const target = /^MERGE `([^`]+)` AS t$/.exec(lines[0] ?? '')?.[1];
    const source = /^USING `([^`]+)` AS s$/.exec(lines[1] ?? '')?.[1];
    const on = /^ON (.+)$/.exec(lines[2] ?? '')?.[1];
    if (!target || !source || !on) throw invalidQuery(`the fake cannot run: ${statement}`);
    const into = tableOf(target);
    const from = tableOf(source);
    const types = (table: typeof into) =>
      new Map(table.found.fields.map((field) => [field.name!, field.type!]));
    const columnTypes = { t: types(into), s: types(from) };
    const typeOf = (table: 't' | 's', column: string) => {
      const type = columnTypes[table].get(column);
      if (!type) throw invalidQuery(`Unrecognized name: ${column}`);
      return type;
    };
    const matched: Array<{ when: (scope: Scope) => boolean; set: Array<[string, Value]> }> = [];
    let insert: Array<[string, Value]> | undefined;
    for (const line of lines.slice(3)) {
      const update = /^WHEN MATCHED(?: AND (.+))? THEN UPDATE SET (.+)$/.exec(line);
      const insertion = /^WHEN NOT MATCHED THEN INSERT \((.+)\) VALUES \((.+)\)$/.exec(line);
      if (update) {
        const set = topLevel(update[2], ', ').map((assignment): [string, Value] => {
          const [column, value] = assignment.split(' = ');
          return [name(column), valueOf(value)];
        });
        matched.push({ when: update[1] ? conditionOf(update[1]) : () => true, set });
      } else if (insertion) {
        const columns = topLevel(insertion[1], ', ').map(name);
        const values = topLevel(insertion[2], ', ').map(valueOf);
        insert = columns.map((column, index) => [column, values[index]]);
      } else throw invalidQuery(`the fake cannot run: ${line}`);
    }
    for (const [column, value] of [...matched.flatMap(({ set }) => set), ...(insert ?? [])]) {
      for (const source of value.columns) {
        if (typeOf('t', column) !== typeOf(source.table, source.column)) {
          throw invalidQuery(`Value of another type cannot be assigned to ${column}`);
        }
      }
    }
    const matches = onClause(on);
    const rows = into.rows().map((row) => ({ ...row }));
    const sources = from.rows();
    const matchedBy = new Map<Row, Row>();
    const inserted: Row[] = [];
    for (const s of sources) {
      const hits = rows.filter((t) => matches({ t, s }));
      for (const t of hits) {
        if (matchedBy.has(t)) {
          throw invalidQuery('UPDATE/MERGE must match at most one source row for each target row');
        }
        matchedBy.set(t, s);
      }
      if (hits.length === 0 && insert) {
        const empty = Object.fromEntries([...columnTypes.t.keys()].map((column) => [column, null]));
        const values = insert.map(([column, value]) => [column, value.of({ t: {}, s })]);
        inserted.push({ ...empty, ...Object.fromEntries(values) });
      }
    }
    for (const [t, s] of matchedBy) {
      const clause = matched.find(({ when }) => when({ t, s }));
      const next = Object.fromEntries(
        (clause?.set ?? []).map(([column, value]) => [column, value.of({ t, s })]),
      );
      Object.assign(t, next);
    }
    changed.set(target, [...rows, ...inserted]);
  }
  for (const [path, rows] of changed) tableOf(path).found.rows = rows;
}

interface Value {
  of(scope: Scope): Row[string];
  columns: Array<{ table: 't' | 's'; column: string }>;
}

function valueOf(text: string): Value {
  const coalesce = /^COALESCE\((.+)\)$/.exec(text);
  if (coalesce) {
    const values = topLevel(coalesce[1], ', ').map(valueOf);
    return {
      of: (scope) =>
        values
          .map((value) => value.of(scope))
          .find((value) => value !== null && value !== undefined) ?? null,
      columns: values.flatMap((value) => value.columns),
    };
  }
  const reference = /^([ts])\.`(\w+)`$/.exec(text);
  if (!reference) throw invalidQuery(`the fake cannot compute ${text}`);
  const [, table, column] = reference as unknown as [string, 't' | 's', string];
  return { of: (scope) => scope[table][column] ?? null, columns: [{ table, column }] };
}

/** `(t.`c` IS NULL OR s.`c` >= t.`c`)`: ORs of those two kinds of term. */
function conditionOf(text: string): (scope: Scope) => boolean {
  const inner = /^\((.+)\)$/.exec(text)?.[1] ?? text;
  const terms = inner.split(' OR ').map((term) => {
    const isNull = /^([ts])\.`(\w+)` IS NULL$/.exec(term);
    if (isNull)
      return (scope: Scope) => (scope[isNull[1] as 't' | 's'][isNull[2]] ?? null) === null;
    const atLeast = /^s\.`(\w+)` >= t\.`(\w+)`$/.exec(term);
    if (!atLeast) throw invalidQuery(`the fake cannot test ${term}`);
    return (scope: Scope) => compare(scope.s[atLeast[1]], scope.t[atLeast[2]]) >= 0;
  });
  return (scope) => terms.some((term) => term(scope));
}

/** The ON clause: key equalities and a lower bound on `received_at`. */
function onClause(text: string): (scope: Scope) => boolean {
  const terms = text.split(' AND ').map((term) => {
    const equal = /^t\.`(\w+)` = s\.`(\w+)`$/.exec(term);
    if (equal) return ({ t, s }: Scope) => t[equal[1]] !== null && t[equal[1]] === s[equal[2]];
    const since = /^t\.`received_at` >= TIMESTAMP '(\d{4}-\d{2}-\d{2}) 00:00:00\+00'$/.exec(term);
    if (!since) throw invalidQuery(`the fake cannot join on ${term}`);
    const bound = `${since[1]}T00:00:00.000000Z`;
    return ({ t }: Scope) => typeof t.received_at === 'string' && t.received_at >= bound;
  });
  return (scope) => terms.every((term) => term(scope));
}

/** NULL sorts first; timestamps are stored in one fixed-width form, so text order is time order. */
function compare(left: Row[string] | undefined, right: Row[string] | undefined): number {
  if (left === null || left === undefined) return right === null || right === undefined ? 0 : -1;
  if (right === null || right === undefined) return 1;
  return left < right ? -1 : left > right ? 1 : 0;
}

function name(text: string): string {
  const column = /^`(\w+)`$/.exec(text)?.[1];
  if (!column) throw invalidQuery(`the fake cannot name ${text}`);
  return column;
}

/** `text` split at `separator` outside parentheses. */
function topLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    if (text[index] === '(') depth++;
    else if (text[index] === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, index)) {
      parts.push(text.slice(start, index));
      start = index + separator.length;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function invalidQuery(message: string): FakeError {
  return new FakeError(400, 'invalidQuery', message);
}
