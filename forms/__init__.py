"""Built-in form definitions (data): forms/<name>/v<version>.toml. See forms/README.md for the format."""
