// The product's version: the one place it is written. `--version`, `readiness-probe version`,
// the Debian package (the Makefile reads this line), `/metrics` build_info, the man page and
// the Kuberhealthy report's User-Agent all use it; CHANGELOG.md's newest release must match it
// (a test checks).

/// The readiness-probe release this binary is.
public enum ProbeVersion {
    /// `MAJOR.MINOR.PATCH`, as in CHANGELOG.md.
    public static let string = "0.1.0"
}
