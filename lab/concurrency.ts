// The lab boots and probes its hosts through the same pool the program updates them with.
export { mapLimit } from "../fleet/pool";
