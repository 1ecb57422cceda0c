// HPACK (RFC 7541): the header compression of HTTP/2. The decoder is bounded: a dynamic table of at
// most the size we advertised, a header list of at most `maxHeaderListSize` bytes (counted as RFC 9113
// counts SETTINGS_MAX_HEADER_LIST_SIZE: name + value + 32 per field), integers of at most 2^31 - 1.
// The encoder never indexes (our answers are a few short fields), so it keeps no table.

/// One header field as bytes: HPACK carries octets, and the table's size accounting is in octets.
struct HPACKField: Equatable, Sendable, CustomStringConvertible {
    var name: [UInt8]
    var value: [UInt8]

    init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }

    init(_ name: String, _ value: String) {
        self.name = Array(name.utf8)
        self.value = Array(value.utf8)
    }

    /// RFC 7541 4.1: the size an entry takes in the dynamic table.
    var size: Int { name.count + value.count + 32 }
    var nameText: String { String(decoding: name, as: UTF8.self) }
    var valueText: String { String(decoding: value, as: UTF8.self) }
    var description: String { "\(nameText): \(valueText)" }
}

/// Why a header block was refused (a COMPRESSION_ERROR for the connection).
enum HPACKError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated
    case integerOverflow
    case invalidIndex(Int)
    case invalidHuffman
    /// A dynamic table size update above the limit we advertised, or not at the start of a block.
    case invalidTableSizeUpdate(Int)
    /// The decoded header list is larger than `maxHeaderListSize`.
    case headerListTooLarge

    var description: String {
        switch self {
        case .truncated: return "HPACK: header block truncated"
        case .integerOverflow: return "HPACK: integer too large"
        case .invalidIndex(let i): return "HPACK: invalid table index \(i)"
        case .invalidHuffman: return "HPACK: invalid Huffman string"
        case .invalidTableSizeUpdate(let s): return "HPACK: invalid dynamic table size update to \(s)"
        case .headerListTooLarge: return "HPACK: header list too large"
        }
    }
}

enum HPACKStatic {
    /// RFC 7541 Appendix A (index 1...61).
    static let table: [(String, String)] = [
        (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"), (":path", "/index.html"),
        (":scheme", "http"), (":scheme", "https"), (":status", "200"), (":status", "204"), (":status", "206"),
        (":status", "304"), (":status", "400"), (":status", "404"), (":status", "500"), ("accept-charset", ""),
        ("accept-encoding", "gzip, deflate"), ("accept-language", ""), ("accept-ranges", ""), ("accept", ""),
        ("access-control-allow-origin", ""), ("age", ""), ("allow", ""), ("authorization", ""), ("cache-control", ""),
        ("content-disposition", ""), ("content-encoding", ""), ("content-language", ""), ("content-length", ""),
        ("content-location", ""), ("content-range", ""), ("content-type", ""), ("cookie", ""), ("date", ""),
        ("etag", ""), ("expect", ""), ("expires", ""), ("from", ""), ("host", ""), ("if-match", ""),
        ("if-modified-since", ""), ("if-none-match", ""), ("if-range", ""), ("if-unmodified-since", ""),
        ("last-modified", ""), ("link", ""), ("location", ""), ("max-forwards", ""), ("proxy-authenticate", ""),
        ("proxy-authorization", ""), ("range", ""), ("referer", ""), ("refresh", ""), ("retry-after", ""),
        ("server", ""), ("set-cookie", ""), ("strict-transport-security", ""), ("transfer-encoding", ""),
        ("user-agent", ""), ("vary", ""), ("via", ""), ("www-authenticate", ""),
    ]

    static let fields: [HPACKField] = table.map { HPACKField($0.0, $0.1) }

    /// The first static index whose name is `name`, if any.
    static func nameIndex(_ name: [UInt8]) -> Int? { nameIndexes[name] }

    static let nameIndexes: [[UInt8]: Int] = {
        var d: [[UInt8]: Int] = [:]
        for (i, f) in fields.enumerated() where d[f.name] == nil { d[f.name] = i + 1 }
        return d
    }()
}

/// The bounded decoder of one connection (its dynamic table lives as long as the connection).
struct HPACKDecoder: Sendable {
    /// The dynamic table size we allow (our SETTINGS_HEADER_TABLE_SIZE): the encoder may not go above it.
    let maxTableSizeLimit: Int
    /// The decoded header list limit (our SETTINGS_MAX_HEADER_LIST_SIZE).
    let maxHeaderListSize: Int
    /// The table size the encoder chose (starts at the limit).
    private(set) var maxTableSize: Int
    /// Current size of the dynamic table (sum of entry sizes).
    private(set) var tableSize = 0
    /// Newest entry last.
    private var entries: [HPACKField] = []

    init(maxTableSize: Int = 4096, maxHeaderListSize: Int = 16384) {
        maxTableSizeLimit = maxTableSize
        self.maxHeaderListSize = maxHeaderListSize
        self.maxTableSize = maxTableSize
    }

    var dynamicEntryCount: Int { entries.count }

    /// Decodes one complete header block. On an error the decoder's state is unusable (the
    /// connection must end with COMPRESSION_ERROR).
    mutating func decode(_ block: ArraySlice<UInt8>) throws(HPACKError) -> [HPACKField] {
        var fields: [HPACKField] = []
        var listSize = 0
        var i = block.startIndex
        let end = block.endIndex
        var sawField = false
        while i < end {
            let b = block[i]
            if b & 0x80 != 0 {
                let index = try Self.integer(block, &i, prefix: 7)
                let f = try field(at: index)
                try add(f, &fields, &listSize)
                sawField = true
            } else if b & 0x40 != 0 {
                let f = try literal(block, &i, prefix: 6)
                try add(f, &fields, &listSize)
                insert(f)
                sawField = true
            } else if b & 0x20 != 0 {
                let size = try Self.integer(block, &i, prefix: 5)
                if sawField || size > maxTableSizeLimit { throw .invalidTableSizeUpdate(size) }
                maxTableSize = size
                evict(toFit: 0)
            } else {
                let f = try literal(block, &i, prefix: 4)
                try add(f, &fields, &listSize)
                sawField = true
            }
        }
        return fields
    }

