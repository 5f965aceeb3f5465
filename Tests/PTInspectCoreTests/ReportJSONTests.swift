// ReportJSONTests.swift: the one JSON encoder: the rows that write themselves against their
// Codable conformance in both layouts, the summary's keys across every container, null for
// absent and non-finite values, the compact layout, errors that are thrown.

import Foundation
import PTInspectTestSupport
import Testing

@testable import PTInspectCore

/// `value` through ReportJSON's writer; with `rawRows` false every row goes through Codable.
func written<T: Encodable>(_ value: T, _ layout: JSONLayout, rawRows: Bool) throws -> String {
  var w = JSONWriter(layout: layout, capacity: 0, sink: nil)
  try ReportJSON.write(value, to: &w, rawRows: rawRows)
  return String(decoding: w.bytes, as: UTF8.self)
}

/// A JSON text parsed and written again with sorted keys: equal values give equal bytes.
func canonical(_ json: String) throws -> Data {
  let object = try JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])
  return try JSONSerialization.data(
    withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])
}

/// Every object's keys, by path (`.tensors[].quantization`): array elements share their path.
func keySets(_ value: Any, _ path: String = "", into sets: inout [String: Set<[String]>]) {
  if let object = value as? [String: Any] {
    sets[path, default: []].insert(object.keys.sorted())
    for (key, child) in object { keySets(child, path + "." + key, into: &sets) }
  } else if let array = value as? [Any] {
    for child in array { keySets(child, path + "[]", into: &sets) }
  }
}

@Suite("ReportJSON") struct ReportJSONTests {
  static let layouts: [JSONLayout] = [.pretty, .compact]

  /// One file per container, and files with quantized, sparse, tied, meta and whole-model tensors.
  static let fixtures = [
    "cifar_cnn.pt", "pre16_style.pth", "legacy_cnn.pt", "small_cnn.safetensors", "legacy_tar.pt",
    "scripted.pt", "sharded/model.safetensors.index.json", "training_checkpoint.pt",
    "quantized.pt", "sparse.pt", "tied.pt", "meta.pt", "whole_model.pt", "layers.pt", "views.pt",
  ]

  static func summary(_ fixture: String) throws -> SummaryReport {
    SummaryReport(try Checkpoint.open(Fixtures.path(fixture)))
  }

  @Test func rowsAreWrittenByThemselves() throws {
    let report = try Self.summary("cifar_cnn.pt")
    let tensor = try #require(report.tensors.first)
    let layer = try #require(report.layers.first)
    #expect(try node(tensor, [], rawRows: true).kind == .raw)
    #expect(try node(layer, [], rawRows: true).kind == .raw)
    #expect(try node(tensor, [], rawRows: false).kind == .object)
    // The reports that hold the rows write themselves too (no tree for their rows).
    #expect(try node(report, [], rawRows: true).kind == .raw)
    let listing = TensorsReport(
      try Checkpoint.open(Fixtures.path("cifar_cnn.pt")), filter: nil, sort: .file)
    #expect(try node(listing, [], rawRows: true).kind == .raw)
    // What the command prints for one input: the entry takes its report's node.
    #expect(try node(BatchEntry.report(report), [], rawRows: true).kind == .raw)
  }

