// Splits a command line into argv the way a POSIX shell splits words, without running a
// shell: single quotes, double quotes (with \" \\ \$ \` escapes), backslash escapes.
// No expansion of variables, globs or substitutions happens.
import ProbeSupport

enum ShellWords {
    struct SplitError: Error, CustomStringConvertible, Sendable {
        var description: String
    }

    static func split(_ text: String) throws(SplitError) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var it = Array(text.unicodeScalars)[...]
        while let c = it.popFirst() {
            switch c {
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let d = it.popFirst() {
                    if d == "'" { closed = true; break }
                    current.unicodeScalars.append(d)
                }
                if !closed { throw SplitError(description: "unterminated single quote in command: \(text)") }
            case "\"":
                inWord = true
                var closed = false
                while let d = it.popFirst() {
                    if d == "\"" { closed = true; break }
                    if d == "\\", let n = it.first, n == "\"" || n == "\\" || n == "$" || n == "`" || n == "\n" {
                        it.removeFirst()
                        if n != "\n" { current.unicodeScalars.append(n) }
                        continue
                    }
                    current.unicodeScalars.append(d)
                }
                if !closed { throw SplitError(description: "unterminated double quote in command: \(text)") }
            case "\\":
                guard let n = it.popFirst() else { throw SplitError(description: "command ends with a lone backslash: \(text)") }
                if n != "\n" { current.unicodeScalars.append(n); inWord = true }
            default:
                current.unicodeScalars.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
