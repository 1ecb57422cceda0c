import ProbeSupport

/// An XML-RPC value. There is no `nil`: supervisord never sends it (allow_none is off).
public enum XMLRPCValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int)
    case bool(Bool)
    case string(String)
    case double(Double)
    case array([XMLRPCValue])
    /// Member order is not kept (a repeated name keeps the last value, as Python does).
    case `struct`([String: XMLRPCValue])

    public var intValue: Int? { if case .int(let v) = self { v } else { nil } }
    public var boolValue: Bool? { if case .bool(let v) = self { v } else { nil } }
    public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
    public var doubleValue: Double? { if case .double(let v) = self { v } else { nil } }
    public var arrayValue: [XMLRPCValue]? { if case .array(let v) = self { v } else { nil } }
    public var structValue: [String: XMLRPCValue]? { if case .struct(let v) = self { v } else { nil } }

    /// A member of a struct value (nil for other kinds or a missing name).
    public subscript(member: String) -> XMLRPCValue? { structValue?[member] }

    /// The XML-RPC type name (`int`, `string`, `struct`...), for error messages.
    public var typeName: String {
        switch self {
        case .int: "int"
        case .bool: "boolean"
        case .string: "string"
        case .double: "double"
        case .array: "array"
        case .struct: "struct"
        }
    }

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .bool(let v): v ? "true" : "false"
        case .string(let v): "\"\(v)\""
        case .double(let v): "\(v)"
        case .array(let a): "[" + a.map(\.description).joined(separator: ", ") + "]"
        case .struct(let s):
            "{" + s.keys.sorted().map { "\($0): \(s[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }
}

/// A parsed `<methodResponse>`: a value, or a fault.
public enum XMLRPCResponse: Sendable, Equatable {
    case value(XMLRPCValue)
    case fault(code: Int, string: String)
}

/// A malformed XML-RPC document: what was wrong and where (byte offset into the body).
public struct XMLRPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    public init(_ reason: String, offset: Int) {
        self.reason = reason
        self.offset = offset
    }
    public var description: String { "malformed XML-RPC at byte \(offset): \(reason)" }
}

/// XML-RPC, the subset supervisord speaks: an encoder for method calls and a bounded,
/// non-crashing parser for method responses (values, structs, arrays, faults).
public enum XMLRPC {
    /// Limits for `parseResponse`. Anything beyond them is an error, never a crash or a stall.
    public struct Limits: Sendable {
        public var maxBytes: Int
        public var maxDepth: Int
        public var maxValues: Int
        public init(maxBytes: Int = 8 << 20, maxDepth: Int = 32, maxValues: Int = 1_000_000) {
            self.maxBytes = maxBytes
            self.maxDepth = maxDepth
            self.maxValues = maxValues
        }
        public static let `default` = Limits()
    }

    // MARK: encoding

    /// The body of a `methodCall` (what Python's `xmlrpc.client.dumps` writes, modulo whitespace).
    public static func encodeCall(method: String, params: [XMLRPCValue] = []) -> [UInt8] {
        var out = "<?xml version='1.0'?>\n<methodCall>\n<methodName>\(escape(method))</methodName>\n<params>\n"
        for p in params {
            out += "<param>\n"
            encode(p, into: &out)
            out += "\n</param>\n"
        }
        out += "</params>\n</methodCall>\n"
        return Array(out.utf8)
    }

