// Loaded by the one-line provider that every rachel-fleet dynamic resource carries
// (providers/runtime.ts): the provider's logic runs from the installed project at run
// time, so nothing but that line is frozen into stack state, and upgrading rachel-fleet
// upgrades what runs against every host, held or not. Plain JavaScript: the engine starts
// the dynamic provider with plain node, so TypeScript is registered here first.
"use strict";
const path = require("path");

const MODULES = {
    VpsVersion: "versionProvider",
    RemoteStep: "remoteStepProvider",
    SshKeyPair: "keyPairProvider",
    StackIdentity: "stackIdentityProvider",
};

let tsRegistered = false;

module.exports = function load(kind) {
    const file = MODULES[kind];
    if (!file) {
        throw new Error(`rachel-fleet has no provider for ${kind}; the stack state was written by another version of rachel-fleet`);
    }
    if (!tsRegistered) {
        require("ts-node").register({ transpileOnly: true, project: path.join(__dirname, "..", "tsconfig.json") });
        tsRegistered = true;
    }
    return require(path.join(__dirname, file)).provider;
};
