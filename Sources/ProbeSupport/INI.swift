/// Where a config item came from: file and line (line 0: the whole file, or a command line).
public struct FileLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) { self.file = file; self.line = line }
    public var description: String { "\(file):\(line)" }
}

/// An error in a configuration file, always with a location.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var location: FileLocation?
    public var message: String
    public init(_ message: String, at location: FileLocation?) {
        self.message = message
        self.location = location
    }
    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }
}

/// One `key = value` line, with its location.
public struct INIEntry: Sendable, Equatable {
    public var key: String
    public var value: String
    public var location: FileLocation
}

/// One `[kind]` or `[kind:instance]` section: its entries in file order, with locations.
public struct INISection: Sendable, Equatable {
    /// The full header text, e.g. `hook:syncd`.
    public var name: String
    public var location: FileLocation
    public var entries: [INIEntry]

    /// The part before `:` (`hook` for `hook:syncd`).
    /// (`:` is looked for as a byte: a Character search walks graphemes, about 2,500 instructions
    /// a call, and the config's loading asks every section's kind several times.)
    public var kind: String {
        if let c = name.utf8.firstIndex(of: UInt8(ascii: ":")) { return String(decoding: name.utf8[..<c], as: UTF8.self) }
        return name
    }
    /// The part after `:` (`syncd` for `hook:syncd`), or nil.
    public var instance: String? {
        if let c = name.utf8.firstIndex(of: UInt8(ascii: ":")) {
            return String(decoding: name.utf8[name.utf8.index(after: c)...], as: UTF8.self)
        }
        return nil
    }
    public subscript(key: String) -> String? { entries.last(where: { $0.key == key })?.value }
    public func entry(_ key: String) -> INIEntry? { entries.last(where: { $0.key == key }) }
}

/// Every section read from a file and its includes, in order.
public struct INIDocument: Sendable, Equatable {
    public var sections: [INISection] = []
    /// Every file read, in order (the main file first).
    public var files: [String] = []
    public init() {}
    public func section(_ name: String) -> INISection? { sections.first(where: { $0.name == name }) }
    public func sections(kind: String) -> [INISection] { sections.filter { $0.kind == kind } }
}

/// A supervisord-style INI reader: `[section]`, `key = value` or `key: value`,
/// `;`/`#` comments (whole-line, or inline after whitespace), indented continuation lines,
/// and `[include] files = glob ...` relative to the including file. Every item keeps its
/// file and line so that errors can name them.
public enum INI {
    /// Parses text. `strictDuplicates` makes a repeated section or key an error.
    public static func parse(_ text: String, file: String, strictDuplicates: Bool = true) throws(ConfigError) -> [INISection] {
        var sections: [INISection] = []
        var current: Int? = nil
        var lastKeyLine: (section: Int, entry: Int)? = nil
        var lineNo = 0
        for rawLine in lines(text) {
            lineNo += 1
            var line = rawLine
            if line.hasSuffix("\r") { line.removeLast() }
            let loc = FileLocation(file: file, line: lineNo)
            let trimmed = line.trimmingASCIIWhitespace()
            if trimmed.isEmpty || trimmed.hasPrefix(";") || trimmed.hasPrefix("#") {
                if trimmed.isEmpty { lastKeyLine = nil }
                continue
            }
            if line.unicodeScalars.first.map({ $0 == " " || $0 == "\t" }) == true, let (s, e) = lastKeyLine {
                // Continuation of the previous value.
                let more = stripInlineComment(trimmed)
                let old = sections[s].entries[e].value
                sections[s].entries[e].value = old.isEmpty ? more : old + "\n" + more
                continue
            }
            if trimmed.hasPrefix("[") {
                guard let close = trimmed.firstIndex(of: "]") else {
                    throw ConfigError("section header is missing its closing ]", at: loc)
                }
                let after = trimmed[trimmed.index(after: close)...].trimmingASCIIWhitespace()
                if !after.isEmpty && !after.hasPrefix(";") && !after.hasPrefix("#") {
                    throw ConfigError("unexpected text after section header: \(after)", at: loc)
                }
                let name = trimmed[trimmed.index(after: trimmed.startIndex)..<close].trimmingASCIIWhitespace()
                if name.isEmpty { throw ConfigError("empty section name", at: loc) }
                if strictDuplicates, let prev = sections.first(where: { $0.name == name }) {
                    throw ConfigError("section [\(name)] is already defined at \(prev.location)", at: loc)
                }
                sections.append(INISection(name: name, location: loc, entries: []))
                current = sections.count - 1
                lastKeyLine = nil
                continue
            }
            guard let sec = current else {
                throw ConfigError("\"\(trimmed)\" is outside any [section]", at: loc)
            }
            let sepIndex = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" })
            guard let sep = sepIndex else {
                throw ConfigError("expected \"key = value\", got \"\(trimmed)\"", at: loc)
            }
            let key = trimmed[..<sep].trimmingASCIIWhitespace().lowercased()
            if key.isEmpty { throw ConfigError("a key is missing before \"=\"", at: loc) }
            let value = stripInlineComment(trimmed[trimmed.index(after: sep)...].trimmingASCIIWhitespace())
            if strictDuplicates, let prev = sections[sec].entries.first(where: { $0.key == key }) {
                throw ConfigError("key \"\(key)\" is already set in [\(sections[sec].name)] at \(prev.location)", at: loc)
            }
            sections[sec].entries.append(INIEntry(key: key, value: value, location: loc))
            lastKeyLine = (sec, sections[sec].entries.count - 1)
        }
        return sections
    }

