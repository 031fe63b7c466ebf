"""The kit's front door: ``kit <command> [<competition>] [options]`` reaches every command line of the kit
(:mod:`kit.cli`). It sits above every other package; nothing imports it."""
