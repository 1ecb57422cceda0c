// `validate`'s review beyond syntax (ConfigReview) asks each check through `Check.review`, never
// by its type: a plugin's review shows as the hooks' does, prefixed with origin, kind and name.
import Testing
import ProbeSupport
@testable import ReadinessProbe
import ProbeTestSupport

/// `[note:NAME]` with `error` and `warning` keys: a check whose review says what it is told to.
private struct NoteCheck: Check {
    var errors: [String]
    var warnings: [String]

    static let kind = CheckKind(
        section: "note", resultKind: "note", order: 50, instance: .required, keys: ["error", "warning"], codes: [0],
        about: "says what its review is told to",
        make: { (input) throws(ConfigError) -> [CheckEntry] in
            input.sections.map { s in
                CheckEntry(name: s.instance!, kind: "note", origin: s.location.description,
                           check: NoteCheck(errors: s["error"].map { [$0] } ?? [], warnings: s["warning"].map { [$0] } ?? []))
            }
        })

    func check(_ context: CheckContext) async -> CheckOutcome { .pass("") }
    func review(_ settings: ProbeSettings) -> CheckReview { CheckReview(errors: errors, warnings: warnings) }
}

@Suite struct ConfigReviewTests {
    @Test func eachCheckReviewsItselfThroughTheProtocol() throws {
        let dir = TempDir("review")
        let path = try dir.write("rp.conf", """
            [probe]
            hooks_dir =
            sonic_hook =
            [start]
            program =
            [note:a]
            error = is broken
            [note:b]
            warning = looks odd
            [note:c]
            [hook:gone]
            command = \(dir.path)/missing-hook
            [hook:maybe]
            command = \(dir.path)/missing-too
            optional = true
            """)
        var registry = CheckRegistry.standard
        registry.register(NoteCheck.kind)
        let config = try ProbeConfiguration.load(explicitPath: path, environment: [:], registry: registry)
        let review = ConfigReview(config)
        // In table order (hooks 40, notes 50), each at its section's line.
        #expect(review.errors == ["\(path):11: hook gone cannot run: \(dir.path)/missing-hook does not exist",
                                  "\(path):6: note a is broken"], "\(review.errors)")
        #expect(review.warnings == ["\(path):13: hook maybe (optional) is not installed: \(dir.path)/missing-too does not exist",
                                    "\(path):8: note b looks odd"], "\(review.warnings)")
    }

    /// `checks` shows a hook's 16 as the range it stands for, and a plugin's own code as itself.
    @Test func checksShowsAPluginsCodesAsThemselves() {
        #expect(ChecksCommand.codeRanges([0, 1, 16]) == [0...0, 1...1, 16...254])
        #expect(ChecksCommand.codeRanges([0, 30, 200]) == [0...0, 30...30, 200...200])
    }

    /// A check that says nothing (the protocol's default) adds nothing.
    @Test func theDefaultReviewIsEmpty() {
        let check = ClosureCheck { _ in .pass("") }
        #expect(check.review(ProbeSettings()) == CheckReview())
    }
}