    /// The lines of `text`, split at every LF byte (a CRLF line keeps its CR for the caller to
    /// drop). Not `split(separator: "\n")`: that walks Characters (grapheme breaking: about 400
    /// instructions a byte, a sixth of a probe's config reading), and "\r\n" is one Character, so a
    /// CRLF file was one line.
    static func lines(_ text: String) -> [Substring] {
        var out: [Substring] = []
        let u = text.utf8
        var start = u.startIndex
        var i = u.startIndex
        while i < u.endIndex {
            if u[i] == 0x0A {
                out.append(Substring(text.unicodeScalars[start..<i]))
                start = u.index(after: i)
            }
            i = u.index(after: i)
        }
        out.append(Substring(text.unicodeScalars[start..<u.endIndex]))
        return out
    }

    /// Removes a `;` or `#` comment that follows whitespace, as supervisord does.
    static func stripInlineComment(_ s: String) -> String {
        let scalars = Array(s.unicodeScalars)
        if let first = scalars.first, first == ";" || first == "#" { return "" }
        for idx in scalars.indices.dropFirst() where (scalars[idx] == ";" || scalars[idx] == "#") && scalars[idx - 1].isASCIIWhitespace {
            var out = String.UnicodeScalarView()
            out.append(contentsOf: scalars[..<idx])
            return String(out).trimmingASCIIWhitespace()
        }
        return s
    }

    /// Reads `path` and, recursively, the files its `[include] files =` names (space-separated
    /// globs, relative to the including file's folder). A file that includes itself, directly
    /// or not, is an error; so is an unreadable file. `[include]` sections are consumed.
    public static func load(path: String, strictDuplicates: Bool = true, maxFiles: Int = 256) throws(ConfigError) -> INIDocument {
        var doc = INIDocument()
        var stack: [String] = []
        try load(path: path, from: nil, into: &doc, stack: &stack, strict: strictDuplicates, maxFiles: maxFiles)
        return doc
    }

    /// "config file PATH ...", with the fix, for a refused config or include.
    static func configFileProblem(_ error: FileAccessError, reading path: String) -> String {
        if let e = error.problem.systemError { return "cannot read \(error.path): \(e.message)" }
        if error.path == path || Platform.realPath(path) == error.path { return "config file \(error.description)" }
        return "config file \(path): \(error.description)"
    }

    private static func load(
        path: String, from: FileLocation?, into doc: inout INIDocument, stack: inout [String], strict: Bool, maxFiles: Int
    ) throws(ConfigError) {
        // The file and every folder above it must be root's or ours and not writable by others
        // (TrustedPath), and the file a regular one (SafeFile): nobody else may add checks.
        var walker = TrustedPath()
        let real: String
        let text: String
        do {
            real = try walker.resolve(path)
            if stack.contains(real) {
                throw ConfigError("include loop: \(path) includes itself (via \(stack.joined(separator: " -> ")))", at: from)
            }
            if doc.files.count >= maxFiles { throw ConfigError("more than \(maxFiles) included files", at: from) }
            // `--config /dev/null` is the usual way to say "no config file": read as empty.
            let bytes = real == "/dev/null" ? [] : try SafeFile.read(real, limit: 1 << 20, policy: .trusted)
            // A NUL byte: a binary file given as config (`--config /bin/true`). Say so, rather
            // than quote its first "line" (as grep and diff call such a file binary).
            if let nul = bytes.firstIndex(of: 0) {
                var line = 1
                for b in bytes[..<nul] where b == 0x0a { line += 1 }
                throw ConfigError("config file \(path) is a binary file, not INI text (a NUL byte on line \(line))", at: from)
            }
            text = String(decoding: bytes, as: UTF8.self)
        } catch let error as FileAccessError {
            throw ConfigError(configFileProblem(error, reading: path), at: from)
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("cannot read \(path): \(error)", at: from)
        }
        doc.files.append(path)
        stack.append(real)
        defer { stack.removeLast() }
        let sections = try parse(text, file: path, strictDuplicates: strict)
        let dir = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        for section in sections {
            if section.name == "include" {
                for entry in section.entries {
                    guard entry.key == "files" else {
                        throw ConfigError("unknown key \"\(entry.key)\" in [include] (known: files)", at: entry.location)
                    }
                    for pattern in entry.value.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }) {
                        let full = pattern.hasPrefix("/") ? String(pattern) : dir + "/" + pattern
                        let matches = Platform.glob(full)
                        if matches.isEmpty && !full.contains("*") && !full.contains("?") && !full.contains("[") {
                            throw ConfigError("included file \(full) does not exist", at: entry.location)
                        }
                        for m in matches {
                            try load(path: m, from: entry.location, into: &doc, stack: &stack, strict: strict, maxFiles: maxFiles)
                        }
                    }
                }
                continue
            }
            if strict, let prev = doc.sections.first(where: { $0.name == section.name }) {
                throw ConfigError("section [\(section.name)] is already defined at \(prev.location)", at: section.location)
            }
            doc.sections.append(section)
        }
    }
}