    /// Escapes `& < > " '` for XML text.
    public static func escape(_ text: String) -> String {
        // Names and method names rarely need escaping: return them as they are.
        if !text.utf8.contains(where: { $0 == 0x26 || $0 == 0x3C || $0 == 0x3E || $0 == 0x22 || $0 == 0x27 }) { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func encode(_ v: XMLRPCValue, into out: inout String) {
        out += "<value>"
        switch v {
        case .int(let i): out += "<int>\(i)</int>"
        case .bool(let b): out += "<boolean>\(b ? 1 : 0)</boolean>"
        case .string(let s): out += "<string>\(escape(s))</string>"
        case .double(let d): out += "<double>\(d)</double>"
        case .array(let a):
            out += "<array><data>\n"
            for e in a {
                encode(e, into: &out)
                out += "\n"
            }
            out += "</data></array>"
        case .struct(let s):
            out += "<struct>\n"
            for k in s.keys.sorted() {
                out += "<member>\n<name>\(escape(k))</name>\n"
                encode(s[k]!, into: &out)
                out += "\n</member>\n"
            }
            out += "</struct>"
        }
        out += "</value>"
    }

    // MARK: parsing

    /// Parses a `methodResponse` body.
    public static func parseResponse(_ body: some Collection<UInt8>, limits: Limits = .default) throws(XMLRPCError) -> XMLRPCResponse {
        guard body.count <= limits.maxBytes else {
            throw XMLRPCError("document is \(body.count) bytes, over the limit of \(limits.maxBytes)", offset: limits.maxBytes)
        }
        var p = XMLParser(Array(body), limits: limits)
        return try p.methodResponse()
    }

    /// Parses a single `<value>...</value>` element (surrounding whitespace allowed); for tests and fuzzing.
    public static func parseValue(_ body: some Collection<UInt8>, limits: Limits = .default) throws(XMLRPCError) -> XMLRPCValue {
        guard body.count <= limits.maxBytes else {
            throw XMLRPCError("document is \(body.count) bytes, over the limit of \(limits.maxBytes)", offset: limits.maxBytes)
        }
        var p = XMLParser(Array(body), limits: limits)
        p.skipWhitespace()
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if !p.atEnd { throw p.error("unexpected data after the value") }
        return v
    }
}

/// A recursive-descent reader for the XML that XML-RPC uses: elements without attributes,
/// text with the five entities and character references, CDATA, comments and a prolog.
struct XMLParser {
    let b: [UInt8]
    var i = 0
    let limits: XMLRPC.Limits
    var values = 0

    init(_ bytes: [UInt8], limits: XMLRPC.Limits) {
        b = bytes
        self.limits = limits
    }

    var atEnd: Bool { i >= b.count }

    func error(_ reason: String, at offset: Int? = nil) -> XMLRPCError {
        XMLRPCError(reason, offset: offset ?? i)
    }

    mutating func skipWhitespace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
    }

    func startsWith(_ s: StaticString, at pos: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        guard pos + n <= b.count else { return false }
        return s.withUTF8Buffer { buf in
            for k in 0..<n where b[pos + k] != buf[k] { return false }
            return true
        }
    }

    /// Skips whitespace, comments and (if allowed) processing instructions such as `<?xml ...?>`.
    mutating func skipMisc(allowPI: Bool) throws(XMLRPCError) {
        while true {
            skipWhitespace()
            if startsWith("<!--", at: i) {
                try skipPast("-->", what: "comment")
            } else if allowPI && startsWith("<?", at: i) {
                try skipPast("?>", what: "processing instruction")
            } else if startsWith("<!DOCTYPE", at: i) || startsWith("<!ENTITY", at: i) {
                throw error("document type declarations are not allowed")
            } else {
                return
            }
        }
    }

    mutating func skipPast(_ terminator: StaticString, what: String) throws(XMLRPCError) {
        let start = i
        while i < b.count {
            if startsWith(terminator, at: i) {
                i += terminator.utf8CodeUnitCount
                return
            }
            i += 1
        }
        throw error("unterminated \(what)", at: start)
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39)
            || c == 0x2E || c == 0x2D || c == 0x5F || c == 0x3A
    }

    /// The name of the start tag at the current position, without consuming it (nil if not a start tag).
    func peekStartTag() -> String? {
        guard i + 1 < b.count, b[i] == 0x3C, XMLParser.isNameByte(b[i + 1]) else { return nil }
        var j = i + 1
        while j < b.count, XMLParser.isNameByte(b[j]) { j += 1 }
        return String(decoding: b[(i + 1)..<j], as: UTF8.self)
    }

