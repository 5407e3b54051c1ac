// The lab's base image takes its Debian archive from apt's own sources, whatever their format.
import * as assert from "assert";
import { mirrorIn } from "../../lab/baseImage";

describe("lab base image: the Debian archive apt uses", () => {
    it("reads deb822 sources and skips the security archive", () => {
        const security = "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n";
        const main = "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n";
        assert.strictEqual(mirrorIn([security, main]), "http://mirror.example/debian");
    });

    it("reads one-line sources, options included", () => {
        assert.strictEqual(mirrorIn(["# a comment\ndeb [signed-by=/k.gpg] https://mirror.example/debian/ bookworm main\n"]), "https://mirror.example/debian");
    });

    it("finds nothing where apt has no Debian archive", () => {
        assert.strictEqual(mirrorIn(["", "deb http://mirror.example/ubuntu jammy main\n"]), undefined);
    });
});
