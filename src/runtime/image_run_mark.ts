/**
 * The variable every run of the server's own images (the probe, the launcher, the fs worker)
 * carries. A program that embeds the server with fixed arguments and is started as one of them
 * would serve instead, and start its own probe, without end; the CLI refuses to serve where it is
 * set. The launcher passes only the target's own variables on, so no sandboxed program sees it.
 */
export const IMAGE_RUN_VARIABLE = "EXEC_SERVER_IMAGE_RUN";