    /// Whether the bytes from `pos` are exactly the tag name `name` (not a longer name).
    /// Compared in place: building a String per tag was most of the parser's cost.
    /// (Through `withUTF8`: iterating `name.utf8` cost about 250 instructions a tag.)
    func nameMatches(_ name: String, at pos: Int) -> Bool {
        var name = name
        return name.withUTF8 { n in
            guard pos >= 0, pos + n.count <= b.count else { return false }
            for k in 0..<n.count where b[pos + k] != n[k] { return false }
            let j = pos + n.count
            return j >= b.count || !XMLParser.isNameByte(b[j])
        }
    }

    /// Whether a start tag `<name` (any form) is at the current position.
    func atStartTag(_ name: String) -> Bool {
        i + 1 < b.count && b[i] == 0x3C && nameMatches(name, at: i + 1)
    }

    /// Consumes `<name>` or `<name/>`; returns true for the empty (self-closing) form.
    mutating func open(_ name: String) throws(XMLRPCError) -> Bool {
        let start = i
        if !atStartTag(name) {
            guard let found = peekStartTag() else { throw error("expected <\(name)>, found \(describeHere())") }
            throw error("expected <\(name)>, found <\(found)>")
        }
        i += 1 + name.utf8.count
        skipWhitespace()
        if i < b.count, b[i] == 0x3E { i += 1; return false }
        if i + 1 < b.count, b[i] == 0x2F, b[i + 1] == 0x3E { i += 2; return true }
        throw error("malformed start tag <\(name)> (attributes are not supported)", at: start)
    }

    /// Consumes `</name>`.
    mutating func close(_ name: String) throws(XMLRPCError) {
        guard i + 1 < b.count, b[i] == 0x3C, b[i + 1] == 0x2F else {
            throw error("expected </\(name)>, found \(describeHere())")
        }
        var j = i + 2
        while j < b.count, XMLParser.isNameByte(b[j]) { j += 1 }
        guard nameMatches(name, at: i + 2) else {
            throw error("expected </\(name)>, found </\(String(decoding: b[(i + 2)..<j], as: UTF8.self))>")
        }
        while j < b.count, b[j] == 0x20 || b[j] == 0x09 || b[j] == 0x0A || b[j] == 0x0D { j += 1 }
        guard j < b.count, b[j] == 0x3E else { throw error("malformed end tag </\(name)>") }
        i = j + 1
    }

    func describeHere() -> String {
        if atEnd { return "end of document" }
        if b[i] == 0x3C {
            var j = i + 1
            while j < b.count, j < i + 40, b[j] != 0x3E { j += 1 }
            return "\"" + String(decoding: b[i..<min(b.count, j + 1)], as: UTF8.self) + "\""
        }
        return "text"
    }

    /// Reads character data up to the next markup (`<` that is not CDATA), decoding references.
    mutating func text() throws(XMLRPCError) -> String {
        let start = i
        // Most text has no references, CDATA or comments: validate the span up to the next tag once.
        var j = i
        var ascii = true
        while j < b.count, b[j] != 0x3C, b[j] != 0x26 {
            if b[j] >= 0x80 { ascii = false }
            j += 1
        }
        if j == b.count || (b[j] == 0x3C && !startsWith("<![CDATA[", at: j) && !startsWith("<!--", at: j)) {
            // ASCII is valid UTF-8 as it is: decoding it repairs nothing and skips the generic
            // validation (about 1,000 instructions a string; a reply has a hundred of them).
            if ascii {
                let s = String(decoding: b[i..<j], as: UTF8.self)
                i = j
                return s
            }
            guard let s = String(validating: b[i..<j], as: UTF8.self) else {
                throw error("text is not valid UTF-8", at: start)
            }
            i = j
            return s
        }
        var out = Array(b[i..<j])
        i = j
        while i < b.count {
            let c = b[i]
            if c == 0x3C {
                if startsWith("<![CDATA[", at: i) {
                    let cdStart = i
                    i += 9
                    while true {
                        guard i < b.count else { throw error("unterminated CDATA section", at: cdStart) }
                        if startsWith("]]>", at: i) { i += 3; break }
                        out.append(b[i])
                        i += 1
                    }
                    continue
                }
                if startsWith("<!--", at: i) {
                    try skipPast("-->", what: "comment")
                    continue
                }
                break
            }
            if c == 0x26 {
                try reference(into: &out)
                continue
            }
            out.append(c)
            i += 1
        }
        guard let s = String(validating: out, as: UTF8.self) else {
            throw error("text is not valid UTF-8", at: start)
        }
        return s
    }

