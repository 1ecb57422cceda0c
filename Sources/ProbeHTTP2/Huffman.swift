// HPACK's static Huffman code (RFC 7541 Appendix B). The code is canonical: ordering the symbols by
// (code length, symbol) and counting up gives every code, so the table below holds only the code
// length of each of the 257 symbols (256 = EOS); the codes and the decoder tables are derived once.

/// Decoding and encoding of HPACK Huffman strings.
public enum HPACKHuffman {
    /// Code length in bits of symbols 0...256 (RFC 7541 Appendix B, column "len").
    static let codeLengths: [UInt8] = [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ]

    static let eos = 256
    static let maxLength = 30

    struct Tables: Sendable {
        /// codes[symbol]: the code, right-aligned in `codeLengths[symbol]` bits.
        var codes: [UInt32]
        /// Per code length L (0...30): the first code of that length, how many there are, and where
        /// their symbols start in `symbols` (symbols ordered by length, then value).
        var firstCode: [UInt32]
        var count: [UInt32]
        var offset: [Int]
        var symbols: [UInt16]
    }

    static let tables: Tables = {
        let order = (0...256).sorted { (codeLengths[$0], $0) < (codeLengths[$1], $1) }
        var codes = [UInt32](repeating: 0, count: 257)
        var firstCode = [UInt32](repeating: 0, count: maxLength + 1)
        var count = [UInt32](repeating: 0, count: maxLength + 1)
        var offset = [Int](repeating: 0, count: maxLength + 1)
        var code: UInt32 = 0
        var previous = Int(codeLengths[order[0]])
        for (i, s) in order.enumerated() {
            let length = Int(codeLengths[s])
            if i > 0 { code = (code + 1) << UInt32(length - previous) }
            previous = length
            codes[s] = code
            if count[length] == 0 {
                firstCode[length] = code
                offset[length] = i
            }
            count[length] += 1
        }
        return Tables(codes: codes, firstCode: firstCode, count: count, offset: offset, symbols: order.map { UInt16($0) })
    }()

    public enum DecodeError: Error, Sendable, Equatable {
        /// The EOS symbol inside the string, more than 7 bits of padding, or padding that is not all ones.
        case invalidCode
        /// The decoded string would be longer than the limit.
        case tooLong
    }

    /// Decodes a Huffman-coded string; the result is at most `limit` bytes.
    public static func decode(_ input: ArraySlice<UInt8>, limit: Int) throws(DecodeError) -> [UInt8] {
        let t = tables
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, input.count * 8 / 5 + 1))
        var code: UInt32 = 0
        var length = 0
        for byte in input {
            var bit = 7
            while bit >= 0 {
                code = (code << 1) | UInt32((byte >> UInt8(bit)) & 1)
                length += 1
                bit -= 1
                let n = t.count[length]
                if n != 0 && code >= t.firstCode[length] && code - t.firstCode[length] < n {
                    let symbol = Int(t.symbols[t.offset[length] + Int(code - t.firstCode[length])])
                    if symbol == eos { throw .invalidCode }
                    if out.count == limit { throw .tooLong }
                    out.append(UInt8(symbol))
                    code = 0
                    length = 0
                } else if length >= maxLength {
                    throw .invalidCode
                }
            }
        }
        // Padding: fewer than 8 bits, all ones (the most significant bits of EOS).
        if length > 7 || code != (UInt32(1) << UInt32(length)) - 1 { throw .invalidCode }
        return out
    }

    /// The Huffman coding of `bytes`, padded with ones.
    public static func encode<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        let t = tables
        var out: [UInt8] = []
        var acc: UInt64 = 0
        var bits = 0
        for b in bytes {
            let length = Int(codeLengths[Int(b)])
            acc = (acc << UInt64(length)) | UInt64(t.codes[Int(b)])
            bits += length
            while bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt64(bits)))
            }
            acc &= (UInt64(1) << UInt64(bits)) - 1
        }
        if bits > 0 {
            out.append(UInt8(truncatingIfNeeded: (acc << UInt64(8 - bits)) | ((UInt64(1) << UInt64(8 - bits)) - 1)))
        }
        return out
    }

    /// The length of `encode(bytes)`.
    public static func encodedCount<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        (bytes.reduce(0) { $0 + Int(codeLengths[Int($1)]) } + 7) / 8
    }
}
