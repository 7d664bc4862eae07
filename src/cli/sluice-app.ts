/**
 * The composition root: connects to (or starts) PostgreSQL, migrates, loads the workspace and
 * starts the stages of the roles this process runs behind one HTTP server. Nothing else in the
 * tree wires stages together.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Router as ExpressRouter } from 'express';
import type { Settings } from '../config/settings';
import { WorkspaceStore } from '../config/workspace-store';
import { createDatabase, type Database } from '../db/database';
import { startEmbeddedPostgres, type EmbeddedServer } from '../db/embedded-postgres';
import { migrate } from '../db/migrate';
import { compileTrust } from '../gateway/client-ip';
import { Collector } from '../gateway/collector';
import { createIngestEndpoints, type EndpointHandler } from '../gateway/ingest-endpoints';
import { createSdkRoutes } from '../gateway/sdk-routes';
import { createHttpHandler } from '../http/app';
import { createAdminRoutes } from '../admin/admin-routes';
import { Activity } from '../admin/activity';
import { createConsoleDataRoutes } from '../admin/console-data';
import { createConsoleRoutes } from '../admin/console-routes';
import { LiveFeed } from '../admin/live-feed';
import { destinationOf, validateDestinationConfig } from '../../destinations';
import { Processor } from '../processor/processor';
import { ROUTER_SESSION_SETTINGS } from '../router/claim-deliveries';
import { Router } from '../router/router';
import { Warehouses } from '../warehouse/warehouses';
import { TransformationSandbox } from '../sandbox/transformation-sandbox';
import type { Logger } from '../log';
import { createMetrics, type Metrics } from '../metrics';
import { QueueMaintenance } from '../queue/queue-maintenance';
import { IngestQueue } from '../queue/ingest-queue';

export interface RunningSluice {
  readonly url: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly database: Database;
  readonly workspace: WorkspaceStore;
  readonly metrics: Metrics;
  /** Graceful shutdown: stop accepting, answer what is in flight, finish stage work, close. */
  stop(): Promise<void>;
}

/** Connections of the router (per process): rounds hold none while their requests are out. */
const ROUTER_POOL_SIZE = 10;

interface Stoppable {
  name: string;
  stop(): Promise<void> | void;
}

