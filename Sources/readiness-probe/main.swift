import ReadinessProbe
ReadinessProbeMain.run()
