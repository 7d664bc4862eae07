/**
 * `sluice transform test <file> --events events.json [--json]`: runs a transformation file on
 * sample events with the workspace's libraries and sandbox limits, and prints the output events,
 * the logs and the errors — the loop a user lives in while writing one. Exits 1 when any event
 * failed.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/settings';
import { loadWorkspace } from '../config/workspace';
import { SluiceError } from '../errors';
import type { Logger } from '../log';
import { codeFromFile } from '../sandbox/load-transformation';
import { testTransformation } from '../sandbox/test-transformation';
import { DEFAULT_SANDBOX_LIMITS } from '../sandbox/transformation-sandbox';

export interface TransformTestArgs {
  file: string;
  eventsFile: string;
  json: boolean;
}

export async function runTransformTest(
  args: TransformTestArgs,
  settings: Settings,
  logger: Logger,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const workspace = existsSync(settings.workspaceFile)
    ? loadWorkspace(settings.workspaceFile)
    : undefined;
  const events = readEvents(args.eventsFile);
  const result = await testTransformation({
    code: codeFromFile(path.resolve(args.file), workspace),
    events,
    limits: workspace?.sandbox ?? DEFAULT_SANDBOX_LIMITS,
    logger,
  });
  if (args.json) {
    out(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    out(`${result.events.length} event(s) out of ${events.length} in\n`);
    for (const event of result.events) out(`${JSON.stringify(event, null, 2)}\n`);
    if (result.logs.length > 0) {
      out('\nlogs:\n');
      for (const log of result.logs) {
        out(
          `  ${log.eventIndex === undefined ? '' : `[event ${log.eventIndex}] `}${log.level}: ${log.message}\n`,
        );
      }
    }
    if (result.errors.length > 0) {
      out('\nerrors:\n');
      for (const error of result.errors) {
        out(`  event ${error.eventIndex}: ${error.message}\n`);
        if (error.stack) out(`${error.stack.replace(/^/gm, '    ')}\n`);
      }
    }
  }
  return result.errors.length > 0 ? 1 : 0;
}

function readEvents(file: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SluiceError('SLUICE_E_INVALID_JSON', `${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const events = Array.isArray(parsed) ? parsed : [parsed];
  if (events.some((event) => typeof event !== 'object' || event === null || Array.isArray(event))) {
    throw new SluiceError(
      'SLUICE_E_INVALID_EVENT',
      `${file}: expected an event object or an array of them`,
    );
  }
  return events;
}
