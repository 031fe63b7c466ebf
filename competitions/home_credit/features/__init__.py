"""Per-client features of Home Credit: one module per table, assembled and cached by ``build``."""
