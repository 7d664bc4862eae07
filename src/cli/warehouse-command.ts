/**
 * `sluice warehouse sync [--destination ID]`: loads now what is staged for the workspace's
 * warehouses (or one of them), instead of waiting for the next sync, and prints what each load
 * did as JSON. A warehouse another process is loading at that moment is reported as busy.
 */
import { destinationOf, validateDestinationConfig } from '../../destinations';
import { commandDatabaseUrl, type Settings } from '../config/settings';
import { loadWorkspace } from '../config/workspace';
import { createDatabase } from '../db/database';
import { SluiceError } from '../errors';
import type { Logger } from '../log';
import { createMetrics } from '../metrics';
import { Warehouses } from '../warehouse/warehouses';

export async function runWarehouseSync(
  args: { destinationId?: string },
  settings: Settings,
  logger: Logger,
  out: (text: string) => void = (text) => process.stdout.write(text),
): Promise<number> {
  const workspace = loadWorkspace(settings.workspaceFile, {
    validateDestination: validateDestinationConfig,
  });
  const known = workspace.destinations.find(
    (destination) =>
      destination.id === args.destinationId &&
      destinationOf(destination.type)?.kind === 'warehouse',
  );
  if (args.destinationId !== undefined && !known) {
    throw new SluiceError(
      'SLUICE_E_SETTINGS_INVALID',
      `--destination: no warehouse destination "${args.destinationId}" in the workspace`,
    );
  }
  const database = createDatabase(commandDatabaseUrl(settings, 'warehouse sync'), {
    poolSize: 3,
    logger,
  });
  const warehouses = new Warehouses({
    pool: database.pool,
    logger,
    metrics: createMetrics(),
    destinations: destinationOf,
    workspace: () => workspace,
  });
  try {
    await warehouses.apply(workspace);
    const reports = await warehouses.sync(args.destinationId);
    out(`${JSON.stringify({ loads: reports })}\n`);
    return 0;
  } finally {
    await warehouses.close();
    await database.close();
  }
}
