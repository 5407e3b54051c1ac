// The SDK sends the engine a debug line at each step of every resource's registration
// (three or more RPCs per resource, in order), which the engine drops unless run with
// --debug: a 500-host preview spent ~30% of its program's and its engine's CPU on them
// (program 9.6-10.1 s -> 6.5-7.7 s, engine 4.5-5.0 s -> 2.9-3.5 s, wall 11.1-11.9 s ->
// 7.9-9.2 s). RACHEL_FLEET_SDK_DEBUG=1 keeps them (with pulumi --debug, to read them).
"use strict";

exports.SDK_DEBUG_ENV = "RACHEL_FLEET_SDK_DEBUG";

/** Drops the SDK's debug lines unless the environment asks for them; says whether it did. */
exports.quietSdkDebug = function quietSdkDebug(env) {
    if (env[exports.SDK_DEBUG_ENV]) {
        return false;
    }
    // The SDK's modules call log.debug through this one exports object.
    require("@pulumi/pulumi/log").debug = () => Promise.resolve();
    return true;
};
