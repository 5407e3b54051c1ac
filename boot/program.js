// The program's entry point as the engine's Node.js language host runs it (package.json
// "main"; Pulumi.yaml says typescript: false, so the host loads no ts-node).
"use strict";
// The SDK's entry point installs source-map-support before loading us, and the SDK takes
// a stack trace (new Error().stack) for every promise it tracks: several per resource.
// Mapping each frame through source maps took a third of the program's CPU in a preview
// (500 hosts: 3.4 s of its 11 s), and nothing here has a map worth it (boot/transpile.js emits
// none). V8's own formatting keeps the traces, unmapped.
Error.prepareStackTrace = undefined;
require("./sdkDebug").quietSdkDebug(process.env);
require("./transpile").register();
module.exports = require("../index.ts");
