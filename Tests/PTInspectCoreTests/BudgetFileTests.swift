// BudgetFileTests.swift: budget files (.ptinspect.toml, pyproject.toml) and the TOML subset that
// reads them, with exact error messages and line numbers.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

@Suite struct BudgetFileTests {
  func entries(_ text: String) throws -> [String: TOMLValue] {
    var reader = TOMLSubset(text)
    var out: [String: TOMLValue] = [:]
    for e in try reader.parse() { out[e.path.joined(separator: "|")] = e.value }
    return out
  }

  @Test func tomlValues() throws {
    let e = try entries(
      """
      # comment
      a = "x\\ty \\"q\\" \\u00e9"   # trailing comment
      b = 'C:\\path'
      c = 6_000_000
      d = -17
      e = 0x1F
      f = 1.5e3
      g = true
      h = 1979-05-27T07:32:00Z
      i = [1, 2,
        3, # inside
      ]
      j = { x = 1, "y.z" = "w" }
      k = \"\"\"
      two
      lines\"\"\"
      l = '''raw\\n'''
      "quoted key" = 1
      dotted.key = "v"
      [table."sub table"]
      m = []
      [[array]]
      n = 1
      [[array]]
      n = 2
      """)
    #expect(e["a"] == .string("x\ty \"q\" é"))
    #expect(e["b"] == .string("C:\\path"))
    #expect(e["c"] == .integer(6_000_000))
    #expect(e["d"] == .integer(-17))
    #expect(e["e"] == .integer(31))
    #expect(e["f"] == .float(1500))
    #expect(e["g"] == .bool(true))
    #expect(e["h"] == .datetime("1979-05-27T07:32:00Z"))
    #expect(e["i"] == .array([.integer(1), .integer(2), .integer(3)]))
    #expect(e["j|x"] == .integer(1))
    #expect(e["j|y.z"] == .string("w"))
    #expect(e["k"] == .string("two\nlines"))
    #expect(e["l"] == .string("raw\\n"))
    #expect(e["quoted key"] == .integer(1))
    #expect(e["dotted|key"] == .string("v"))
    #expect(e["table|sub table|m"] == .array([]))
    #expect(e["array|[0]|n"] == .integer(1))
    #expect(e["array|[1]|n"] == .integer(2))
  }

  @Test func subtablesOfArraysOfTables() throws {
    // As in Python's tomllib test data (valid/array/array-subtables.toml).
    let e = try entries(
      """
      [[fruit]]
      name = "apple"
      [fruit.physical]
      color = "red"
      [[fruit.variety]]
      name = "red delicious"
      [[fruit]]
      name = "banana"
      [fruit.physical]
      color = "yellow"
      """)
    #expect(e["fruit|[0]|name"] == .string("apple"))
    #expect(e["fruit|[0]|physical|color"] == .string("red"))
    #expect(e["fruit|[0]|variety|[0]|name"] == .string("red delicious"))
    #expect(e["fruit|[1]|name"] == .string("banana"))
    #expect(e["fruit|[1]|physical|color"] == .string("yellow"))
  }

  static let tomlErrors: [(String, String)] = [
    ("a = 1\nb 2\n", "line 2: expected '=' after the key 'b'"),
    ("a = \"open\n", "line 1: the string is not closed with '\"'"),
    ("[table\na = 1\n", "line 1: expected ']' to close the table header"),
    ("a = 1 2\n", "line 1: unexpected '2' after the value"),
    ("a = hello\n", "line 1: 'hello' is not a TOML value (quote strings: \"hello\")"),
    ("\n\na = [1, 2\n", "line 4: the array is not closed with ']'"),
    ("a = 1\na = 2\n", "line 2: the key 'a' is defined twice"),
    ("a = \"\\q\"\n", "line 1: unknown escape '\\q' in a string"),
    ("a =\n", "line 1: expected a value after '='"),
    ("= 1\n", "line 1: expected a key, found '='"),
    ("a = { b = 1\n", "line 2: the inline table is not closed with '}'"),
    ("a = \"\"\"never closed\n\n", "line 3: the string is not closed with '\"\"\"'"),
  ]

  @Test(arguments: tomlErrors.indices)
  func tomlError(_ i: Int) {
    let (text, message) = Self.tomlErrors[i]
    var reader = TOMLSubset(text)
    do {
      _ = try reader.parse()
      Issue.record("no error for \(text.debugDescription)")
    } catch {
      #expect(error.description == message)
    }
  }

