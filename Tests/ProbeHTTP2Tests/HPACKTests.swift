// HPACK against RFC 7541's own examples (Appendix C), Huffman round trips, and the decoder's bounds.
import Testing
import ProbeTestSupport
@testable import ProbeHTTP2

func hex(_ s: String) -> [UInt8] {
    let digits = Array(s.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { i in
        UInt8(String(decoding: digits[i..<(i + 2)], as: UTF8.self), radix: 16)!
    }
}

@Suite struct HPACKTests {
    @Test func huffmanMatchesTheRFCExamples() throws {
        let cases = [("www.example.com", "f1e3 c2e5 f23a 6ba0 ab90 f4ff"), ("no-cache", "a8eb 1064 9cbf"),
                     ("custom-key", "25a8 49e9 5ba9 7d7f"), ("custom-value", "25a8 49e9 5bb8 e8b4 bf"),
                     ("302", "6402"), ("private", "aec3 771a 4b"),
                     ("Mon, 21 Oct 2013 20:13:21 GMT", "d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff"),
                     ("https://www.example.com", "9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3")]
        for (text, coded) in cases {
            #expect(HPACKHuffman.encode(Array(text.utf8)) == hex(coded), "\(text)")
            #expect(try HPACKHuffman.decode(hex(coded)[...], limit: 1000) == Array(text.utf8))
            #expect(HPACKHuffman.encodedCount(Array(text.utf8)) == hex(coded).count)
        }
    }

    @Test func huffmanRoundTripsEveryByte() throws {
        let all = (0...255).map { UInt8($0) }
        #expect(try HPACKHuffman.decode(HPACKHuffman.encode(all)[...], limit: 256) == all)
        #expect(throws: HPACKHuffman.DecodeError.tooLong) { try HPACKHuffman.decode(HPACKHuffman.encode(all)[...], limit: 255) }
    }

    @Test func huffmanRoundTripsRandomStrings() throws {
        var rng = SplitMix(seed: 0x4855_4646)
        for _ in 0..<3000 {
            let bytes = (0..<rng.below(48)).map { _ in UInt8(rng.below(256)) }
            let coded = HPACKHuffman.encode(bytes)
            #expect(try HPACKHuffman.decode(coded[...], limit: 64) == bytes)
            // Cutting the last byte off a string that needs it is never silently accepted as the same string.
            if !bytes.isEmpty, let shorter = try? HPACKHuffman.decode(coded.dropLast(), limit: 64) { #expect(shorter != bytes) }
        }
    }

    @Test func huffmanRejectsBadPadding() {
        // "0" is 00000 (5 bits); padding must be ones.
        #expect(throws: HPACKHuffman.DecodeError.invalidCode) { try HPACKHuffman.decode([0x00][...], limit: 10) }
        // A whole byte of ones is more than 7 bits of padding.
        #expect(throws: HPACKHuffman.DecodeError.invalidCode) { try HPACKHuffman.decode([0x07, 0xff][...], limit: 10) }
        // EOS (30 ones) inside the string.
        #expect(throws: HPACKHuffman.DecodeError.invalidCode) { try HPACKHuffman.decode([0xff, 0xff, 0xff, 0xff][...], limit: 10) }
    }

    /// RFC 7541 C.4: three requests with Huffman coding, sharing one dynamic table.
    @Test func requestsWithHuffmanAndTheDynamicTable() throws {
        var d = HPACKDecoder()
        let r1 = try d.decode(hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")[...])
        #expect(r1 == [HPACKField(":method", "GET"), HPACKField(":scheme", "http"), HPACKField(":path", "/"),
                       HPACKField(":authority", "www.example.com")])
        #expect(d.tableSize == 57)
        let r2 = try d.decode(hex("8286 84be 5886 a8eb 1064 9cbf")[...])
        #expect(r2.last == HPACKField("cache-control", "no-cache"))
        #expect(r2[3] == HPACKField(":authority", "www.example.com"))
        #expect(d.tableSize == 110)
        let r3 = try d.decode(hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")[...])
        #expect(r3 == [HPACKField(":method", "GET"), HPACKField(":scheme", "https"), HPACKField(":path", "/index.html"),
                       HPACKField(":authority", "www.example.com"), HPACKField("custom-key", "custom-value")])
        #expect(d.tableSize == 164)
    }

    /// RFC 7541 C.5: responses with a 256-byte table, so entries are evicted.
    @Test func evictionWithASmallTable() throws {
        var d = HPACKDecoder(maxTableSize: 256)
        _ = try d.decode(hex("""
            4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32
            3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d
            """)[...])
        #expect(d.tableSize == 222)
        let r2 = try d.decode(hex("4803 3330 37c1 c0bf")[...])
        #expect(r2[0] == HPACKField(":status", "307"))
        #expect(d.tableSize == 222)
        #expect(d.dynamicEntryCount == 4)
    }

    @Test func boundsAndErrors() {
        var d = HPACKDecoder(maxTableSize: 4096, maxHeaderListSize: 100)
        // A table size update above what we allow.
        #expect(throws: HPACKError.invalidTableSizeUpdate(1_000_000)) {
            var out: [UInt8] = []
            HPACKEncoder.appendInteger(1_000_000, prefix: 5, flags: 0x20, to: &out)
            _ = try d.decode(out[...])
        }
        // A size update after a field.
        #expect(throws: HPACKError.invalidTableSizeUpdate(0)) { _ = try d.decode([0x82, 0x20][...]) }
        // Index 0 and an index past the tables.
        #expect(throws: HPACKError.invalidIndex(0)) { _ = try d.decode([0x80][...]) }
        #expect(throws: HPACKError.invalidIndex(70)) { _ = try d.decode([0xc6][...]) }
        // An integer that never ends, and one too large.
        #expect(throws: HPACKError.truncated) { _ = try d.decode([0xff, 0xff][...]) }
        #expect(throws: HPACKError.integerOverflow) { _ = try d.decode([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f][...]) }
        // A string longer than the block.
        #expect(throws: HPACKError.truncated) { _ = try d.decode([0x00, 0x05, 0x61][...]) }
        // A header list over the limit (two fields of 32 + 30 bytes).
        let name = [UInt8](repeating: 0x61, count: 30)
        var block: [UInt8] = [0x00, 30] + name + [0x00]
        block += block
        #expect(throws: HPACKError.headerListTooLarge) { _ = try d.decode(block[...]) }
    }

    @Test func encoderOutputDecodes() throws {
        var e = HPACKEncoder()
        let fields = [(":status", "200"), ("content-type", "application/grpc"), ("grpc-status", "5"),
                      ("grpc-message", String(repeating: "x", count: 300))]
        let block = e.encode(fields)
        #expect(block.first == 0x20)
        var d = HPACKDecoder()
        let decoded = try d.decode(block[...])
        #expect(decoded == fields.map { HPACKField($0.0, $0.1) })
        #expect(e.encode([(":status", "200")]) == [0x88])
    }
}
