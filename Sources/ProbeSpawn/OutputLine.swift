// One line of a child's output for a check's detail.
import ProbeSupport

extension ProcessOutcome {
    /// The first non-empty line of stdout, else of stderr (trimmed, at most 200 characters), or "".
    public var firstOutputLine: String {
        let line = Self.firstLine(stdout)
        return line.isEmpty ? Self.firstLine(stderr) : line
    }

    /// The first line of `bytes` that is not empty once trimmed, cut to `limit` characters.
    /// Invalid UTF-8 is repaired (U+FFFD); other control characters become spaces.
    public static func firstLine(_ bytes: [UInt8], limit: Int = 200) -> String {
        for raw in bytes.split(separator: UInt8(ascii: "\n")) {
            let cleaned = String(decoding: raw, as: UTF8.self).unicodeScalars.map { s -> Character in
                s.value < 0x20 || s.value == 0x7F ? " " : Character(s)
            }
            let text = String(cleaned).trimmingASCIIWhitespace()
            if !text.isEmpty { return text.count > limit ? String(text.prefix(max(0, limit))) : text }
        }
        return ""
    }
}
