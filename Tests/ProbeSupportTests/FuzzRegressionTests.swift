// Inputs libFuzzer found that crashed a parser or writer (see docs/reliability.md, "Fuzzing").
// Each test keeps the exact crashing input.
import Testing
import ProbeSupport

@Suite struct FuzzRegressionTests {
    /// fuzz-duration: "." indexed one past the end while choosing the error message.
    @Test(arguments: [".", " . ", "..", "1s."])
    func durationLoneDotIsAnError(_ text: String) {
        #expect(throws: DurationParseError.self) { try DurationText.parse(text) }
    }

    /// fuzz-duration: 32 digits of hours overflowed Int64 milliseconds before the 24h check.
    @Test(arguments: ["99999999999999999999999999999999", "9999999999999999999h", "1m99999999999999999999999999h"])
    func durationHugeValueIsTooLong(_ text: String) throws {
        let error = #expect(throws: DurationParseError.self) { try DurationText.parse(text) }
        #expect(error?.reason == "longer than 24h")
    }

    @Test func durationAtTheLimitStillParses() throws {
        #expect(try DurationText.parse("24h") == DurationText.maximum)
        #expect(try DurationText.parse("86400000ms") == DurationText.maximum)
    }

    /// fuzz-json: serializing a number at or beyond Int64's range (a parsed `1e308`) trapped in Decimal1.format.
    @Test func jsonHugeNumbersSerializeAndParseBack() throws {
        let value = try JSON.parse("[0,-0,1e3,-1.25E-2,123456789012345678,0.0001,1e308]")
        let text = JSON.serialize(value)
        #expect(text == "[0, 0, 1000, -0.013, 123456789012345680, 0, 1e+308]")
        #expect(JSON.serialize(try JSON.parse(text)) == text)
        #expect(Decimal1.format(-1e19, digits: 3) == "-1e+19")
        #expect(Decimal1.format(8.9e18, digits: 1) == "8900000000000000000")
    }
}
