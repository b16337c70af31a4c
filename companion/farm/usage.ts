/** The farm's lines of `reshoot --help`, apart so that the CLI does not load BullMQ to print them. */
export const FARM_USAGE = `  reshoot worker --queue redis://[user:password@]HOST:PORT [--config FILE] [--provider P]
                                 render jobs from a farm's Redis queue on this machine's GPU
  reshoot workers --queue redis://… [--config FILE] [--json]
                                 list the farm's live workers: models, GPU memory, current job`;
