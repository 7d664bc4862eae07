/**
 * The code that runs inside every transformation isolate, next to the user's module, assembled
 * from four parts: the prelude (captured built-ins, per-call state, helpers), the globals user
 * code sees (`log`, `console`, `fetch`, `btoa`, `atob`), the freeze of the built-ins once the
 * module has loaded (runtime-harden.ts), and here the driver that calls
 * `transformEvent`/`transformBatch`, checks what they return and serializes the outcome. Checking
 * inside the isolate means only strings cross the boundary (see wire-format.ts).
 *
 * It is a string because the isolate compiles it, not Node. It is evaluated once per isolate with
 * `context.evalClosure(RUNTIME_SOURCE, [startFetch, RUNTIME_FILENAME])` and returns
 * `{ bind, deliver }`:
 * - `bind(namespace, fileName)` checks the module's exports and returns the runner
 *   `(headerText, eventTexts, callNumber) => resultParts | Promise<resultParts>`. The host sends
 *   calls without waiting for the previous one to end; the runner runs them one after another
 *   (a call starts once every earlier call has settled), so per-call state is never shared;
 * - `deliver(id, ok, text)` settles the promise of fetch `id` (the host calls it when done).
 */
import { RUNTIME_GLOBALS } from './runtime-globals';
import { RUNTIME_HARDEN } from './runtime-harden';
import { RUNTIME_PRELUDE } from './runtime-prelude';

/** The file name of the runtime's frames; they are cut from stack traces shown to users. */
export const RUNTIME_FILENAME = 'sluice:sandbox-runtime';

