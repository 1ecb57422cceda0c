// ProbeSpawn: see docs/architecture.md
// Process spawning for hooks: ProcessSpec/ProcessOutcome (values), ProcessRunner (one poll loop
// on one thread), Spawner (posix_spawn), SpawnLoop (watching, killing, reaping), Reaper (orphans).