  @Test func pyprojectBudget() throws {
    let path = Fixtures.path("budget/pyproject.toml")
    let spec = try BudgetFile.parse(try String(contentsOfFile: path, encoding: .utf8), name: path)
    #expect(
      spec.rules.map(\.text) == [
        "max-params 6M", "max-bytes 25MB", "max-file-bytes 30000000", "budget 1*=5.1M",
        "budget 19.*=20MB",
      ])
    #expect(spec.maxParams?.check == .total(.parameters, limit: 6_000_000))
    #expect(spec.maxBytes?.check == .total(.bytes, limit: 25_000_000))
    #expect(spec.maxFileBytes?.check == .total(.fileBytes, limit: 30_000_000))
    #expect(
      spec.groups.map(\.check) == [
        .group(pattern: "1*", .parameters, limit: 5_100_000),
        .group(pattern: "19.*", .bytes, limit: 20_000_000),
      ])
    #expect(spec.baseline == nil)
  }

  @Test func inlineGroupsAndRelativeBaseline() throws {
    let over = try BudgetFile.parse(
      "[budget]\nmax-params = \"5.8M\"\ngroups = { \"1*\" = \"5M\", \"0\" = \"1K\" }\n",
      name: "x/.ptinspect.toml")
    #expect(over.rules.map(\.text) == ["max-params 5.8M", "budget 1*=5M", "budget 0=1K"])
    let growth = try BudgetFile.parse(
      "[budget]\nbaseline = \"../diff/base.pt\"\nmax_growth = \"5%\"\n",
      name: "Fixtures/budget/growth.toml")
    #expect(growth.baseline == "Fixtures/budget/../diff/base.pt")
    #expect(growth.maxGrowth?.check == .growth(.parameters, .percent(5)))
    let here = try BudgetFile.parse(
      "[budget]\nbaseline = \"old.pt\"\nmax-growth = \"+1M\"\n", name: ".ptinspect.toml")
    #expect(here.baseline == "old.pt")
    let absolute = try BudgetFile.parse(
      "[budget]\nbaseline = \"/srv/old.pt\"\nmax-growth = 5\n", name: "a/b.toml")
    #expect(absolute.baseline == "/srv/old.pt")
    #expect(absolute.maxGrowth?.check == .growth(.parameters, .absolute(5)))
    let dotted = try BudgetFile.parse("[budget]\ngroups.\"enc.*\" = 20_000_000\n", name: "b.toml")
    #expect(
      dotted.groups.map(\.check) == [.group(pattern: "enc.*", .parameters, limit: 20_000_000)])
  }

  static let fileErrors: [(String, String, String)] = [
    (
      "budget/bad.toml", "[budget]\nmax-params = \"6M\"\nmax-param = \"5M\"\n",
      "budget/bad.toml:3: unknown key 'max-param' in [budget] (known: max-params, max-bytes, max-file-bytes, max-growth, max-bytes-growth, baseline, groups)"
    ),
    (
      ".ptinspect.toml", "[budget]\nmax-params = \"25XB\"\n",
      ".ptinspect.toml:2: max-params: '25XB' is not a number: unknown unit 'XB'"
    ),
    (
      ".ptinspect.toml", "[budget]\nmax-bytes = \"25M\"\n",
      ".ptinspect.toml:2: max-bytes: '25M' is not a byte size: write 25MB (10^6 bytes) or 25MiB (2^20 bytes)"
    ),
    (
      ".ptinspect.toml", "[budget]\nmax-params = [1]\n",
      ".ptinspect.toml:2: max-params must be a string or an integer, not an array"
    ),
    (
      ".ptinspect.toml", "[budget]\nmax-params = true\n",
      ".ptinspect.toml:2: max-params must be a string or an integer, not true"
    ),
    (
      ".ptinspect.toml", "[budget]\nmax-params = 5.8\n",
      ".ptinspect.toml:2: max-params = 5.8: write a string such as \"5.8M\", \"5.8MB\" or \"5.8%\""
    ),
    (
      ".ptinspect.toml", "[budget]\n\nmax-params \"6M\"\n",
      ".ptinspect.toml:3: expected '=' after the key 'max-params'"
    ),
    (".ptinspect.toml", "[scan]\nx = 1\n", ".ptinspect.toml: no [budget] table"),
    (
      "pyproject.toml", "[project]\nname = \"x\"\n",
      "pyproject.toml: no [tool.ptinspect.budget] table"
    ),
    (
      ".ptinspect.toml", "[budget]\ngroups = \"20M\"\n",
      ".ptinspect.toml:2: 'groups' must be a table of \"GLOB\" = \"N\" (e.g. [budget.groups] \"encoder.*\" = \"20M\")"
    ),
    (
      ".ptinspect.toml", "[budget.groups]\nencoder.layers = \"20M\"\n",
      ".ptinspect.toml:2: group patterns with dots must be quoted: \"encoder.layers\" = ..."
    ),
    (
      ".ptinspect.toml", "[budget.groups]\n\"enc.*\" = \"20X\"\n",
      ".ptinspect.toml:2: groups.\"enc.*\": '20X' is not a number: unknown unit 'X'"
    ),
    (
      ".ptinspect.toml", "[budget.max-params]\nx = 1\n",
      ".ptinspect.toml:2: 'max-params' takes a value, not a table"
    ),
    (".ptinspect.toml", "budget = 1\n", ".ptinspect.toml:1: 'budget' must be a table, not a value"),
  ]

  @Test(arguments: fileErrors.indices)
  func budgetFileError(_ i: Int) {
    let (name, text, message) = Self.fileErrors[i]
    #expect(throws: BudgetRuleError(message)) { try BudgetFile.parse(text, name: name) }
  }

  @Test func discovery() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-budget-\(UUID().uuidString)"
    ).path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect(BudgetFile.discover(in: dir) == nil)
    // A pyproject.toml without a ptinspect budget is not a budget file.
    try "[project]\nname = \"x\"\n".write(
      toFile: dir + "/pyproject.toml", atomically: true, encoding: .utf8)
    #expect(BudgetFile.discover(in: dir) == nil)
    try "[project]\nname = \"x\"\n[tool.ptinspect.budget]\nmax-params = \"1M\"\n".write(
      toFile: dir + "/pyproject.toml", atomically: true, encoding: .utf8)
    #expect(BudgetFile.discover(in: dir) == dir + "/pyproject.toml")
    // .ptinspect.toml comes first.
    try "[budget]\nmax-params = \"2M\"\n".write(
      toFile: dir + "/.ptinspect.toml", atomically: true, encoding: .utf8)
    #expect(BudgetFile.discover(in: dir) == dir + "/.ptinspect.toml")
    // A budget file that does not parse is still found, so its error is reported.
    try "[budget]\nmax-params = \n".write(
      toFile: dir + "/.ptinspect.toml", atomically: true, encoding: .utf8)
    #expect(BudgetFile.discover(in: dir) == dir + "/.ptinspect.toml")
  }
}
