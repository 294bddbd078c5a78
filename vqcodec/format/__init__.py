"""The .vqz container: the header schema, packing and reading, tiles, format 1."""
