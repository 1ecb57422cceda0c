// ProbeState: see docs/architecture.md
