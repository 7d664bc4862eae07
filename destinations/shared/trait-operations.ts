/**
 * Profile operations on chosen traits besides "set", as profile APIs offer them (Amplitude's user
 * property operations, Mixpanel's engage operations): add to a number, set only once, append to a
 * list, add to a list as a set (union). The workspace names the traits of each operation; a user's
 * other traits are set.
 */
import { z } from 'zod';
import { numberOf, type JsonObject } from './values';

/** The config fields naming the traits of each operation, and the operation they name. */
const OPERATIONS = {
  traitsToIncrement: 'increment',
  traitsToSetOnce: 'setOnce',
  traitsToAppend: 'append',
  traitsToUnion: 'union',
} as const;

type ListField = keyof typeof OPERATIONS;
type Operation = (typeof OPERATIONS)[ListField];

/** The lists of trait names of a parsed config. */
export type TraitLists = Readonly<Record<ListField, readonly string[]>>;

/** Config fields: the trait names of each operation (default: none). */
export function traitListFields() {
  const names = () => z.array(z.string().min(1)).default([]);
  return {
    traitsToIncrement: names(),
    traitsToSetOnce: names(),
    traitsToAppend: names(),
    traitsToUnion: names(),
  };
}

/**
 * A config refinement: a trait takes one operation. (Amplitude keeps only the first operation on
 * a property of one update; Mixpanel would apply both, setting a counter and adding to it.)
 */
export function oneOperationPerTrait(config: TraitLists, context: z.RefinementCtx): void {
  const owner = new Map<string, ListField>();
  for (const field of Object.keys(OPERATIONS) as ListField[]) {
    for (const name of config[field]) {
      const earlier = owner.get(name);
      if (earlier && earlier !== field) {
        context.addIssue({
          code: 'custom',
          path: [field],
          message: `"${name}" is also in ${earlier}; a trait takes one operation`,
        });
      }
      owner.set(name, field);
    }
  }
}

/** A user's traits by the operation that sends them. */
export type TraitsByOperation = Record<'set' | Operation, JsonObject>;

/**
 * Traits split by operation: a listed trait leaves `set` for its operation. An increment must be a
 * number (numeric text is read as one); any other value stays in `set` as sent, so it is not lost.
 * Absent and null traits have nothing to operate with and stay where they are.
 */
export function traitsByOperation(traits: JsonObject, lists: TraitLists): TraitsByOperation {
  const split: TraitsByOperation = {
    set: { ...traits },
    increment: {},
    setOnce: {},
    append: {},
    union: {},
  };
  for (const [field, operation] of Object.entries(OPERATIONS) as [ListField, Operation][]) {
    for (const name of lists[field]) {
      if (!Object.hasOwn(traits, name) || traits[name] === null) continue;
      const value = operation === 'increment' ? numberOf(traits[name]) : traits[name];
      if (value === undefined) continue;
      split[operation][name] = value;
      delete split.set[name];
    }
  }
  return split;
}

/**
 * The operations besides set that have traits, as `[vendor's operation, traits]` in the order of
 * `names`, which maps each operation to the vendor's name for it.
 */
export function vendorOperations(
  split: TraitsByOperation,
  names: Readonly<Record<Operation, string>>,
): Array<[string, JsonObject]> {
  return (Object.entries(names) as [Operation, string][])
    .filter(([operation]) => Object.keys(split[operation]).length > 0)
    .map(([operation, name]) => [name, split[operation]]);
}