    /// Decodes `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&#N;` `&#xH;` at the current `&`.
    mutating func reference(into out: inout [UInt8]) throws(XMLRPCError) {
        let start = i
        var j = i + 1
        while j < b.count, j - i <= 12, b[j] != 0x3B { j += 1 }
        guard j < b.count, b[j] == 0x3B else { throw error("unterminated or unknown entity reference", at: start) }
        let name = String(decoding: b[(i + 1)..<j], as: UTF8.self)
        var scalar: Unicode.Scalar?
        switch name {
        case "amp": scalar = "&"
        case "lt": scalar = "<"
        case "gt": scalar = ">"
        case "quot": scalar = "\""
        case "apos": scalar = "'"
        default:
            if name.hasPrefix("#x") || name.hasPrefix("#X") {
                let hex = name.dropFirst(2)
                if !hex.isEmpty, hex.count <= 8, let v = UInt32(hex, radix: 16) { scalar = Unicode.Scalar(v) }
            } else if name.hasPrefix("#") {
                let dec = name.dropFirst()
                if !dec.isEmpty, dec.count <= 10, dec.allSatisfy({ $0.isASCII && $0.isNumber }), let v = UInt32(dec) {
                    scalar = Unicode.Scalar(v)
                }
            } else {
                throw error("unknown entity &\(name);", at: start)
            }
            if let s = scalar, s.value == 0 { scalar = nil }
            if scalar == nil { throw error("invalid character reference &\(name);", at: start) }
        }
        out.append(contentsOf: Array(String(scalar!).utf8))
        i = j + 1
    }

    // MARK: XML-RPC structure

    mutating func methodResponse() throws(XMLRPCError) -> XMLRPCResponse {
        try skipMisc(allowPI: true)
        if atEnd { throw error("empty document") }
        if try open("methodResponse") { throw error("<methodResponse/> is empty") }
        try skipMisc(allowPI: false)
        let result: XMLRPCResponse
        switch peekStartTag() {
        case "params":
            if try open("params") { throw error("<params/> holds no value") }
            try skipMisc(allowPI: false)
            if try open("param") { throw error("<param/> holds no value") }
            try skipMisc(allowPI: false)
            let v = try value(depth: 0)
            try skipMisc(allowPI: false)
            try close("param")
            try skipMisc(allowPI: false)
            if atStartTag("param") { throw error("a response has more than one <param>") }
            try close("params")
            result = .value(v)
        case "fault":
            let faultStart = i
            if try open("fault") { throw error("<fault/> is empty") }
            try skipMisc(allowPI: false)
            let v = try value(depth: 0)
            try skipMisc(allowPI: false)
            try close("fault")
            guard let code = v["faultCode"]?.intValue, let string = v["faultString"]?.stringValue else {
                throw error("a fault must be a struct with an int faultCode and a string faultString", at: faultStart)
            }
            result = .fault(code: code, string: string)
        default:
            throw error("expected <params> or <fault>, found \(describeHere())")
        }
        try skipMisc(allowPI: false)
        try close("methodResponse")
        try skipMisc(allowPI: false)
        if !atEnd { throw error("unexpected data after </methodResponse>") }
        return result
    }