/** The driver: calls the user's function over a batch and reports the outcome. */
const RUNTIME_DRIVER = String.raw`

function begin(headerText, joined, number) {
  callNumber = number;
  logs = [];
  droppedLogs = 0;
  currentIndex = -1;
  resumingIndex = -1;
  pendingIndexes = null;
  // Fetches of an earlier call are never delivered: the host drops them when that call ends.
  pendingFetches = new NativeMap();
  const payload = parse(headerText);
  const texts = typeof joined === 'string' ? splitText(joined, SEPARATOR) : null;
  if (texts === null || texts.length !== payload.ids.length) {
    throw new NativeError('The input events do not match their metadata');
  }
  payload.texts = texts;
  return payload;
}

/** Events are parsed one at a time, so each one's objects die young (cheap for the GC). */
function eventAt(payload, index) {
  try {
    return parse(payload.texts[index]);
  } catch (error) {
    throw new Problem('The input event is not valid JSON: ' + error.message);
  }
}

function metadataAt(payload, index) {
  const shared = payload.shared[payload.sharedOf === null ? 0 : payload.sharedOf[index]];
  return {
    sourceId: shared.sourceId,
    sourceName: shared.sourceName,
    destinationId: shared.destinationId,
    destinationName: shared.destinationName,
    destinationType: shared.destinationType,
    messageId: payload.ids[index],
    receivedAt: payload.receivedAt[index],
  };
}

function header(fields) {
  fields.logs = logs;
  fields.droppedLogs = droppedLogs;
  return stringify(fields);
}

function tooManyOutputs(name, outputs, maxOutputs) {
  return name + ' made ' + outputs + ' events of one event; the limit is ' + maxOutputs + ' (sandbox.maxOutputsPerEvent)';
}

/** A returned event's messageId, sent beside its text so that the host need not parse it. */
function messageIdOf(value) {
  const id = value.messageId;
  return typeof id === 'string' ? id : null;
}

/**
 * [header, the output event texts in input order...]; lines[i] is one text or several, and
 * ids[i] the messageIds of the same outputs in the same shape.
 */
function finishLines(counts, lines, ids, errors) {
  const parts = [null];
  const outputIds = [];
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 1 && !isArray(lines[i])) {
      parts[parts.length] = lines[i];
      outputIds[outputIds.length] = ids[i];
    } else if (counts[i] > 0) {
      for (let j = 0; j < lines[i].length; j++) {
        parts[parts.length] = lines[i][j];
        outputIds[outputIds.length] = ids[i][j];
      }
    }
  }
  parts[0] = header({ counts: counts, errors: errors, ids: outputIds });
  return parts;
}

function finishFailed(error) {
  return [header({ failAll: describeError(error) })];
}

function acceptEventResult(outcome, index, result) {
  if (result === null || result === undefined) {
    outcome.counts[index] = 0;
    return;
  }
  if (isArray(result)) {
    if (result.length > outcome.maxOutputs) throw new Problem(tooManyOutputs('transformEvent', result.length, outcome.maxOutputs));
    const texts = new Array(result.length);
    const ids = new Array(result.length);
    for (let j = 0; j < result.length; j++) {
      if (!isPlainObject(result[j])) {
        throw new Problem('transformEvent returned an array whose item ' + j + ' is ' + describeType(result[j]) + ', not an event object');
      }
      texts[j] = serializeEvent(result[j]);
      ids[j] = messageIdOf(result[j]);
    }
    outcome.lines[index] = texts;
    outcome.ids[index] = ids;
    outcome.counts[index] = texts.length;
    return;
  }
  if (!isPlainObject(result)) {
    throw new Problem('transformEvent must return an event object, an array of event objects, or null to drop the event; it returned ' + describeType(result));
  }
  outcome.lines[index] = serializeEvent(result);
  outcome.ids[index] = messageIdOf(result);
  outcome.counts[index] = 1;
}

function failEvent(outcome, index, error) {
  const described = describeError(error);
  described.index = index;
  outcome.counts[index] = -1;
  outcome.errors[outcome.errors.length] = described;
}

function settleLater(outcome, index, thenable) {
  return new NativePromise(function (resolve) {
    let settled = false;
    function settle(accepted, value) {
      if (settled) return;
      settled = true;
      pendingIndexes.delete(index);
      try {
        if (accepted) acceptEventResult(outcome, index, value);
        else failEvent(outcome, index, value);
      } catch (error) {
        failEvent(outcome, index, error);
      }
      resolve();
    }
    try {
      thenable.then(function (value) { settle(true, value); }, function (error) { settle(false, error); });
    } catch (error) {
      settle(false, error);
    }
  });
}

function runEvents(transform, headerText, joined, number) {
  const payload = begin(headerText, joined, number);
  const count = payload.texts.length;
  const outcome = { counts: new Array(count), lines: new Array(count), ids: new Array(count), errors: [], maxOutputs: payload.maxOutputs };
  let waits = null;
  for (let i = 0; i < count; i++) {
    currentIndex = i;
    try {
      const result = transform(eventAt(payload, i), metadataAt(payload, i));
      if (isThenable(result)) {
        if (waits === null) {
          waits = [];
          pendingIndexes = new NativeSet();
        }
        pendingIndexes.add(i);
        waits[waits.length] = settleLater(outcome, i, result);
      } else {
        acceptEventResult(outcome, i, result);
      }
    } catch (error) {
      failEvent(outcome, i, error);
    }
  }
  currentIndex = -1;
  if (waits === null) return finishLines(outcome.counts, outcome.lines, outcome.ids, outcome.errors);
  return promiseAll(waits).then(function () {
    return finishLines(outcome.counts, outcome.lines, outcome.ids, outcome.errors);
  });
}

function acceptBatchResult(result, count, indexById, maxOutputs) {
  if (!isArray(result)) {
    throw new Problem('transformBatch must return an array of event objects; it returned ' + describeType(result));
  }
  // First each output's input, so that an input over the limit fails before any of its outputs
  // is serialized.
  const owners = new Array(result.length);
  const counts = new Array(count).fill(0);
  for (let j = 0; j < result.length; j++) {
    const item = result[j];
    if (!isPlainObject(item)) {
      throw new Problem('transformBatch returned an array whose item ' + j + ' is ' + describeType(item) + ', not an event object');
    }
    // An output belongs to the input with its messageId; any other output to the first input.
    let index = typeof item.messageId === 'string' ? indexById.get(item.messageId) : undefined;
    if (index === undefined) {
      index = 0;
      if (item.messageId === undefined || item.messageId === null || item.messageId === '') item.messageId = uuid();
    }
    owners[j] = index;
    counts[index] += 1;
  }
  const errors = [];
  const lines = new Array(count);
  const ids = new Array(count);
  for (let i = 0; i < count; i++) {
    lines[i] = [];
    ids[i] = [];
    if (counts[i] <= maxOutputs) continue;
    errors[errors.length] = { index: i, message: tooManyOutputs('transformBatch', counts[i], maxOutputs) };
    counts[i] = -1;
  }
  for (let j = 0; j < result.length; j++) {
    const index = owners[j];
    if (counts[index] < 0) continue;
    const at = lines[index].length;
    lines[index][at] = serializeEvent(result[j]);
    ids[index][at] = messageIdOf(result[j]);
  }
  return finishLines(counts, lines, ids, errors);
}

function runBatch(transform, headerText, joined, number) {
  const payload = begin(headerText, joined, number);
  const count = payload.texts.length;
  const indexById = new NativeMap();
  for (let i = count - 1; i >= 0; i--) indexById.set(payload.ids[i], i);
  const metadata = function metadata(event) {
    const id = event !== null && typeof event === 'object' ? event.messageId : undefined;
    const index = indexById.get(id);
    return index === undefined ? undefined : metadataAt(payload, index);
  };
  let result;
  try {
    const events = new Array(count);
    for (let i = 0; i < count; i++) events[i] = eventAt(payload, i);
    if (count === 1) currentIndex = 0;
    result = transform(events, metadata);
  } catch (error) {
    return finishFailed(error);
  } finally {
    currentIndex = -1;
  }
  const settle = function (value) {
    try {
      return acceptBatchResult(value, count, indexById, payload.maxOutputs);
    } catch (error) {
      return finishFailed(error);
    }
  };
  if (!isThenable(result)) return settle(result);
  if (count === 1) pendingIndexes = new NativeSet([0]);
  return new NativePromise(function (resolve) {
    try {
      result.then(function (value) { resolve(settle(value)); }, function (error) { resolve(finishFailed(error)); });
    } catch (error) {
      resolve(finishFailed(error));
    }
  });
}

function bind(namespace, fileName) {
  const names = keys(namespace);
  const hasEvent = names.indexOf('transformEvent') >= 0;
  const hasBatch = names.indexOf('transformBatch') >= 0;
  if (hasEvent && hasBatch) {
    throw new NativeError(fileName + ' exports both transformEvent and transformBatch; export exactly one');
  }
  if (!hasEvent && !hasBatch) {
    throw new NativeError(fileName + ' must export transformEvent(event, metadata) or transformBatch(events, metadata); it exports ' + (names.length > 0 ? names.join(', ') : 'nothing'));
  }
  const name = hasEvent ? 'transformEvent' : 'transformBatch';
  const transform = namespace[name];
  if (typeof transform !== 'function') {
    throw new NativeError(fileName + ': the export ' + name + ' is ' + describeType(transform) + ', not a function');
  }
  // The module has loaded: from here on no event's code may change the built-ins.
  hardenBuiltins();
  return oneAtATime(hasEvent ? runEvents : runBatch, transform);
}

/**
 * The runner: runs a call at once when no earlier call is pending (always, for synchronous code),
 * else after the last pending one settles.
 */
function oneAtATime(run, transform) {
  let last = null;
  function ignore() {}
  return function runner(headerText, joined, number) {
    const result = last === null
      ? run(transform, headerText, joined, number)
      : promiseThen(last, function () { return run(transform, headerText, joined, number); });
    // A finished call's result is an array; checked as such, not as "no then", since user code
    // could give arrays a then.
    if (isArray(result)) return result;
    const settled = promiseThen(result, ignore, ignore);
    last = settled;
    promiseThen(settled, function () { if (last === settled) last = null; });
    return result;
  };
}

return { bind: bind, deliver: deliver };
`;

export const RUNTIME_SOURCE = RUNTIME_PRELUDE + RUNTIME_GLOBALS + RUNTIME_HARDEN + RUNTIME_DRIVER;
