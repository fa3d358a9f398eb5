"""The `paysync` command."""
