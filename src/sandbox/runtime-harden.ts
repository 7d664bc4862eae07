/**
 * The part of the in-isolate runtime (assembled in runtime-source.ts) that freezes the built-ins
 * once the user's module has loaded, before the first event is transformed. Events of many users
 * share an isolate, so without this one event's code could change what the next event's code
 * sees: a deep merge of `{"__proto__": {"isAdmin": true}}` from one event would give every object
 * of every later event an `isAdmin`. With it, such an assignment throws (strict mode) and fails
 * that event alone.
 *
 * - Loading runs before the freeze, so a module or library may still install a polyfill at its
 *   top level.
 * - Every built-in reachable from the global object (constructors, prototypes, their functions,
 *   the iterator and generator prototypes) is frozen, and the global object's own built-in
 *   bindings (`JSON`, `Object`, `console`, `fetch`...) become read-only. The global object itself
 *   stays open: module state that a transformation keeps across events on purpose is its own.
 * - Freezing a prototype would make assigning an inherited name fail on ordinary objects too
 *   (`this.name = 'MyError'` in an Error subclass, `obj.toString = ...`): the properties code
 *   commonly overrides that way become accessors whose setter defines the property on the object
 *   assigned to, as it would have been before, and throws only for the built-in itself.
 */
export const RUNTIME_HARDEN = String.raw`

const ownKeys = Reflect.ownKeys;
const getOwnPropertyDescriptor = Object.getOwnPropertyDescriptor;
const freeze = Object.freeze;
/** The global bindings that exist before user code: the built-ins and the runtime's globals. */
const builtinNames = ownKeys(globalThis);

/** Names assigned on ordinary objects that inherit them; see the comment at the top. */
const OVERRIDDEN_ON_OBJECTS = ['constructor', 'toString', 'toLocaleString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable'];
const OVERRIDDEN_ON_ERRORS = ['constructor', 'name', 'message', 'toString'];
const OVERRIDDEN_ON_PROTOTYPES = ['constructor', 'toString'];

function allowOverride(object, names) {
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const descriptor = getOwnPropertyDescriptor(object, name);
    if (descriptor === undefined || !('value' in descriptor) || !descriptor.configurable) continue;
    const value = descriptor.value;
    defineProperty(object, name, {
      get: function () { return value; },
      set: function (newValue) {
        if (this === object) {
          throw new NativeTypeError('Cannot assign to ' + name + ' of a built-in: built-ins are frozen while events are transformed');
        }
        defineProperty(this, name, { value: newValue, writable: true, enumerable: true, configurable: true });
      },
      enumerable: descriptor.enumerable,
      configurable: false,
    });
  }
}

/** Freezes everything reachable from roots through properties, accessors and prototypes. */
function deepFreeze(roots) {
  const seen = new NativeSet();
  const pending = roots;
  let top = pending.length;
  while (top > 0) {
    const value = pending[--top];
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) continue;
    if (value === globalThis || seen.has(value)) continue;
    seen.add(value);
    pending[top++] = getPrototypeOf(value);
    const names = ownKeys(value);
    for (let i = 0; i < names.length; i++) {
      const descriptor = getOwnPropertyDescriptor(value, names[i]);
      if ('value' in descriptor) pending[top++] = descriptor.value;
      else {
        pending[top++] = descriptor.get;
        pending[top++] = descriptor.set;
      }
    }
    freeze(value);
  }
}

let hardened = false;

function hardenBuiltins() {
  if (hardened) return;
  hardened = true;
  const roots = [];
  for (let i = 0; i < builtinNames.length; i++) {
    const name = builtinNames[i];
    const descriptor = getOwnPropertyDescriptor(globalThis, name);
    if (descriptor === undefined) continue;
    if ('value' in descriptor) {
      const value = descriptor.value;
      roots[roots.length] = value;
      if (typeof value === 'function' && value.prototype) {
        allowOverride(value.prototype, value === Error || getPrototypeOf(value) === Error ? OVERRIDDEN_ON_ERRORS : OVERRIDDEN_ON_PROTOTYPES);
      }
    }
    if (descriptor.configurable) {
      const locked = 'value' in descriptor ? { writable: false, configurable: false } : { configurable: false };
      defineProperty(globalThis, name, locked);
    }
  }
  allowOverride(objectPrototype, OVERRIDDEN_ON_OBJECTS);
  // Built-ins that no global names: iterators, generators and async functions.
  roots[roots.length] = getPrototypeOf([][Symbol.iterator]());
  roots[roots.length] = getPrototypeOf(new NativeMap().entries());
  roots[roots.length] = getPrototypeOf(new NativeSet().values());
  roots[roots.length] = getPrototypeOf(''[Symbol.iterator]());
  roots[roots.length] = getPrototypeOf(/a/g[Symbol.matchAll](''));
  roots[roots.length] = getPrototypeOf(function* () {});
  roots[roots.length] = getPrototypeOf(async function () {});
  roots[roots.length] = getPrototypeOf(async function* () {});
  deepFreeze(roots);
}

`;
