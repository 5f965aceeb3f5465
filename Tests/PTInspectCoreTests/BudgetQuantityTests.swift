// BudgetQuantityTests.swift: the numbers budgets are written in, and every parser error's exact
// message.

import Testing

@testable import PTInspectCore

@Suite struct BudgetQuantityTests {
  @Test(
    arguments: [
      ("5.8M", 5_800_000), ("6M", 6_000_000), ("6_000_000", 6_000_000), ("6,000,000", 6_000_000),
      ("1.5B", 1_500_000_000), ("7B", 7_000_000_000), ("1G", 1_000_000_000), ("20K", 20_000),
      ("20k", 20_000), ("2T", 2_000_000_000_000), ("0", 0), ("+5M", 5_000_000), (" 6M ", 6_000_000),
      ("1.2345678M", 1_234_568), ("0.5K", 500), ("1.0", 1), ("25 M", 25_000_000),
      ("9223372036854775807", Int64.max),
    ] as [(String, Int64)])
  func counts(_ text: String, _ expected: Int64) throws {
    #expect(try Quantity.count(text) == expected)
  }

  @Test(
    arguments: [
      ("25MB", 25_000_000), ("1.5GiB", 1_610_612_736), ("4096", 4096), ("512B", 512),
      ("1KiB", 1024),
      ("1KB", 1000), ("2TB", 2_000_000_000_000), ("1TiB", 1_099_511_627_776), ("25 MB", 25_000_000),
      ("25mb", 25_000_000), ("0.5MiB", 524_288), ("1_000MB", 1_000_000_000),
    ] as [(String, Int64)])
  func byteSizes(_ text: String, _ expected: Int64) throws {
    #expect(try Quantity.bytes(text) == expected)
  }

  @Test func countOrBytesTellsByTheUnit() throws {
    #expect(try Quantity.countOrBytes("20M") == (20_000_000, .count))
    #expect(try Quantity.countOrBytes("40MB") == (40_000_000, .bytes))
    #expect(try Quantity.countOrBytes("1MiB") == (1_048_576, .bytes))
    #expect(try Quantity.countOrBytes("1B") == (1_000_000_000, .count))
    #expect(try Quantity.countOrBytes("300") == (300, .count))
  }

  @Test func growth() throws {
    #expect(try Quantity.growth("5%", kind: .count) == .percent(5))
    #expect(try Quantity.growth("+0.5%", kind: .count) == .percent(0.5))
    #expect(try Quantity.growth("12.5 %", kind: .bytes) == .percent(12.5))
    #expect(try Quantity.growth("+1M", kind: .count) == .absolute(1_000_000))
    #expect(try Quantity.growth("1M", kind: .count) == .absolute(1_000_000))
    #expect(try Quantity.growth("+2MB", kind: .bytes) == .absolute(2_000_000))
  }

  static let countErrors: [(String, String)] = [
    ("25XB", "'25XB' is not a number: unknown unit 'XB'"),
    ("5.8X", "'5.8X' is not a number: unknown unit 'X'"),
    ("25MB", "'25MB' is a byte size, not a count"),
    ("1.5GiB", "'1.5GiB' is a byte size, not a count"),
    ("", "'' is not a number: empty value"),
    ("  ", "'  ' is not a number: empty value"),
    ("abc", "'abc' is not a number: it must start with a digit (e.g. 5.8M, 6_000_000, 25MB)"),
    (".5M", "'.5M' is not a number: it must start with a digit (e.g. 5.8M, 6_000_000, 25MB)"),
    ("-5M", "'-5M' is negative: a limit must be 0 or more"),
    ("6__000", "'6__000' is not a number: misplaced '_'"),
    ("6_", "'6_' is not a number: misplaced '_'"),
    ("6,000,", "'6,000,' is not a number: misplaced ','"),
    ("5.M", "'5.M' is not a number: misplaced '.'"),
    ("1.2.3", "'1.2.3' is not a number: misplaced '.'"),
    ("1.5", "'1.5' is not a whole number"),
    ("99999999999T", "'99999999999T' is too large"),
    ("9223372036854775808", "'9223372036854775808' is too large"),
    ("123456789012345678901", "'123456789012345678901' is too large"),
    ("5e6", "'5e6' is not a number: unknown unit 'e6'"),
  ]

  @Test(arguments: countErrors.indices)
  func countError(_ i: Int) {
    let (text, message) = Self.countErrors[i]
    #expect(throws: BudgetRuleError(message)) { try Quantity.count(text) }
  }

