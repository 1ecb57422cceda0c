// HPACK's static Huffman code (RFC 7541 Appendix B). The code is canonical: ordering the symbols by
// (code length, symbol) and counting up gives every code, so the table below holds only the code
// length of each of the 257 symbols (256 = EOS); the codes and the decoder tables are derived once.

/// Decoding and encoding of HPACK Huffman strings.
enum HPACKHuffman {
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
        /// Per code length in use, shortest first: the length, its first code, where its symbols start in
        /// `symbols` (ordered by length, then value), and the limit: one past its last code, left-aligned
        /// in 32 bits. A 32-bit window is decoded by the first length whose limit is above it.
        var lengths: [Int]
        var firstCode: [UInt32]
        var offset: [Int]
        var limit: [UInt64]
        var symbols: [UInt16]
    }

    static let tables: Tables = {
        let order = (0...256).sorted { (codeLengths[$0], $0) < (codeLengths[$1], $1) }
        var codes = [UInt32](repeating: 0, count: 257)
        var lengths: [Int] = [], firstCode: [UInt32] = [], offset: [Int] = [], limit: [UInt64] = []
        var code: UInt32 = 0
        var previous = Int(codeLengths[order[0]])
        for (i, s) in order.enumerated() {
            let length = Int(codeLengths[s])
            if i > 0 { code = (code + 1) << UInt32(length - previous) }
            previous = length
            codes[s] = code
            if lengths.last != length {
                lengths.append(length)
                firstCode.append(code)
                offset.append(i)
                limit.append(0)
            }
            limit[limit.count - 1] = UInt64(code + 1) << UInt64(32 - length)
        }
        return Tables(codes: codes, lengths: lengths, firstCode: firstCode, offset: offset, limit: limit,
                      symbols: order.map { UInt16($0) })
    }()

    /// Why a Huffman string was refused (bad padding, EOS inside the string).
    enum DecodeError: Error, Sendable, Equatable {
        /// The EOS symbol inside the string, more than 7 bits of padding, or padding that is not all ones.
        case invalidCode
        /// The decoded string would be longer than the limit.
        case tooLong
    }

    /// Decodes a Huffman-coded string; the result is at most `limit` bytes.
    static func decode(_ input: ArraySlice<UInt8>, limit: Int) throws(DecodeError) -> [UInt8] {
        let t = tables
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, input.count * 8 / 5 + 1))
        // The next bits, left-aligned in a 64-bit accumulator.
        var acc: UInt64 = 0
        var bits = 0
        var i = input.startIndex
        let end = input.endIndex
        while true {
            while bits <= 56 && i < end {
                acc |= UInt64(input[i]) << UInt64(56 - bits)
                i += 1
                bits += 8
            }
            if bits == 0 { break }
            // A 32-bit window; past the input's end it is padded with ones (EOS's prefix, the highest codes).
            var w = UInt64(acc >> 32)
            if bits < 32 { w |= UInt64(UInt32.max >> UInt32(bits)) }
            var k = 0
            while w >= t.limit[k] { k += 1 }
            let length = t.lengths[k]
            if length > bits {
                // Only padding is left: fewer than 8 bits, all ones.
                if bits > 7 || acc >> UInt64(64 - bits) != (UInt64(1) << UInt64(bits)) - 1 { throw .invalidCode }
                break
            }
            let symbol = Int(t.symbols[t.offset[k] + Int(UInt32(w >> UInt64(32 - length)) - t.firstCode[k])])
            if symbol == eos { throw .invalidCode }
            if out.count == limit { throw .tooLong }
            out.append(UInt8(symbol))
            acc <<= UInt64(length)
            bits -= length
        }
        return out
    }

    /// The Huffman coding of `bytes`, padded with ones.
    static func encode<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
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
    static func encodedCount<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        (bytes.reduce(0) { $0 + Int(codeLengths[Int($1)]) } + 7) / 8
    }
}
