// A small deterministic random generator for tests that mutate inputs: a failing case is reproducible
// from its seed. (SplitMix64: Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014.)

/// SplitMix64: the same seed gives the same numbers, so a failing mutated input can be replayed.
public struct SplitMix: Sendable {
    /// The generator's state (the seed, advanced by each `next()`).
    public var state: UInt64
    /// A generator starting at `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64-bit number.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in 0..<n (0 when n <= 1).
    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
}
