// `serve --grpc ADDR`: the gRPC health server next to (or instead of) the HTTP one. Kept apart from
// ServeCommand so that the command only gains a flag and two calls.
import ProbeHTTP
import ProbeHTTP2
import ProbeSupport

enum GRPCServe {
    /// Binds the gRPC port (a bad address is a usage error, exit 8; a port that cannot be bound exits 14, system-error).
    static func start(_ address: String, endpoints: HealthEndpoints, quiet: Bool, spec: CommandSpec) throws(ExitError) -> GRPCServer {
        var limits = GRPCServerLimits()
        limits.stopGrace = .milliseconds(800)
        do throws(HTTPServerError) {
            return try GRPCServer(listen: address, limits: limits, logger: quiet ? nil : GRPCServer.stderrLogger,
                                  service: GRPCHealthService(endpoints: endpoints))
        } catch {
            if case .badListenAddress = error { throw spec.usageError("--grpc: \(error)") }
            throw ExitError(Codes.systemError, "readiness-probe serve: --grpc: \(error)")
        }
    }

    /// Runs the servers until both stopped: HTTP on this thread and gRPC on its own, or gRPC alone here.
    static func run(http: HTTPServer?, grpc: GRPCServer?) {
        guard let http else {
            grpc?.run()
            return
        }
        if let grpc { PlainThread.detach { grpc.run() } }
        http.run()
        grpc?.stop()
    }
}
