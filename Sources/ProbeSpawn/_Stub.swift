import ProbeSupport
public final class ProcessRunner: Sendable {
    public static let shared = ProcessRunner()
    public func run(_ spec: ProcessSpec, deadline: Deadline) async -> ProcessOutcome { fatalError() }
    public func runAll(_ specs: [ProcessSpec], deadline: Deadline) -> [ProcessOutcome] { fatalError() }
}
extension ProcessOutcome { public var firstOutputLine: String { "" } }
