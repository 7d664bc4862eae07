/**
 * `sluice replay --dead-letters | --failed-events [--destination ID] [--ids 1,2,3]`: sends dead
 * letters again, or runs failed events through their connection again (after the transformation
 * was fixed). Prints what it did as JSON.
 */
import { destinationOf, validateDestinationConfig } from '../../destinations';
import { commandDatabaseUrl, type Settings } from '../config/settings';
import { loadWorkspace } from '../config/workspace';
import { createDatabase } from '../db/database';
import type { Logger } from '../log';
import { replayFailedEvents } from '../processor/replay-failed-events';
import { replayDeadLetters } from '../router/dead-letters';
import { TransformationSandbox } from '../sandbox/transformation-sandbox';

export interface ReplayArgs {
  what: 'dead-letters' | 'failed-events';
  destinationId?: string;
  ids?: number[];
}

export async function runReplay(
  args: ReplayArgs,
  settings: Settings,
  logger: Logger,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const database = createDatabase(commandDatabaseUrl(settings, 'replay'), {
    poolSize: 2,
    logger,
  });
  try {
    const filter = { destinationId: args.destinationId, ids: args.ids };
    if (args.what === 'dead-letters') {
      out(`${JSON.stringify({ replayed: await replayDeadLetters(database.pool, filter) })}\n`);
      return 0;
    }
    const workspace = loadWorkspace(settings.workspaceFile, {
      validateDestination: validateDestinationConfig,
    });
    const sandbox = new TransformationSandbox({
      limits: workspace.sandbox,
      logger,
      maxEventDepth: settings.maxJsonDepth,
    });
    try {
      const result = await replayFailedEvents(
        {
          pool: database.pool,
          workspace,
          destinations: destinationOf,
          sandbox,
        },
        filter,
      );
      out(`${JSON.stringify(result)}\n`);
      return result.failedAgain > 0 ? 1 : 0;
    } finally {
      sandbox.dispose();
    }
  } finally {
    await database.close();
  }
}
