@_exported import ProbeSupport
