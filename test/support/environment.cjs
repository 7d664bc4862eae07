// Jest environment that remembers whether any test or hook in the file failed, so the file's
// database is kept for inspection instead of dropped (test/support/test-database.ts).
const { TestEnvironment } = require('jest-environment-node');

class SluiceTestEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    if (event.name === 'test_fn_failure' || event.name === 'hook_failure') {
      this.global.__sluiceTestFailed = true;
    }
  }
}

module.exports = SluiceTestEnvironment;
