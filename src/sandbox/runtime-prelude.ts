/**
 * The first part of the in-isolate runtime (assembled in runtime-source.ts): built-ins captured
 * before user code runs, the per-call state, and the helpers that turn logs, errors and returned
 * events into plain data. Captured built-ins mean a transformation that replaces `JSON.parse` or
 * `Promise` does not break the runtime by accident; a hostile one can only spoil its own results,
 * which the host validates (wire-format.ts).
 *
 * The closure it runs in receives `$0` (the host's startFetch callback) and `$1` (the runtime's
 * file name, cut from stack traces).
 */
export const RUNTIME_PRELUDE = String.raw`'use strict';
const startFetch = $0;
const runtimeFile = $1;
const parse = JSON.parse;
const stringify = JSON.stringify;
const isArray = Array.isArray;
const keys = Object.keys;
const getPrototypeOf = Object.getPrototypeOf;
const defineProperty = Object.defineProperty;
const objectPrototype = Object.prototype;
const random = Math.random;
const floor = Math.floor;
const fromCharCode = String.fromCharCode;
const NativePromise = Promise;
const promiseAll = Promise.all.bind(Promise);
const promiseThen = Function.prototype.call.bind(Promise.prototype.then);
const NativeMap = Map;
const NativeSet = Set;
const NativeError = Error;
const NativeTypeError = TypeError;
// Event texts come in joined by the ASCII record separator, which JSON text never holds raw
// (JSON escapes every control character); see wire-format.ts for why results go out as an array.
const SEPARATOR = '\u001e';
const splitText = Function.prototype.call.bind(String.prototype.split);
const MAX_LOGS = 1000;
const MAX_TEXT = 2000;
const MAX_STACK = 4000;
const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

// Per-call state, reset by begin().
let logs = [];
let droppedLogs = 0;
let currentIndex = -1;
let resumingIndex = -1;
let pendingIndexes = null;
let pendingFetches = new NativeMap();
let nextFetchId = 0;
/** The host's number for the call being run: its fetches are attributed to that call. */
let callNumber = -1;

/** A failure found by the driver itself: reported without a stack (it has no user frames). */
function Problem(message) {
  this.message = message;
}

function clip(text, max) {
  return text.length > max ? text.slice(0, max) + '…' : text;
}

function formatArg(value) {
  try {
    if (typeof value === 'string') return value;
    if (value instanceof NativeError) return String(value.stack || value);
    if (typeof value === 'object' && value !== null) {
      const text = stringify(value);
      if (typeof text === 'string') return text;
    }
    return String(value);
  } catch (error) {
    return '[unprintable ' + typeof value + ']';
  }
}

function capture(level, args) {
  if (logs.length >= MAX_LOGS) {
    droppedLogs += 1;
    return;
  }
  let text = '';
  for (let i = 0; i < args.length; i++) text += (i === 0 ? '' : ' ') + formatArg(args[i]);
  const index = activeIndex();
  const entry = [level, clip(text, MAX_TEXT)];
  if (index >= 0) entry[2] = index;
  logs[logs.length] = entry;
}

/**
 * The input event the running code works for, or -1: the event whose transformEvent is on the
 * stack; else the event whose fetch just resolved (each delivery is its own call into the isolate,
 * so the microtasks it runs continue that fetch); else the only event still pending.
 */
function activeIndex() {
  if (currentIndex >= 0) return currentIndex;
  if (resumingIndex >= 0) return resumingIndex;
  let index = -1;
  if (pendingIndexes !== null && pendingIndexes.size === 1) {
    pendingIndexes.forEach(function (only) {
      index = only;
    });
  }
  return index;
}

function describeType(value) {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (isArray(value)) return 'an array';
  if (typeof value !== 'object') return 'a ' + typeof value;
  try {
    const prototype = getPrototypeOf(value);
    const name = prototype && prototype.constructor && prototype.constructor.name;
    return name ? 'a ' + name + ' object' : 'an object';
  } catch (error) {
    return 'an object';
  }
}

function isPlainObject(value) {
  if (typeof value !== 'object' || value === null || isArray(value)) return false;
  const prototype = getPrototypeOf(value);
  return prototype === objectPrototype || prototype === null;
}

function isThenable(value) {
  return value !== null && typeof value === 'object' && typeof value.then === 'function';
}

/** The user's frames only: the runtime's own frames and the boundary are cut. */
function userStack(stack) {
  if (typeof stack !== 'string') return undefined;
  const kept = [];
  let frames = 0;
  const lines = stack.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const isFrame = /^\s+at /.test(line);
    if (isFrame && (line.indexOf(runtimeFile) >= 0 || line.indexOf('<isolated-vm') >= 0)) continue;
    if (isFrame) frames += 1;
    kept[kept.length] = line;
  }
  return frames > 0 ? clip(kept.join('\n'), MAX_STACK) : undefined;
}

function describeError(error) {
  try {
    if (error instanceof Problem) return { message: clip(error.message, MAX_TEXT) };
    if (error instanceof NativeError) {
      const name = String(error.name);
      const text = String(error.message);
      const message = clip(name && name !== 'Error' ? name + ': ' + text : text, MAX_TEXT);
      const stack = userStack(error.stack);
      return stack === undefined ? { message: message } : { message: message, stack: stack };
    }
    return { message: clip(formatArg(error), MAX_TEXT) };
  } catch (failure) {
    return { message: 'The transformation threw a value that cannot be described' };
  }
}

function serializeEvent(value) {
  let text;
  try {
    text = stringify(value);
  } catch (error) {
    throw new Problem('A returned event cannot be converted to JSON: ' + describeError(error).message);
  }
  if (typeof text !== 'string' || text.charCodeAt(0) !== 123) {
    throw new Problem('A returned event does not convert to a JSON object (check its toJSON)');
  }
  return text;
}

function uuid() {
  let text = '';
  for (let i = 0; i < 32; i++) {
    let digit = floor(random() * 16);
    if (i === 12) digit = 4;
    if (i === 16) digit = (digit & 3) | 8;
    text += digit.toString(16);
    if (i === 7 || i === 11 || i === 15 || i === 19) text += '-';
  }
  return text;
}

`;
