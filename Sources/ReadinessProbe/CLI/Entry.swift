public enum ReadinessProbeMain { public static func run() {} }
