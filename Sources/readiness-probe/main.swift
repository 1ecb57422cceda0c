// readiness-probe: a thin shell over the ReadinessProbe library.
import ReadinessProbe

CLI.main()
