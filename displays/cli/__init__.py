"""The `stopcast` command line: its subcommands, `serve` and `demo`."""
