/** Locations inside the installed package, the same from src/ (tests) and dist/src/ (built). */
import { existsSync } from 'node:fs';
import path from 'node:path';

function findPackageRoot(start: string): string {
  let dir = start;
  while (!existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${start}`);
    dir = parent;
  }
  return dir;
}

/** The folder holding package.json, migrations/ and destinations/ (found by walking up, so it works from src/ and dist/src/ alike). */
export const PACKAGE_ROOT = findPackageRoot(__dirname);
export const MIGRATIONS_DIR = path.join(PACKAGE_ROOT, 'migrations');
/** The built console (`npm run build` bundles console/ into it). */
export const CONSOLE_DIR = path.join(PACKAGE_ROOT, 'dist', 'console');
