"""Kit recipes (TOML) and the French texts printed in the kit."""
