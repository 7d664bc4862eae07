/**
 * Transformation code as the processor runs it: loaded from the workspace's files and reloaded
 * when the workspace changes or a transformation or library file is modified, so edited code
 * takes effect without a restart. Files are checked at most once a second.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { Workspace } from '../config/workspace';
import { loadTransformationCode } from '../sandbox/load-transformation';
import type { TransformationCode } from '../sandbox/transformation-sandbox';

interface Entry {
  workspace: Workspace;
  code: TransformationCode;
  /** Modification times of the transformation file and every library file. */
  stamp: string;
  checkedAt: number;
}

export class TransformationCodeCache {
  #entries = new Map<string, Entry>();

  constructor(private readonly checkIntervalMs = 1000) {}

  get(workspace: Workspace, transformationId: string): TransformationCode {
    const entry = this.#entries.get(transformationId);
    const now = Date.now();
    if (entry && entry.workspace === workspace && now - entry.checkedAt < this.checkIntervalMs) {
      return entry.code;
    }
    const stamp = fileStamp(workspace, transformationId);
    if (entry && entry.workspace === workspace && entry.stamp === stamp) {
      entry.checkedAt = now;
      return entry.code;
    }
    const code = loadTransformationCode(workspace, transformationId);
    this.#entries.set(transformationId, { workspace, code, stamp, checkedAt: now });
    return code;
  }
}

function fileStamp(workspace: Workspace, transformationId: string): string {
  const transformation = workspace.transformations.find((t) => t.id === transformationId);
  const files = [transformation?.file, ...workspace.libraries.map((library) => library.file)];
  return files
    .map((file) => {
      if (!file) return '-';
      try {
        return String(statSync(path.resolve(workspace.dir, file)).mtimeMs);
      } catch {
        return 'missing';
      }
    })
    .join(',');
}