  static let byteErrors: [(String, String)] = [
    ("25XB", "'25XB' is not a number: unknown unit 'XB'"),
    ("25M", "'25M' is not a byte size: write 25MB (10^6 bytes) or 25MiB (2^20 bytes)"),
    ("1.5G", "'1.5G' is not a byte size: write 1.5GB (10^9 bytes) or 1.5GiB (2^30 bytes)"),
    ("3k", "'3k' is not a byte size: write 3KB (10^3 bytes) or 3KiB (2^10 bytes)"),
    ("2T", "'2T' is not a byte size: write 2TB (10^12 bytes) or 2TiB (2^40 bytes)"),
    ("1.5", "'1.5' is not a whole number"),
    ("-1MB", "'-1MB' is negative: a limit must be 0 or more"),
    ("99999999TB", "'99999999TB' is too large"),
  ]

  @Test(arguments: byteErrors.indices)
  func byteError(_ i: Int) {
    let (text, message) = Self.byteErrors[i]
    #expect(throws: BudgetRuleError(message)) { try Quantity.bytes(text) }
  }

  @Test func growthErrors() {
    #expect(throws: BudgetRuleError("'5x%' is not a percentage: unexpected 'x' before '%'")) {
      try Quantity.growth("5x%", kind: .count)
    }
    #expect(throws: BudgetRuleError("'-5%' is negative: a limit must be 0 or more")) {
      try Quantity.growth("-5%", kind: .count)
    }
    #expect(throws: BudgetRuleError("'%' is not a number: empty value")) {
      try Quantity.growth("%", kind: .count)
    }
    #expect(throws: BudgetRuleError("'+2MB' is a byte size, not a count")) {
      try Quantity.growth("+2MB", kind: .count)
    }
    #expect(
      throws: BudgetRuleError(
        "'+2M' is not a byte size: write 2MB (10^6 bytes) or 2MiB (2^20 bytes)")
    ) {
      try Quantity.growth("+2M", kind: .bytes)
    }
  }

  @Test func groupRuleErrors() {
    var spec = BudgetSpec()
    #expect(throws: BudgetRuleError("'encoder.*' is not GLOB=N (e.g. 'encoder.*=20M')")) {
      try spec.addGroup("encoder.*")
    }
    #expect(throws: BudgetRuleError("'=20M' has an empty pattern")) { try spec.addGroup("=20M") }
    #expect(throws: BudgetRuleError("'enc=' has no limit (e.g. 'enc=20M')")) {
      try spec.addGroup("enc=")
    }
    #expect(throws: BudgetRuleError("'20X' is not a number: unknown unit 'X'")) {
      try spec.addGroup("enc=20X")
    }
    #expect(spec.groups.isEmpty)
  }

  @Test func groupRulesReadCountsOrBytes() throws {
    var spec = BudgetSpec()
    try spec.addGroup("encoder.*=20M")
    try spec.addGroup("decoder.*=40MB")
    try spec.addGroup("encoder.*=21M")
    #expect(spec.groups.map(\.text) == ["budget encoder.*=21M", "budget decoder.*=40MB"])
    #expect(
      spec.groups.map(\.check) == [
        .group(pattern: "encoder.*", .parameters, limit: 21_000_000),
        .group(pattern: "decoder.*", .bytes, limit: 40_000_000),
      ])
  }

  @Test func specValidation() throws {
    #expect(
      throws: BudgetRuleError(
        "no budget rules: give --max-params, --max-bytes, --max-file-bytes, --budget GLOB=N or --max-growth with --baseline, or a budget file (.ptinspect.toml, or [tool.ptinspect.budget] in pyproject.toml)"
      )
    ) { try BudgetSpec().validate() }
    var growth = BudgetSpec()
    try growth.set(.maxGrowth, "5%")
    #expect(throws: BudgetRuleError("'max-growth' needs a baseline checkpoint (--baseline OLD)")) {
      try growth.validate()
    }
    var bytesGrowth = BudgetSpec()
    try bytesGrowth.set(.maxBytesGrowth, "1MB")
    #expect(
      throws: BudgetRuleError("'max-bytes-growth' needs a baseline checkpoint (--baseline OLD)")
    ) {
      try bytesGrowth.validate()
    }
    var baselineOnly = BudgetSpec()
    try baselineOnly.set(.maxParams, "1M")
    try baselineOnly.set(.baseline, "old.pt")
    #expect(
      throws: BudgetRuleError(
        "a baseline needs a growth rule (--max-growth 5% or --max-bytes-growth 5%)")
    ) { try baselineOnly.validate() }
    #expect(throws: BudgetRuleError("the baseline path is empty")) {
      try baselineOnly.set(.baseline, " ")
    }
  }

  @Test func mergeOverridesKeyByKey() throws {
    var file = BudgetSpec()
    try file.set(.maxParams, "5M")
    try file.set(.maxBytes, "25MB")
    try file.addGroup("a.*=1M")
    var cli = BudgetSpec()
    try cli.set(.maxParams, "6M")
    try cli.addGroup("a.*=2M")
    try cli.addGroup("b=3M")
    file.merge(cli)
    #expect(
      file.rules.map(\.text) == ["max-params 6M", "max-bytes 25MB", "budget a.*=2M", "budget b=3M"])
  }
}
