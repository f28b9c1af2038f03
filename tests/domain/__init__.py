"""The domain: services, tenancy, counters, races, history, imports and the FilterSets,
through their Python functions (no HTTP)."""