export async function startSluice(settings: Settings, logger: Logger): Promise<RunningSluice> {
  const stack: Stoppable[] = [];
  const stopAll = async () => {
    for (const item of stack.reverse()) {
      try {
        const started = performance.now();
        await item.stop();
        logger.debug(
          { component: item.name, ms: Math.round(performance.now() - started) },
          'stopped',
        );
      } catch (error) {
        logger.warn({ err: error, component: item.name }, 'error while stopping');
      }
    }
  };
  try {
    return await start(settings, logger, stack, stopAll);
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function start(
  settings: Settings,
  logger: Logger,
  stack: Stoppable[],
  stopAll: () => Promise<void>,
): Promise<RunningSluice> {
  let databaseUrl = settings.databaseUrl;
  if (!databaseUrl) {
    const embedded: EmbeddedServer = await startEmbeddedPostgres(settings.dataDir, logger);
    stack.push({ name: 'embedded postgres', stop: () => embedded.stop() });
    databaseUrl = embedded.url;
  }
  const database = createDatabase(databaseUrl, { poolSize: settings.dbPoolSize, logger });
  stack.push({ name: 'database', stop: () => database.close() });
  const applied = await migrate(database.pool);
  if (applied.length) logger.info({ migrations: applied }, 'database migrated');

  const workspace = new WorkspaceStore(
    settings.workspaceFile,
    { validateDestination: validateDestinationConfig },
    logger,
  );
  workspace.watch();
  stack.push({ name: 'workspace', stop: () => workspace.close() });
  const metrics = createMetrics();
  const roles = new Set(settings.roles);
  const routers: ExpressRouter[] = [];
  const trust = compileTrust(settings.trustProxy);
  let endpoints = new Map<string, EndpointHandler>();
  let shuttingDown = false;
  // The console's live views, with the admin API only: without watchers it costs nothing.
  const live = settings.adminToken ? new LiveFeed() : undefined;

  const maintenance = new QueueMaintenance(database.pool, logger, {
    dedupWindowHours: settings.dedupWindowHours,
  });
  maintenance.start();
  stack.push({ name: 'queue maintenance', stop: () => maintenance.stop() });
  if (roles.has('gateway')) {
    const ingest = new IngestQueue(database.pool, {
      maxDelayMs: settings.groupCommitDelayMs,
      maxRows: settings.groupCommitMaxRows,
      maxConcurrent: settings.groupCommitMaxConcurrent,
      onWrite: (rows, stored, ms) => {
        metrics.ingestWriteRows.observe(rows);
        metrics.ingestWriteSeconds.observe(ms / 1000);
        if (rows > stored) metrics.ingestDuplicates.inc(rows - stored);
      },
    });
    // Stopped after the HTTP server: requests still in flight may add rows until then.
    stack.push({ name: 'ingest queue', stop: () => ingest.drain() });
    const collector = new Collector({
      settings,
      workspace: () => workspace.current,
      ingest,
      metrics,
      logger,
      live,
    });
    endpoints = createIngestEndpoints(collector, settings, trust);
    routers.push(
      createSdkRoutes({ collector, settings, workspace: () => workspace.current, trust, logger }),
    );
  }

  const needsSandbox = roles.has('processor') || settings.adminToken !== undefined;
  const sandbox = needsSandbox
    ? new TransformationSandbox({
        limits: workspace.current.sandbox,
        logger,
        maxEventDepth: settings.maxJsonDepth,
      })
    : undefined;
  if (sandbox) {
    workspace.onChange((current) => sandbox.setLimits(current.sandbox));
    stack.push({ name: 'sandbox', stop: () => sandbox.dispose() });
  }
  if (roles.has('warehouse')) {
    const warehouses = new Warehouses({
      pool: database.pool,
      logger,
      metrics,
      destinations: destinationOf,
      workspace: () => workspace.current,
    });
    await warehouses.apply(workspace.current);
    workspace.onChange((current) => {
      warehouses
        .apply(current)
        .catch((error) =>
          logger.error({ err: error }, 'applying the workspace to the warehouses failed'),
        );
    });
    warehouses.start();
    // Pushed before the processor, so stopped after it (stages stop in reverse): the last load
    // takes what the processor staged in its last chunk.
    stack.push({ name: 'warehouses', stop: () => warehouses.stop() });
  }
  if (roles.has('processor')) {
    const processor = new Processor(
      {
        pool: database.pool,
        workspace: () => workspace.current,
        destinations: destinationOf,
        sandbox: sandbox!,
        logger,
        metrics,
      },
      { dedup: settings.dedupWindowHours > 0 },
    );
    processor.start();
    stack.push({ name: 'processor', stop: () => processor.stop() });
  }
  if (roles.has('router')) {
    // Its own pool: its connections plan the claim walk as an index scan (see
    // claim-deliveries.ts), and one of them holds the process's user locks.
    const routerDatabase = createDatabase(databaseUrl, {
      poolSize: ROUTER_POOL_SIZE,
      logger,
      applicationName: 'sluice-router',
      sessionSettings: ROUTER_SESSION_SETTINGS,
    });
    stack.push({ name: 'router database', stop: () => routerDatabase.close() });
    const router = new Router({
      pool: routerDatabase.pool,
      logger,
      metrics,
      destinations: destinationOf,
      live,
    });
    await router.apply(workspace.current);
    workspace.onChange((current) => {
      router
        .apply(current)
        .catch((error) =>
          logger.error({ err: error }, 'applying the workspace to the router failed'),
        );
    });
    router.start();
    stack.push({ name: 'router', stop: () => router.stop() });
  }
  if (settings.adminToken) {
    const activity = new Activity(metrics);
    activity.start();
    stack.push({ name: 'activity', stop: () => activity.stop() });
    routers.push(
      createConsoleRoutes({ token: settings.adminToken }),
      createAdminRoutes({
        token: settings.adminToken,
        live: live!,
        consoleData: createConsoleDataRoutes({
          workspace: () => workspace.current,
          workspaceError: () => workspace.refusedEdit,
          destinations: destinationOf,
          activity,
          publicUrl: settings.publicUrl,
        }),
        pool: database.pool,
        workspace: () => workspace.current,
        destinations: destinationOf,
        sandbox: sandbox!,
        logger,
      }),
    );
  }

  const handler = createHttpHandler({
    trust,
    logger,
    metrics,
    endpoints,
    routers,
    isShuttingDown: () => shuttingDown,
    isReady: async () => {
      await database.pool.query('SELECT 1');
      return true;
    },
  });
  const server = http.createServer(handler);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  stack.push({
    name: 'http server',
    stop: () => closeServer(server, settings.shutdownTimeoutMs, logger),
  });
  // Stopped first (stages stop in reverse): an open live view would hold the server's close.
  if (live) stack.push({ name: 'live views', stop: () => live.close() });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${settings.host === '0.0.0.0' || settings.host === '::' ? 'localhost' : settings.host}:${port}`;
  logger.info({ url, roles: [...roles] }, 'sluice started');
  return {
    url,
    port,
    databaseUrl,
    database,
    workspace,
    metrics,
    async stop() {
      if (shuttingDown) return;
      shuttingDown = true;
      logger.info('shutting down');
      await stopAll();
      logger.info('stopped');
    },
  };
}

/** Stops accepting connections and waits for in-flight requests, then closes the rest. */
function closeServer(server: http.Server, timeoutMs: number, logger: Logger): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      logger.warn('requests still open at the shutdown deadline; closing their connections');
      server.closeAllConnections();
    }, timeoutMs);
    // Node closes the connections idle when close() is called; one whose request was in flight
    // stays open, kept alive, once answered. Closed as it goes idle, it does not hold the stop
    // back until the deadline.
    const sweep = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
    server.close(() => {
      clearTimeout(timer);
      clearInterval(sweep);
      resolve();
    });
    server.closeIdleConnections();
  });
}

const IDLE_SWEEP_MS = 100;