    mutating func value(depth: Int) throws(XMLRPCError) -> XMLRPCValue {
        guard depth < limits.maxDepth else { throw error("values are nested more than \(limits.maxDepth) deep") }
        values += 1
        guard values <= limits.maxValues else { throw error("more than \(limits.maxValues) values") }
        if try open("value") { return .string("") }
        let textStart = i
        let leading = try text()
        guard let type = peekStartTag() else {
            // `<value>text</value>`: untyped means string.
            try close("value")
            return .string(leading)
        }
        if leading.unicodeScalars.contains(where: { !$0.isASCIIWhitespace }) {
            throw error("text mixed with a <\(type)> element in a <value>", at: textStart)
        }
        let typeStart = i
        let empty = try open(type)
        let v: XMLRPCValue
        switch type {
        case "string":
            v = .string(empty ? "" : try text())
        case "int", "i4", "i8":
            let t = empty ? "" : try text()
            guard let n = XMLParser.integer(t) else { throw error("<\(type)> holds \"\(t.prefix(40))\", not an integer", at: typeStart) }
            v = .int(n)
        case "boolean":
            let t = (empty ? "" : try text()).trimmingASCIIWhitespace()
            switch t {
            case "0": v = .bool(false)
            case "1": v = .bool(true)
            default: throw error("<boolean> holds \"\(t.prefix(40))\", not 0 or 1", at: typeStart)
            }
        case "double":
            let t = (empty ? "" : try text()).trimmingASCIIWhitespace()
            guard t.utf8.count <= 64, let d = Double(t) else { throw error("<double> holds \"\(t.prefix(40))\", not a number", at: typeStart) }
            v = .double(d)
        case "array":
            v = empty ? .array([]) : try array(depth: depth)
        case "struct":
            v = empty ? .struct([:]) : try structure(depth: depth)
        default:
            throw error("unsupported XML-RPC type <\(type)>", at: typeStart)
        }
        if !empty {
            if type != "array" && type != "struct" { try close(type) }
        }
        try skipMisc(allowPI: false)
        try close("value")
        return v
    }

    /// After `<array>`: `<data>` values `</data>` `</array>`.
    mutating func array(depth: Int) throws(XMLRPCError) -> XMLRPCValue {
        try skipMisc(allowPI: false)
        var items: [XMLRPCValue] = []
        if !(try open("data")) {
            while true {
                try skipMisc(allowPI: false)
                if atStartTag("value") {
                    items.append(try value(depth: depth + 1))
                } else {
                    try close("data")
                    break
                }
            }
        }
        try skipMisc(allowPI: false)
        try close("array")
        return .array(items)
    }

    /// After `<struct>`: members, then `</struct>`.
    mutating func structure(depth: Int) throws(XMLRPCError) -> XMLRPCValue {
        var members: [String: XMLRPCValue] = [:]
        while true {
            try skipMisc(allowPI: false)
            guard atStartTag("member") else { break }
            if try open("member") { throw error("<member/> is empty") }
            try skipMisc(allowPI: false)
            let nameEmpty = try open("name")
            let name = nameEmpty ? "" : try text()
            if !nameEmpty { try close("name") }
            try skipMisc(allowPI: false)
            let v = try value(depth: depth + 1)
            try skipMisc(allowPI: false)
            try close("member")
            members[name] = v
        }
        try close("struct")
        return .struct(members)
    }

    /// A decimal integer with optional sign and surrounding whitespace; nil on overflow or junk.
    static func integer(_ text: String) -> Int? {
        // Byte by byte: `Int(Substring)` is a generic call (about 2,000 instructions each, 14 per
        // process in a reply). Accepts what it accepted: optional whitespace, one sign, digits.
        var u = text.utf8[...]
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || (c >= 0x09 && c <= 0x0D) }
        while let c = u.first, isSpace(c) { u = u.dropFirst() }
        while let c = u.last, isSpace(c) { u = u.dropLast() }
        guard !u.isEmpty, u.count <= 24 else { return nil }
        var negative = false
        if u.first == UInt8(ascii: "+") || u.first == UInt8(ascii: "-") {
            negative = u.first == UInt8(ascii: "-")
            u = u.dropFirst()
        }
        guard !u.isEmpty else { return nil }
        var n = 0
        for c in u {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let d = Int(c - 0x30)
            // Accumulated as a negative number, which reaches Int.min.
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (r, o2) = m.subtractingReportingOverflow(d)
            if o1 || o2 { return nil }
            n = r
        }
        if negative { return n }
        let (p, o) = (0).subtractingReportingOverflow(n)
        return o ? nil : p
    }
}
