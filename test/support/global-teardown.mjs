export default async function globalTeardown() {
  await globalThis.__sluiceEmbeddedPostgres?.stop();
}
