// The JSON contract's unit rules (docs/json.md); the real outputs are validated against
// docs/schema in ReadinessProbeEndToEndTests/JSONSchemaTests.swift.
import Testing
@testable import ReadinessProbe
import ProbeTestSupport
import ProbeSupport

@Suite struct JSONContractTests {
    /// The kinds a row can have are enumerated in run.schema.json (and docs/json.md): every
    /// registered kind and the rows the runner, `run --cached` and `serve` make themselves.
    @Test func everyKindIsEnumerated() throws {
        let text = try Platform.readTextFile(TestPaths.packageRoot + "/docs/schema/run.schema.json", limit: 1 << 20)
        let schema = try JSON.parse(text)
        let listed = Set((schema["$defs"]?["kind"]?["enum"]?.arrayValue ?? []).compactMap(\.stringValue))
        let kinds = Set(CheckRegistry.standard.kinds.map(\.resultKind)).union(["cached-result", "server"])
        #expect(listed == kinds)
        let doc = try Platform.readTextFile(TestPaths.packageRoot + "/docs/json.md", limit: 1 << 20)
        for k in kinds { #expect(doc.contains("`\(k)`"), "docs/json.md does not name kind \(k)") }
    }

    /// `number` fields are written with a fraction whatever their value, integers without one.
    @Test func numbersKeepTheirType() throws {
        #expect(JSON.serialize(.real(2)) == "2.0")
        #expect(JSON.serialize(.real(0)) == "0.0")
        #expect(JSON.serialize(.real(2.4)) == "2.4")
        #expect(JSON.serialize(.real(0.0004)) == "0.0")
        #expect(JSON.serialize(.real(12.125)) == "12.125")
        #expect(JSON.serialize(.real(1e300)).contains("e"))
        #expect(JSON.serialize(.real(.nan)) == "null")
        #expect(JSON.serialize(.number(2)) == "2")
        #expect(try JSON.parse("2.0") == .real(2))
        #expect(JSONValue.real(3).intValue == 3 && JSONValue.real(2.5).doubleValue == 2.5)
        let report = ProbeReport.aggregate([CheckResult(name: "a", kind: "hook", status: .pass, code: 0, detail: "", durationMs: 3)],
                                           durationMs: 5, finishedAt: 0)
        #expect(ReportJSON.text(report).contains("\"duration_ms\": 5.0"))
        #expect(ReportJSON.text(report).contains("\"duration_ms\": 3.0"))
    }
}
