// The lab boots and checks its hosts through the same pool the program updates them with.
export { mapLimit } from "../fleet/pool";
