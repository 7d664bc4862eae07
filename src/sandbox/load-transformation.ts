/**
 * Reads transformation code from disk into the TransformationCode the sandbox runs: the
 * transformation's module and every library of the workspace, with paths relative to the
 * workspace file's folder. Reading is cheap (a few small files), so callers may reload often and
 * pick up edits without a restart: the sandbox rebuilds an isolate only when the content changed.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TransformationConfig, Workspace } from '../config/workspace';
import { SluiceError } from '../errors';
import type { TransformationCode } from './transformation-sandbox';

type WorkspaceFiles = Pick<Workspace, 'dir' | 'file' | 'transformations' | 'libraries'>;

/** The code of transformation `transformationId` with every library of the workspace. */
export function loadTransformationCode(
  workspace: WorkspaceFiles,
  transformationId: string,
): TransformationCode {
  const transformation = workspace.transformations.find((t) => t.id === transformationId);
  if (!transformation) {
    // A caller's mistake (the admin test endpoint), not a broken workspace.
    throw new SluiceError('SLUICE_E_NOT_FOUND', `no transformation with id "${transformationId}"`);
  }
  return transformationCode(workspace, transformation);
}

/**
 * The code of a transformation of the workspace, with `libraries` when the caller already read
 * them for another transformation of the same run, else with the workspace's libraries read now.
 */
export function transformationCode(
  workspace: Omit<WorkspaceFiles, 'transformations'>,
  transformation: TransformationConfig,
  libraries?: TransformationCode['libraries'],
): TransformationCode {
  return {
    id: transformation.id,
    name: transformation.file,
    source: readSource(workspace, transformation.file, `transformation "${transformation.id}"`),
    libraries: libraries ?? readLibraries(workspace),
  };
}

/**
 * The code of a transformation file given by path (`sluice transform test <file>`), with the
 * workspace's libraries when there is a workspace. Its id and name are the workspace's for that
 * file if the workspace lists it, else taken from the file name.
 */
export function codeFromFile(file: string, workspace?: WorkspaceFiles): TransformationCode {
  const fullPath = path.resolve(file);
  const listed = workspace?.transformations.find(
    (t) => path.resolve(workspace.dir, t.file) === fullPath,
  );
  return {
    id: listed?.id ?? path.basename(fullPath, path.extname(fullPath)),
    name: listed?.file ?? path.basename(fullPath),
    source: readSource({ dir: path.dirname(fullPath), file: fullPath }, fullPath, 'the file'),
    libraries: workspace ? readLibraries(workspace) : [],
  };
}

/** Code given as text (the admin test endpoint), with the workspace's libraries. */
export function inlineCode(
  source: string,
  workspace: Omit<WorkspaceFiles, 'transformations'>,
): TransformationCode {
  return { id: 'inline', name: 'inline.js', source, libraries: readLibraries(workspace) };
}

function readLibraries(workspace: Omit<WorkspaceFiles, 'transformations'>) {
  return workspace.libraries.map((library) => ({
    name: library.name,
    source: readSource(workspace, library.file, `library "${library.name}"`),
  }));
}

function readSource(workspace: Pick<Workspace, 'dir' | 'file'>, file: string, what: string) {
  const fullPath = path.resolve(workspace.dir, file);
  try {
    return readFileSync(fullPath, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new SluiceError(
      'SLUICE_E_WORKSPACE_INVALID',
      `${workspace.file}: ${what} cannot be read: ${fullPath} (${reason})`,
      { cause: error },
    );
  }
}
