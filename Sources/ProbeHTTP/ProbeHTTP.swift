// ProbeHTTP: see docs/architecture.md
