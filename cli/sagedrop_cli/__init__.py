"""The `sagedrop` command line: prepare data, submit it, follow training, call the API (local-only code)."""
