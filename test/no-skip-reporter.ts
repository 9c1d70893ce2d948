import type { Reporter, TestModule } from 'vitest/node';

/**
 * CI must never pass with tests quietly left out: any skipped or todo test fails the run.
 * Also prints one plain "Tests: N passed, N failed" closing line.
 */
export default class NoSkipReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed') failed++;
        else skipped.push(`${module.moduleId} > ${test.fullName}`);
      }
    }
    if (skipped.length > 0) {
      process.stdout.write(`\n${skipped.length} test(s) were skipped, which CI does not allow:\n`);
      for (const name of skipped) process.stdout.write(`  - ${name}\n`);
      process.exitCode = 1;
    }
    process.stdout.write(`\nTests: ${passed} passed, ${failed + skipped.length} failed\n`);
  }
}
