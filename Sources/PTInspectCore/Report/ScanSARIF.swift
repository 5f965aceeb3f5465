// ScanSARIF.swift: `scan --format sarif`: the scans of one run as a SARIF 2.1.0 log, as GitHub
// code scanning reads it. One result per dangerous or unknown global occurrence (file, pickle,
// byte offset); files that could not be read are tool execution notifications. Every member is
// always present (SARIF has no nulls), so the structs hold no optionals.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A SARIF 2.1.0 log with one run.
public struct SARIFLog: Sendable, Encodable {
  public var version = "2.1.0"
  public var schema = "https://json.schemastore.org/sarif-2.1.0.json"
  public var runs: [SARIFRun]

  enum CodingKeys: String, CodingKey {
    case version, runs
    case schema = "$schema"
  }

  /// The log for `scans` (in order) and the files that could not be read.
  public init(scans: [ScanReport], unreadable: [InputError], version: String) {
    var results: [SARIFResult] = []
    var notifications: [SARIFNotification] = []
    for scan in scans {
      for g in scan.globals where g.classification != .allowed {
        for o in g.occurrences {
          results.append(SARIFResult(scan, g, o))
        }
      }
      for message in scan.errors {
        notifications.append(SARIFNotification(file: scan.file, message: message, kind: "partial"))
      }
    }
    for e in unreadable {
      notifications.append(SARIFNotification(file: e.file, message: e.error, kind: e.errorKind))
    }
    let invocation = SARIFInvocation(
      executionSuccessful: notifications.isEmpty, toolExecutionNotifications: notifications)
    runs = [
      SARIFRun(
        tool: SARIFTool(driver: SARIFDriver(version: version)), invocations: [invocation],
        results: results)
    ]
  }
}

public struct SARIFRun: Sendable, Encodable {
  var tool: SARIFTool
  var invocations: [SARIFInvocation]
  var results: [SARIFResult]
}

struct SARIFTool: Sendable, Encodable {
  var driver: SARIFDriver
}

struct SARIFDriver: Sendable, Encodable {
  var name = "ptinspect"
  var version: String
  var informationUri = "https://github.com/ptinspect/ptinspect"
  var rules = SARIFRule.all
}

struct SARIFText: Sendable, Encodable {
  var text: String
}

struct SARIFRule: Sendable, Encodable {
  var id: String
  var name: String
  var shortDescription: SARIFText
  var fullDescription: SARIFText
  var defaultConfiguration: SARIFConfiguration
  var help: SARIFText

  static let dangerous = "PTI001"
  static let unknown = "PTI002"

  static let all = [
    SARIFRule(
      id: dangerous, name: "DangerousPickleGlobal",
      shortDescription: SARIFText(text: "A pickle references a global that can run code"),
      fullDescription: SARIFText(
        text:
          "Loading this checkpoint with torch.load(weights_only=False) or pickle imports and calls a global that can run code, import modules, open files or start processes."
      ),
      defaultConfiguration: SARIFConfiguration(level: "error"),
      help: SARIFText(
        text:
          "Do not load the file with pickle. Ask for a safetensors copy, or inspect it with ptinspect scan."
      )),
    SARIFRule(
      id: unknown, name: "UnknownPickleGlobal",
      shortDescription: SARIFText(text: "A pickle references a global outside the allowlists"),
      fullDescription: SARIFText(
        text:
          "torch.load(weights_only=True) refuses this global; loading without weights_only imports it. It is not known to be dangerous."
      ),
      defaultConfiguration: SARIFConfiguration(level: "warning"),
      help: SARIFText(
        text:
          "Check where the class comes from before allowing it; ptinspect scan says what to check."
      )),
  ]
}

struct SARIFConfiguration: Sendable, Encodable {
  var level: String
}

struct SARIFInvocation: Sendable, Encodable {
  var executionSuccessful: Bool
  var toolExecutionNotifications: [SARIFNotification]
}

struct SARIFNotification: Sendable, Encodable {
  var level = "error"
  var message: SARIFText
  var locations: [SARIFLocation]
  var properties: [String: String]

  init(file: String, message: String, kind: String) {
    self.message = SARIFText(text: "\(file): \(message)")
    locations = [SARIFLocation(file: file)]
    properties = ["errorKind": kind]
  }
}

struct SARIFArtifact: Sendable, Encodable {
  var uri: String
}

struct SARIFRegion: Sendable, Encodable {
  var byteOffset: Int
  var byteLength = 1
}

/// A file location; with a region when the byte offset in the file is known.
struct SARIFLocation: Sendable, Encodable {
  var file: String
  var byteOffset: Int?
  var logicalName: String?

  init(file: String, byteOffset: Int? = nil, logicalName: String? = nil) {
    self.file = file
    self.byteOffset = byteOffset
    self.logicalName = logicalName
  }

  /// A relative path as a URI reference: `%20` for a space, and so on.
  static func uri(_ path: String) -> String {
    path.percentEncoded(keeping: .pathWithoutColon)
  }

  enum CodingKeys: String, CodingKey { case physicalLocation, logicalLocations }
  enum PhysicalKeys: String, CodingKey { case artifactLocation, region }
  struct Logical: Encodable {
    var name: String
    var kind = "object"
  }

  // Written by hand: the region and logical location are left out, not null, when unknown.
  func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    var p = c.nestedContainer(keyedBy: PhysicalKeys.self, forKey: .physicalLocation)
    try p.encode(SARIFArtifact(uri: SARIFLocation.uri(file)), forKey: .artifactLocation)
    if let byteOffset { try p.encode(SARIFRegion(byteOffset: byteOffset), forKey: .region) }
    if let logicalName { try c.encode([Logical(name: logicalName)], forKey: .logicalLocations) }
  }
}

struct SARIFResult: Sendable, Encodable {
  var ruleId: String
  var ruleIndex: Int
  var level: String
  var message: SARIFText
  var locations: [SARIFLocation]
  var partialFingerprints: [String: String]
  var properties: [String: String]

  init(_ scan: ScanReport, _ g: ScanGlobal, _ o: ScanOccurrence) {
    let dangerous = g.classification == .dangerous
    ruleId = dangerous ? SARIFRule.dangerous : SARIFRule.unknown
    ruleIndex = dangerous ? 0 : 1
    level = dangerous ? "error" : "warning"
    message = SARIFText(
      text:
        "\(g.classification.rawValue) global \(g.displayName) in pickle '\(o.pickle)' at byte \(o.offset) (\(o.opcode)): \(g.reason)"
    )
    // The offset in the file when the pickle is stored there as is.
    let fileOffset = scan.pickles.first { $0.name == o.pickle }?.fileOffset.map { $0 + o.offset }
    locations = [
      SARIFLocation(file: scan.file, byteOffset: fileOffset, logicalName: o.pickle)
    ]
    partialFingerprints = ["ptinspectGlobal/v1": "\(g.displayName)|\(o.pickle)|\(o.offset)"]
    properties = [
      "global": g.displayName, "classification": g.classification.rawValue,
      "origin": g.origin.rawValue, "pickle": o.pickle, "pickleOffset": String(o.offset),
      "opcode": o.opcode,
    ]
  }
}
