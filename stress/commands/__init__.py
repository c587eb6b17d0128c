"""`python -m stress <command>`: one module per command, with its options."""
