// Helpers shared by the test targets (not shipped): temporary folders, the package root,
// a real supervisord harness. See Tests/README.md.
