/** Maps a user key to one of the ingest queue's fixed partitions (see migrations/000001). */

export const PARTITION_COUNT = 64;

/** FNV-1a over the UTF-16 code units: stable across processes and versions, cheap in JS. */
export function partitionOf(userKey: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < userKey.length; i++) {
    hash ^= userKey.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % PARTITION_COUNT;
}
