// Loaded by the one-line provider that every rachel-fleet dynamic resource carries
// (providers/runtime.ts): the provider's logic runs from the installed project at run
// time, so nothing but that line is frozen into stack state, and upgrading rachel-fleet
// upgrades what runs against every host, held or not. Plain JavaScript: the engine starts
// the dynamic provider with plain node, so the project's TypeScript loader
// (boot/transpile.js) is registered here first.
"use strict";
const path = require("path");

const MODULES = {
    VpsVersion: "versionProvider",
    RemoteStep: "remoteStepProvider",
    SshKeyPair: "keyPairProvider",
};

// Kinds no longer registered, which stacks made by an earlier rachel-fleet still hold: the
// engine deletes them at the next up, through an empty provider (a delete that does nothing).
// StackIdentity: the stack's id is now its `stackId` output (stages/ledger.ts).
const RETIRED = new Set(["StackIdentity"]);

module.exports = function load(kind) {
    const file = MODULES[kind];
    if (RETIRED.has(kind)) {
        return {};
    }
    if (!file) {
        throw new Error(`rachel-fleet has no provider for ${kind}; the stack state was written by another version of rachel-fleet`);
    }
    require("../boot/transpile").register();
    return require(path.join(__dirname, file)).provider;
};
