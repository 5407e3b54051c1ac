// Mocha's spec output plus the plain closing line CI reads ("N passed, N failed"),
// and the counts appended to $TEST_COUNTS_FILE so scripts/test-all.sh can total suites.
const Mocha = require("mocha");
const fs = require("fs");

class CountingReporter extends Mocha.reporters.Spec {
    constructor(runner, options) {
        super(runner, options);
        runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
            const { passes, failures, pending } = runner.stats;
            process.stdout.write(`\n${passes} passed, ${failures} failed${pending ? `, ${pending} skipped` : ""}\n`);
            if (process.env.TEST_COUNTS_FILE) {
                fs.appendFileSync(process.env.TEST_COUNTS_FILE, `${passes} ${failures} ${pending}\n`);
            }
        });
    }
}

module.exports = CountingReporter;