  @Test(arguments: fixtures)
  func rawRowsEqualTheirCodableEncoding(_ fixture: String) throws {
    let report = try Self.summary(fixture)
    let listing = TensorsReport(
      try Checkpoint.open(Fixtures.path(fixture)), filter: nil, sort: .file)
    for layout in Self.layouts {
      for t in report.tensors {
        #expect(
          try written(t, layout, rawRows: true) == written(t, layout, rawRows: false),
          "\(fixture) tensor \(t.name) \(layout)")
      }
      for l in report.layers {
        #expect(
          try written(l, layout, rawRows: true) == written(l, layout, rawRows: false),
          "\(fixture) layer \(l.name) \(layout)")
      }
      // Nested in the reports, at their depth.
      #expect(try written(report, layout, rawRows: true) == written(report, layout, rawRows: false))
      #expect(
        try written(listing, layout, rawRows: true) == written(listing, layout, rawRows: false))
    }
  }

  @Test func theFixturesHaveRowsOfEveryShape() throws {
    let tensors = try Self.fixtures.flatMap { try Self.summary($0).tensors }
    let layers = try Self.fixtures.flatMap { try Self.summary($0).layers }
    #expect(tensors.contains { $0.quantization != nil })
    #expect(tensors.contains { $0.storage == nil })
    #expect(tensors.contains { $0.sharedWith != nil })
    #expect(
      tensors.contains { $0.requiresGrad != nil } && tensors.contains { $0.requiresGrad == nil })
    #expect(tensors.contains { $0.shape.isEmpty })
    #expect(layers.contains { !$0.shared.isEmpty } && layers.contains { !$0.inferred.isEmpty })
  }

  /// The same keys at every path whatever the container: absent values are null, never missing.
  @Test func summaryKeysAreTheSameInEveryContainer() throws {
    // Maps keyed by data (dtype and layer-type names), not by the schema.
    let maps: Set<String> = [".totals.byDtype", ".totals.byLayerType"]
    var all: [String: Set<[String]>] = [:]
    var seenIn: [String: [String]] = [:]
    for fixture in Self.fixtures {
      let json = try ReportJSON.encode(try Self.summary(fixture))
      var sets: [String: Set<[String]>] = [:]
      keySets(try JSONSerialization.jsonObject(with: Data(json.utf8)), into: &sets)
      for (path, keys) in sets where !maps.contains(path) {
        all[path, default: []].formUnion(keys)
        seenIn[path, default: []].append(fixture)
      }
    }
    for (path, keys) in all.sorted(by: { $0.key < $1.key }) {
      #expect(keys.count == 1, "\(path) has different keys in \(seenIn[path] ?? []): \(keys)")
    }
    // Paths outside arrays are in every file's report.
    for (path, files) in seenIn where !path.contains("[]") && path != ".anatomy.parts" {
      #expect(files.count == Self.fixtures.count, "\(path) only in \(files)")
    }
    #expect(all[""]?.first?.contains("archiveRoot") == true)
    #expect(all[".anatomy"]?.first?.contains("optimizer") == true)
  }

  @Test(arguments: fixtures)
  func compactIsOneLineWithTheSameValue(_ fixture: String) throws {
    let report = try Self.summary(fixture)
    let pretty = try ReportJSON.encode(report, layout: .pretty)
    let compact = try ReportJSON.encode(report, layout: .compact)
    #expect(!compact.contains("\n"))
    #expect(compact.count < pretty.count)
    #expect(try canonical(compact) == canonical(pretty))
  }

  struct Inner: Encodable {
    var value: Int? = nil
    var list: [Double?] = [1.5, nil, .nan]
  }

  struct Sample: Encodable {
    var int = 1
    var text: String? = "a\"b\\c\n/é\u{1}"
    var missing: String? = nil
    var missingObject: Inner? = nil
    var nan = Double.nan
    var inf = Double.infinity
    var negInf = -Double.infinity
    var optionalNaN: Double? = .nan
    var whole = 2.0
    var fraction = 0.1
    var float: Float = 0.1
    var big = 1e20
    var flag = true
    var list: [Int64] = [1, 2]
    var empty: [String] = []
    var map: [String: Int] = ["b": 2, "a": 1]
    var emptyMap: [String: Int] = [:]
    var inner = Inner()
  }

  @Test func compactLayout() throws {
    let json = try ReportJSON.encode(Sample(), layout: .compact)
    #expect(
      json
        == #"{"big":1e+20,"empty":[],"emptyMap":{},"flag":true,"float":0.1,"fraction":0.1,"#
        + #""inf":null,"inner":{"list":[1.5,null,null],"value":null},"int":1,"list":[1,2],"#
        + #""map":{"a":1,"b":2},"missing":null,"missingObject":null,"nan":null,"negInf":null,"#
        + #""optionalNaN":null,"text":"a\"b\\c\n/é\u0001","whole":2.0}"#)
    #expect(try canonical(json) == canonical(ReportJSON.encode(Sample())))
  }

  @Test func prettyLayout() throws {
    let expected = #"""
      {
        "big" : 1e+20,
        "empty" : [],
        "emptyMap" : {},
        "flag" : true,
        "float" : 0.1,
        "fraction" : 0.1,
        "inf" : null,
        "inner" : {
          "list" : [
            1.5,
            null,
            null
          ],
          "value" : null
        },
        "int" : 1,
        "list" : [
          1,
          2
        ],
        "map" : {
          "a" : 1,
          "b" : 2
        },
        "missing" : null,
        "missingObject" : null,
        "nan" : null,
        "negInf" : null,
        "optionalNaN" : null,
        "text" : "a\"b\\c\n/é\u0001",
        "whole" : 2.0
      }
      """#
    #expect(try ReportJSON.encode(Sample()) == expected)
  }

  @Test func integersAreWrittenInFull() throws {
    for v: Int64 in [0, 9, 10, -1, -9, -10, 1_234_567_890, .max, .min] {
      var w = JSONWriter(layout: .compact, capacity: 0, sink: nil)
      w.int(v)
      #expect(String(decoding: w.bytes, as: UTF8.self) == String(v))
    }
  }

  indirect enum Nest: Encodable {
    case leaf
    case list(Nest)
    func encode(to encoder: any Encoder) throws {
      var c = encoder.unkeyedContainer()
      if case .list(let inner) = self { try c.encode(inner) } else { try c.encode(1) }
    }
  }

  /// Deep nesting: the indent grows two spaces a level, past any fixed run of spaces.
  @Test func deepIndent() throws {
    var nest = Nest.leaf
    for _ in 0..<59 { nest = .list(nest) }
    let lines = try ReportJSON.encode(nest).split(separator: "\n")
    #expect(lines.count == 121)
    for (i, line) in lines.enumerated() {
      let depth = i <= 60 ? i : 120 - i
      #expect(line.prefix { $0 == " " }.count == 2 * depth, "line \(i)")
    }
    #expect(lines[60].trimmingCharacters(in: .whitespaces) == "1")
  }

  @Test func streamWritesTheDocumentAndANewline() throws {
    let report = try Self.summary("training_checkpoint.pt")
    for layout in Self.layouts {
      let chunks = Box()
      try ReportJSON.stream(report, layout: layout) { chunks.bytes += $0 }
      #expect(
        String(decoding: chunks.bytes, as: UTF8.self)
          == (try ReportJSON.encode(report, layout: layout)) + "\n")
    }
  }

  final class Box: @unchecked Sendable { var bytes: [UInt8] = [] }

  final class Chunks: @unchecked Sendable { var sizes: [Int] = [] }

  /// A report larger than a chunk goes out in chunks of about `flushSize` (the rows are handed
  /// over as the buffer fills, never the whole document at once), and the chunks make the
  /// document.
  @Test func largeReportsGoOutInChunks() throws {
    var report = try Self.summary("training_checkpoint.pt")
    let row = try #require(report.tensors.first)
    report.tensors = (0..<20_000).map {
      var t = row
      t.name = "model.layers.\($0).weight"
      return t
    }
    for layout in Self.layouts {
      let chunks = Box()
      let sizes = Chunks()
      try ReportJSON.stream(report, layout: layout) {
        chunks.bytes += $0
        sizes.sizes.append($0.count)
      }
      let whole = try ReportJSON.encode(report, layout: layout) + "\n"
      #expect(String(decoding: chunks.bytes, as: UTF8.self) == whole)
      #expect(sizes.sizes.count > 4)
      #expect(sizes.sizes.dropLast().allSatisfy { $0 >= JSONWriter.flushSize })
      #expect(sizes.sizes.allSatisfy { $0 < JSONWriter.flushSize + (1 << 12) })
      #expect(try written(report, layout, rawRows: true) == written(report, layout, rawRows: false))
    }
  }

  /// The escaping of one byte at a time, to check the writer's word-at-a-time scan against.
  static func escaped(_ s: String) -> String {
    var out: [UInt8] = [0x22]
    for byte in s.utf8 {
      switch byte {
      case 0x22: out += [0x5C, 0x22]
      case 0x5C: out += [0x5C, 0x5C]
      case 0x0A: out += [0x5C, 0x6E]
      case 0x0D: out += [0x5C, 0x72]
      case 0x09: out += [0x5C, 0x74]
      case 0..<0x20: out += Array(String(format: "\\u%04x", Int(byte)).utf8)
      default: out.append(byte)
      }
    }
    out.append(0x22)
    return String(decoding: out, as: UTF8.self)
  }

  /// Escapes at every position of a word and of the tail, next to multi-byte characters and
  /// bytes just above and below the ones that need escaping.
  @Test func stringsAreEscapedAtEveryPosition() throws {
    let alphabet: [String] = [
      "a", "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1f}", " ", "!", "#", "[", "]", "\u{7f}",
      "é", "€", "𝄞", "/",
    ]
    var generator = SystemRandomNumberGenerator()
    for length in 0..<40 {
      for _ in 0..<40 {
        let s = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }.joined()
        for layout in Self.layouts {
          var w = JSONWriter(layout: layout, capacity: 0, sink: nil)
          w.string(s)
          #expect(String(decoding: w.bytes, as: UTF8.self) == Self.escaped(s), "\(Array(s.utf8))")
        }
      }
      // One escape after a clean run of `length` bytes.
      let s = String(repeating: "x", count: length) + "\u{2}" + String(repeating: "y", count: 9)
      var w = JSONWriter(layout: .compact, capacity: 0, sink: nil)
      w.string(s)
      #expect(String(decoding: w.bytes, as: UTF8.self) == Self.escaped(s))
    }
  }

  indirect enum Deep: Encodable {
    case row(TensorEntry)
    case list(Deep)
    func encode(to encoder: any Encoder) throws {
      var c = encoder.unkeyedContainer()
      switch self {
      case .row(let t): try c.encode(t)
      case .list(let inner): try c.encode(inner)
      }
    }
  }

  /// Nesting deeper than the precomputed run of spaces before a member.
  @Test func indentPastTheRunOfSpaces() throws {
    var nest = Nest.leaf
    for _ in 0..<149 { nest = .list(nest) }
    let lines = try ReportJSON.encode(nest).split(separator: "\n")
    #expect(lines.count == 301)
    for (i, line) in lines.enumerated() {
      let depth = i <= 150 ? i : 300 - i
      #expect(line.prefix { $0 == " " }.count == 2 * depth, "line \(i)")
    }
    // A row that writes itself, deeper than the run: the same bytes as its Codable encoding.
    let entry = try #require(try Self.summary("quantized.pt").tensors.first)
    var deep = Deep.row(entry)
    for _ in 0..<140 { deep = .list(deep) }
    for layout in Self.layouts {
      #expect(try written(deep, layout, rawRows: true) == written(deep, layout, rawRows: false))
    }
  }

  /// Nil optionals of every report's types come out as null.
  @Test func absentValuesAreNull() throws {
    #expect(
      try ReportJSON.encode(ZipFinding(kind: .comment, entry: nil, message: "m"), layout: .compact)
        == #"{"entry":null,"kind":"comment","message":"m"}"#)
    #expect(
      try ReportJSON.encode(
        TensorDifference(name: "w", change: "added", before: nil, after: nil), layout: .compact)
        == #"{"after":null,"before":null,"change":"added","name":"w"}"#)
    let budget = try ReportJSON.encode(BudgetReport.unreadable("x.pt", "empty"), layout: .compact)
    #expect(budget.contains(#""baselineFile":null,"config":null,"error":"empty""#))
    let stats = StatsTotals(
      tensors: 0, read: 0, skipped: 0, bytes: 0, statistics: ValueStatistics(), nonFiniteTensors: []
    )
    let totals = try ReportJSON.encode(stats, layout: .compact)
    #expect(totals.contains(#""max":null,"mean":null,"min":null"#))
  }

  /// NaN and infinite statistics are null (DiffReport used to write "NaN" strings).
  @Test func nonFiniteStatisticsAreNull() throws {
    let change = ValueChange(
      name: "w", dtypeBefore: "float32", dtypeAfter: "float32", shape: [2],
      stats: ValueStats(
        numel: 2, elementsChanged: 1, elementsDifferent: 1, maxAbsDiff: .infinity,
        maxRelDiff: .nan, rmsDiff: -.infinity, cosine: nil, bitIdentical: false))
    let json = try ReportJSON.encode(change, layout: .compact)
    #expect(json.contains(#""maxAbsDiff":null,"maxRelDiff":null"#))
    #expect(json.contains(#""rmsDiff":null"#) && json.contains(#""cosine":null"#))
    #expect(!json.contains("NaN") && !json.contains("Infinity"))
  }

  struct Refuses: Encodable {
    func encode(to encoder: any Encoder) throws {
      throw EncodingError.invalidValue(
        0, EncodingError.Context(codingPath: encoder.codingPath, debugDescription: "refused"))
    }
  }

  @Test func encodingErrorsAreThrown() throws {
    #expect(throws: EncodingError.self) { try ReportJSON.encode(["a": [Refuses()]]) }
    #expect(throws: EncodingError.self) {
      try ReportJSON.stream(["a": Refuses()], layout: .compact) { _ in }
    }
  }

  /// A row encoded through a single-value container keeps its raw rendering.
  struct Wrapped: Encodable {
    var entry: TensorEntry
    func encode(to encoder: any Encoder) throws {
      var c = encoder.singleValueContainer()
      try c.encode(entry)
    }
  }

  @Test func singleValueContainersKeepRows() throws {
    let entry = try #require(try Self.summary("quantized.pt").tensors.first)
    for layout in Self.layouts {
      #expect(
        try ReportJSON.encode(Wrapped(entry: entry), layout: layout)
          == ReportJSON.encode(entry, layout: layout))
    }
  }
}
