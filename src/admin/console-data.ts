/**
 * What the console shows besides the queues and the live views, as admin API routes a script may
 * call too (the console is a view on the admin API):
 *   GET /admin/sources          each source with its write key and the settings SDKs need
 *   GET /admin/destinations     each destination with its config, credentials masked
 *   GET /admin/transformations  each transformation's code and the libraries (read-only: the
 *                               workspace file is the source of truth)
 *   GET /admin/workspace        the workspace as loaded, secrets masked, and why the last edit
 *                               was refused, if it was
 *   GET /admin/activity         events in and out per minute over the last hour, per source and
 *                               destination (this process's, see activity.ts)
 */
import path from 'node:path';
import express, { type Request, type Router } from 'express';
import type { AnyDestination } from '../../destinations/destination';
import type { Workspace } from '../config/workspace';
import type { DestinationRegistry } from '../processor/routing';
import { CredentialMask } from '../router/mask-credentials';
import { transformationCode } from '../sandbox/load-transformation';
import type { Activity } from './activity';

export interface ConsoleDataDeps {
  workspace: () => Workspace;
  /** Why the last edit of the workspace file was refused, while the previous one stays. */
  workspaceError: () => { at: string; message: string } | undefined;
  destinations: DestinationRegistry;
  activity: Activity;
  /** SLUICE_PUBLIC_URL, else the URL the request came to. */
  publicUrl?: string;
}

const MASK = '••••••';

export function createConsoleDataRoutes(deps: ConsoleDataDeps): Router {
  const router = express.Router();

  router.get('/admin/sources', (request, response) => {
    const workspace = deps.workspace();
    response.json({
      publicUrl: deps.publicUrl ?? `${request.protocol}://${request.get('host')}`,
      sources: workspace.sources.map((source) => ({
        id: source.id,
        name: source.name ?? source.id,
        enabled: source.enabled,
        writeKey: source.writeKey,
        anonymizeIp: source.anonymizeIp,
        dropDoNotTrack: source.dropDoNotTrack,
        rateLimit: source.rateLimit ?? null,
        destinations: workspace.connections
          .filter((connection) => connection.source === source.id)
          .map((connection) => connection.destination),
      })),
    });
  });

  router.get('/admin/destinations', (_request, response) => {
    response.json({ destinations: maskedDestinations(deps) });
  });

  router.get('/admin/transformations', (_request, response) => {
    const workspace = deps.workspace();
    response.json({
      transformations: workspace.transformations.map((transformation) => {
        const code = transformationCode(workspace, transformation);
        return { id: transformation.id, file: transformation.file, code: code.source };
      }),
      libraries: workspace.libraries.map((library) => ({ name: library.name, file: library.file })),
      sandbox: workspace.sandbox,
    });
  });

  router.get('/admin/workspace', (_request, response) => {
    const workspace = deps.workspace();
    response.json({
      file: path.basename(workspace.file),
      lastRefusedEdit: deps.workspaceError() ?? null,
      sources: workspace.sources.map((source) => ({ ...source, writeKey: MASK })),
      destinations: maskedDestinations(deps),
      transformations: workspace.transformations,
      libraries: workspace.libraries,
      connections: workspace.connections,
      sandbox: workspace.sandbox,
    });
  });

  router.get('/admin/activity', (request: Request, response) => {
    response.json(deps.activity.lastHour());
  });
  return router;
}

/** The destinations with every credential their config holds replaced by a mask. */
function maskedDestinations(deps: ConsoleDataDeps) {
  return deps.workspace().destinations.map((destination) => {
    const module: AnyDestination | undefined = deps.destinations(destination.type);
    const mask = new CredentialMask(module?.credentialsOf?.(destination.config as never) ?? []);
    return {
      id: destination.id,
      name: destination.name ?? destination.id,
      type: destination.type,
      kind: module?.kind ?? 'unknown',
      enabled: destination.enabled,
      config: JSON.parse(mask.mask(JSON.stringify(destination.config))) as unknown,
      delivery: destination.delivery,
    };
  });
}
