// SupervisorKit: see docs/architecture.md
