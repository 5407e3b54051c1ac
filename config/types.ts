import type { EnvVars } from "./env";
import type { ShardOfStack } from "./shards";

/** One VPS of the static inventory (`rachel-fleet:hosts`). */
export interface HostSpec {
    /** Stable name: resource names derive from it, never from list position. */
    name: string;
    host: string;
    port: number;
    user: string;
    /** The pinned host public key, authorized_keys format ("ssh-ed25519 AAAA..."). */
    hostKey: string;
    /** Per-host private key (a config secret); the fleet key is used when absent. */
    privateKey?: string;
    /** The subscriber's own environment for this VPS (over the fleet-wide `env`). */
    env?: EnvVars;
}

/** How the app is laid out and run on every VPS. */
export interface AppSettings {
    repoUrl: string;
    appDir: string;
    service: string;
    installCommand: string;
    /** Health URL, `{host}` replaced by the VPS's address; empty disables the health check. */
    healthUrl: string;
    settleSeconds: number;
    /** Verify passes only once the service has run this long in one invocation (no restart by systemd). */
    minUptimeSeconds: number;
    connectTimeout: number;
    fetchTimeout: number;
    installTimeout: number;
    restartTimeout: number;
    /** Release directories kept on each VPS (the current and the previous one always are). */
    keepReleases: number;
}

export interface HetznerServerSpec {
    name: string;
    serverType: string;
    location: string;
    image: string;
    /** The subscriber's own environment for this VPS (over the fleet-wide `env`). */
    env?: EnvVars;
}

export interface HetznerSettings {
    servers: HetznerServerSpec[];
    /** The app's TCP port opened in the firewall. */
    appPort: number;
    /** Source CIDRs allowed to reach SSH. */
    sshSourceIps: string[];
}

/**
 * command: each step is a @pulumi/command remote.Command (the default).
 * ssh2:    each step is a RemoteStep run by the fleet's own dynamic provider, for
 *          engines without the command provider plugin. Same command strings.
 */
export type StepRunner = "command" | "ssh2";

export interface FleetConfig {
    targetCommit: string;
    stepRunner: StepRunner;
    rolloutPercent: number;
    failureThreshold: number;
    maxParallel: number;
    /** At most this many VPSs prepare (fetch, build, install) at once in `up`: ahead of their switch. */
    prepareParallel: number;
    /** Seconds a stage's hosts must have run the release before a larger percentage may start. */
    bakeSeconds: number;
    overrideHalt: boolean;
    sshUser: string;
    app: AppSettings;
    hosts: HostSpec[];
    /** The fleet's SSH private key (a config secret), used for hosts without their own. */
    sshPrivateKey?: string;
    /** Environment every VPS gets; a VPS's own `env` overrides it name by name. */
    env: EnvVars;
    hetzner?: HetznerSettings;
    /** The shard this stack runs when the fleet is split over several stacks (its hosts and servers are that shard's only). */
    shard?: ShardOfStack;
    /** The stack this sharded fleet was split from: a shard with no record yet starts from that stack's. */
    splitFrom?: string;
    /** The fleet's verdict when its driver halted a release (npm run fleet): no shard advances it. */
    fleetHalt?: FleetHalt;
}

/** A release the fleet's driver halted across every shard (set by npm run fleet as `fleetHalt`). */
export interface FleetHalt {
    release: string;
    percent: number;
    /** The fleet's verdict, in a sentence. */
    reason: string;
}

/** Every key the program reads, with the default the schema in Pulumi.yaml documents. */
/**
 * The stack config's namespace: this project's name (Pulumi.yaml). The program reads it
 * from the engine (pulumi.getProject()); the operator's tools, outside the program, use this.
 */
export const CONFIG_NS = "rachel-fleet";

export const DEFAULTS = {
    failureThreshold: 0.3,
    maxParallel: 5,
    // 0: four times maxParallel. Preparing touches nothing the service uses, so it can run
    // well ahead of the switches, which stay limited to maxParallel.
    prepareParallel: 0,
    // Five minutes: long enough for a crash loop to exhaust systemd's restarts, for a leak or
    // a minutely timer to show, and for a late health failure to surface; short enough that
    // 10% → 50% → 100% costs ten minutes of waiting. Pulumi.yaml documents the same default.
    bakeSeconds: 300,
    overrideHalt: false,
    sshUser: "rachel",
    repoUrl: "",
    appDir: "/home/rachel/rachel",
    service: "rachel8",
    installCommand: "bun install",
    healthUrl: "",
    settleSeconds: 5,
    // Longer than the settle window: a release that crashes a few seconds after each start
    // (a failed warm-up, a lost connection) must fail verify, not pass it between crashes.
    minUptimeSeconds: 10,
    connectTimeout: 30,
    fetchTimeout: 60,
    installTimeout: 120,
    restartTimeout: 30,
    // The current release, the previous one (a rollback needs no install) and one more.
    keepReleases: 3,
    stepRunner: "command",
    inventoryFile: "",
    // One stack. More: the stacks <stack>-s00 … (config/shards.ts).
    shards: 1,
    // The one stack a sharded fleet was split from (npm run fleet -- split), if it was.
    splitFrom: "",
};

export const KNOWN_KEYS = [
    "targetCommit",
    "rolloutPercent",
    "overrideHalt",
    "hosts",
    "sshPrivateKey",
    "hetzner",
    "env",
    "notifyUrl",
    "fleetHalt",
    ...Object.keys(DEFAULTS).filter((k) => k !== "overrideHalt"),
];

/** Raw config as the engine hands it over: key (without namespace) → string. */
export type RawConfig = Record<string, string>;

export interface ParseContext {
    /** Config namespace, the project name. */
    ns: string;
    /** Reads the inventoryFile (the caller resolves the path and owns the I/O); throws ConfigError if it cannot. */
    readInventory?: (file: string) => string;
    /** Keys (without namespace) whose value is a config secret. */
    secretKeys: ReadonlySet<string>;
    /** The stack's name: which shard it runs when the fleet has several (config/shards.ts). */
    stackName?: string;
}
