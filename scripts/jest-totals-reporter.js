/**
 * Prints the run's totals as one plain line, `N passed, N failed` (with `, N skipped` when any),
 * after jest's own summary, so CI logs end with a single machine-readable verdict.
 */
class TotalsReporter {
  onRunComplete(_contexts, results) {
    const passed = results.numPassedTests;
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '');
    process.stdout.write(`\n${line}\n`);
  }
}
module.exports = TotalsReporter;
