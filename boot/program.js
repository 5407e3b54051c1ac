// The program's entry point as the engine's Node.js language host runs it (package.json
// "main"; Pulumi.yaml says typescript: false, so the host loads no ts-node).
"use strict";
require("./transpile").register();
module.exports = require("../index.ts");