    private func add(_ f: HPACKField, _ fields: inout [HPACKField], _ listSize: inout Int) throws(HPACKError) {
        listSize += f.size
        if listSize > maxHeaderListSize { throw .headerListTooLarge }
        fields.append(f)
    }

    private func field(at index: Int) throws(HPACKError) -> HPACKField {
        if index >= 1 && index <= HPACKStatic.fields.count { return HPACKStatic.fields[index - 1] }
        let d = index - HPACKStatic.fields.count
        guard d >= 1 && d <= entries.count else { throw .invalidIndex(index) }
        return entries[entries.count - d]
    }

    private mutating func literal(_ block: ArraySlice<UInt8>, _ i: inout Int, prefix: Int) throws(HPACKError) -> HPACKField {
        let index = try Self.integer(block, &i, prefix: prefix)
        let name = index == 0 ? try string(block, &i) : try field(at: index).name
        let value = try string(block, &i)
        return HPACKField(name: name, value: value)
    }

    private func string(_ block: ArraySlice<UInt8>, _ i: inout Int) throws(HPACKError) -> [UInt8] {
        guard i < block.endIndex else { throw .truncated }
        let huffman = block[i] & 0x80 != 0
        let length = try Self.integer(block, &i, prefix: 7)
        guard length <= block.endIndex - i else { throw .truncated }
        let raw = block[i..<(i + length)]
        i += length
        if !huffman {
            if length > maxHeaderListSize { throw .headerListTooLarge }
            return Array(raw)
        }
        do {
            return try HPACKHuffman.decode(raw, limit: maxHeaderListSize)
        } catch .tooLong {
            throw .headerListTooLarge
        } catch {
            throw .invalidHuffman
        }
    }

    private mutating func insert(_ f: HPACKField) {
        // RFC 7541 4.4: an entry larger than the table empties it and is not added.
        if f.size > maxTableSize {
            entries.removeAll()
            tableSize = 0
            return
        }
        evict(toFit: f.size)
        entries.append(f)
        tableSize += f.size
    }

    private mutating func evict(toFit extra: Int) {
        var drop = 0
        while tableSize + extra > maxTableSize && drop < entries.count {
            tableSize -= entries[drop].size
            drop += 1
        }
        if drop > 0 { entries.removeFirst(drop) }
    }

    /// RFC 7541 5.1, bounded to 2^31 - 1.
    static func integer(_ block: ArraySlice<UInt8>, _ i: inout Int, prefix: Int) throws(HPACKError) -> Int {
        guard i < block.endIndex else { throw .truncated }
        let mask = (1 << prefix) - 1
        var value = Int(block[i]) & mask
        i += 1
        if value < mask { return value }
        var shift = 0
        while true {
            guard i < block.endIndex else { throw .truncated }
            let b = Int(block[i])
            i += 1
            value += (b & 0x7f) << shift
            if value > Int(Int32.max) { throw .integerOverflow }
            if b & 0x80 == 0 { return value }
            shift += 7
            if shift > 28 { throw .integerOverflow }
        }
    }
}

/// Encodes header blocks without the dynamic table: `:status: 200` indexed, other fields as
/// literals without indexing (static name index when there is one), no Huffman coding.
struct HPACKEncoder: Sendable {
    /// Set when the peer's SETTINGS_HEADER_TABLE_SIZE changed (and at the start): the next block
    /// starts with a size update to 0, saying this encoder uses no dynamic table.
    var pendingSizeUpdate = true

    init() {}

    mutating func encode(_ fields: [(String, String)]) -> [UInt8] {
        encode(fields.map { HPACKField($0.0, $0.1) })
    }

    mutating func encode(_ fields: [HPACKField]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        if pendingSizeUpdate {
            out.append(0x20)
            pendingSizeUpdate = false
        }
        for f in fields { Self.append(f, to: &out) }
        return out
    }

    /// A block without the size-update prefix, for `HTTP2ServerConnection.sendHeaders(_:encoded:endStream:)`.
    static func encodeStatic(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in fields { append(HPACKField(name, value), to: &out) }
        return out
    }

    static let status200 = HPACKField(":status", "200")

    static func append(_ f: HPACKField, to out: inout [UInt8]) {
        if f == status200 {
            out.append(0x88)
            return
        }
        if let index = HPACKStatic.nameIndex(f.name) {
            appendInteger(index, prefix: 4, flags: 0x00, to: &out)
        } else {
            out.append(0x00)
            appendString(f.name, to: &out)
        }
        appendString(f.value, to: &out)
    }

    static func appendString(_ bytes: [UInt8], to out: inout [UInt8]) {
        appendInteger(bytes.count, prefix: 7, flags: 0x00, to: &out)
        out.append(contentsOf: bytes)
    }

    /// RFC 7541 5.1.
    static func appendInteger(_ value: Int, prefix: Int, flags: UInt8, to out: inout [UInt8]) {
        let mask = (1 << prefix) - 1
        if value < mask {
            out.append(flags | UInt8(value))
            return
        }
        out.append(flags | UInt8(mask))
        var rest = value - mask
        while rest >= 128 {
            out.append(UInt8(rest & 0x7f) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }
}
