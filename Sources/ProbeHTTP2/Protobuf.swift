// Just enough protobuf (proto3 wire format) for grpc.health.v1: a bounded reader that skips
// unknown fields, a writer, and the three messages the health service exchanges.

/// Why a message was refused (truncated, too long, a bad wire type).
public enum ProtobufError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated
    case varintTooLong
    case badWireType(Int)
    case fieldNumberZero
    case invalidUTF8(field: Int)
    case tooDeep

    public var description: String {
        switch self {
        case .truncated: return "protobuf: message truncated"
        case .varintTooLong: return "protobuf: varint longer than 10 bytes"
        case .badWireType(let t): return "protobuf: unsupported wire type \(t)"
        case .fieldNumberZero: return "protobuf: field number 0"
        case .invalidUTF8(let f): return "protobuf: field \(f) is not valid UTF-8"
        case .tooDeep: return "protobuf: messages nested too deep"
        }
    }
}

/// Reads fields from one message. Wire types 0 (varint), 1 (64-bit), 2 (length-delimited), 5 (32-bit);
/// groups (3, 4) are an error, as proto3 has none.
struct ProtoReader {
    /// A field value as the wire carries it.
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)
    }

    let bytes: ArraySlice<UInt8>
    var at: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        at = bytes.startIndex
    }

    /// The next field, or nil at the end.
    mutating func next() throws(ProtobufError) -> (field: Int, value: Value)? {
        guard at < bytes.endIndex else { return nil }
        let key = try varint()
        let field = key >> 3
        guard field != 0 else { throw .fieldNumberZero }
        guard field <= 0x1fff_ffff else { throw .badWireType(Int(key & 7)) }
        switch key & 7 {
        case 0: return (Int(field), .varint(try varint()))
        case 1:
            guard bytes.endIndex - at >= 8 else { throw .truncated }
            var v: UInt64 = 0
            for k in 0..<8 { v |= UInt64(bytes[at + k]) << (8 * UInt64(k)) }
            at += 8
            return (Int(field), .fixed64(v))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - at) else { throw .truncated }
            let slice = bytes[at..<(at + Int(length))]
            at += Int(length)
            return (Int(field), .bytes(slice))
        case 5:
            guard bytes.endIndex - at >= 4 else { throw .truncated }
            var v: UInt32 = 0
            for k in 0..<4 { v |= UInt32(bytes[at + k]) << (8 * UInt32(k)) }
            at += 4
            return (Int(field), .fixed32(v))
        default:
            throw .badWireType(Int(key & 7))
        }
    }

    mutating func varint() throws(ProtobufError) -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard at < bytes.endIndex else { throw .truncated }
            let b = bytes[at]
            at += 1
            if shift == 63 && b > 1 { throw .varintTooLong }
            v |= UInt64(b & 0x7f) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
            if shift > 63 { throw .varintTooLong }
        }
    }

    static func string(_ slice: ArraySlice<UInt8>, field: Int) throws(ProtobufError) -> String {
        guard let s = String(validating: slice, as: UTF8.self) else { throw .invalidUTF8(field: field) }
        return s
    }
}

/// Writes proto3 wire format: varints and length-delimited fields.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    init() {}

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func field(_ number: Int, varint v: UInt64) {
        varint(UInt64(number) << 3)
        varint(v)
    }

    mutating func field(_ number: Int, bytes b: [UInt8]) {
        varint(UInt64(number) << 3 | 2)
        varint(UInt64(b.count))
        bytes.append(contentsOf: b)
    }
}

/// grpc.health.v1 messages (health.proto).
public enum GRPCHealth {
    /// HealthCheckResponse.ServingStatus.
    public enum ServingStatus: Int, Sendable, CaseIterable {
        case unknown = 0, serving = 1, notServing = 2, serviceUnknown = 3

        public var name: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .serving: "SERVING"
            case .notServing: "NOT_SERVING"
            case .serviceUnknown: "SERVICE_UNKNOWN"
            }
        }
    }

    /// HealthCheckRequest { string service = 1; } (the last occurrence wins, unknown fields are skipped).
    public static func decodeCheckRequest(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> String {
        var r = ProtoReader(bytes)
        var service = ""
        while let (field, value) = try r.next() {
            if field == 1, case .bytes(let b) = value { service = try ProtoReader.string(b, field: 1) }
        }
        return service
    }

    public static func encodeCheckRequest(_ service: String) -> [UInt8] {
        var w = ProtoWriter()
        if !service.isEmpty { w.field(1, bytes: Array(service.utf8)) }
        return w.bytes
    }

    /// HealthCheckResponse { ServingStatus status = 1; } (proto3: 0 is left out).
    public static func encodeCheckResponse(_ status: ServingStatus) -> [UInt8] {
        var w = ProtoWriter()
        if status != .unknown { w.field(1, varint: UInt64(status.rawValue)) }
        return w.bytes
    }

    /// The status of a HealthCheckResponse; an unknown enum value is kept as its number.
    public static func decodeCheckResponse(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> Int {
        var r = ProtoReader(bytes)
        var status = 0
        while let (field, value) = try r.next() {
            if field == 1, case .varint(let v) = value { status = Int(Int32(truncatingIfNeeded: v)) }
        }
        return status
    }

    /// HealthListRequest {} : any content is skipped, but it must be well-formed.
    public static func decodeListRequest(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) {
        var r = ProtoReader(bytes)
        while try r.next() != nil {}
    }

    /// HealthListResponse { map<string, HealthCheckResponse> statuses = 1; }: each entry is a
    /// message { string key = 1; HealthCheckResponse value = 2; }.
    public static func encodeListResponse(_ statuses: [(String, ServingStatus)]) -> [UInt8] {
        var w = ProtoWriter()
        for (key, status) in statuses {
            var entry = ProtoWriter()
            if !key.isEmpty { entry.field(1, bytes: Array(key.utf8)) }
            entry.field(2, bytes: encodeCheckResponse(status))
            w.field(1, bytes: entry.bytes)
        }
        return w.bytes
    }

    public static func decodeListResponse(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> [(String, Int)] {
        var r = ProtoReader(bytes)
        var out: [(String, Int)] = []
        while let (field, value) = try r.next() {
            guard field == 1, case .bytes(let entry) = value else { continue }
            var e = ProtoReader(entry)
            var key = "", status = 0
            while let (f, v) = try e.next() {
                if f == 1, case .bytes(let b) = v { key = try ProtoReader.string(b, field: 1) }
                if f == 2, case .bytes(let b) = v { status = try decodeCheckResponse(b) }
            }
            if let i = out.firstIndex(where: { $0.0 == key }) { out[i].1 = status } else { out.append((key, status)) }
        }
        return out
    }
}
