// ProbeSpawn: see docs/architecture.md
