/**
 * teeny-request, which @google-cloud/bigquery sends every request with, loaded by Node itself
 * instead of Jest. It loads node-fetch with `import()`, which Jest's sandbox refuses without
 * --experimental-vm-modules ("A dynamic import callback was invoked without ..."); loaded by
 * Node's own require it runs as in production. Test files that use the BigQuery client say
 *   jest.mock('teeny-request', () => jest.requireActual('../support/native-teeny-request'));
 */
import vm from 'node:vm';

// The worker's real `process`, outside the sandbox: its main module's require is Node's.
const outside = vm.runInThisContext('process') as NodeJS.Process;
const nativeRequire = outside.mainModule!.require('node:module').createRequire(__filename);

module.exports = nativeRequire('teeny-request');
