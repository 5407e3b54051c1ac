// How the engine's processes (the program, and each dynamic provider) load this project's
// TypeScript: transpiled once per content and cached on disk, so a warm `pulumi up` loads
// no compiler at all. ts-node loaded TypeScript (~0.2 s) and transpiled every file
// (~0.5 s) in the program and again in every provider process, on every run: about a
// second of CPU taken from the two cores the lab's hosts share, and most of the time
// before the first host is touched. Type checking is `npm run build`'s job (npm test).
// Plain JavaScript, because it is what makes TypeScript loadable.
"use strict";
const crypto = require("crypto");
const fs = require("fs");
const path = require("path");

const ROOT = path.join(__dirname, "..");
const CACHE = path.join(ROOT, "node_modules", ".cache", "rachel-fleet-ts");

let compilerOptions; // parsed from tsconfig.json on the first cache miss
let salt; // what else decides the output: the compiler's version and tsconfig.json

function cacheSalt() {
    if (salt === undefined) {
        const tsVersion = JSON.parse(fs.readFileSync(require.resolve("typescript/package.json"), "utf8")).version;
        salt = `${tsVersion}\n${fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8")}\n`;
    }
    return salt;
}

function transpile(source, filename) {
    const ts = require("typescript");
    if (compilerOptions === undefined) {
        const json = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
        // No source maps: stack traces the SDK formats went through them for seconds (see index.ts).
        compilerOptions = { ...ts.convertCompilerOptionsFromJson(json.compilerOptions, ROOT).options, sourceMap: false, inlineSourceMap: false };
    }
    const out = ts.transpileModule(source, { compilerOptions, fileName: filename, reportDiagnostics: true });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (errors.length > 0) {
        throw new Error(`${filename}: ${ts.flattenDiagnosticMessageText(errors[0].messageText, "\n")}`);
    }
    return out.outputText;
}

/** The JavaScript for one .ts file: from the cache when this content was transpiled before. */
function javascriptFor(filename) {
    const source = fs.readFileSync(filename, "utf8");
    const key = crypto.createHash("sha256").update(cacheSalt()).update(source).digest("hex");
    const cached = path.join(CACHE, `${key}.js`);
    try {
        return fs.readFileSync(cached, "utf8");
    } catch {
        // not transpiled yet
    }
    const js = transpile(source, filename);
    // Written whole under a temporary name, then renamed: processes started at once never
    // read half a file.
    try {
        fs.mkdirSync(CACHE, { recursive: true });
        const tmp = `${cached}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, js);
        fs.renameSync(tmp, cached);
    } catch {
        // a read-only install: transpiled again next time, nothing else changes
    }
    return js;
}

/** Lets `require` load this project's .ts files (idempotent). */
function register() {
    if (require.extensions[".ts"]) {
        return; // ts-node (tests, the lab CLI) or an earlier register
    }
    require.extensions[".ts"] = (module, filename) => module._compile(javascriptFor(filename), filename);
}

module.exports = { register, javascriptFor };
