// RemoteTests.swift: remote checkpoints against real servers on 127.0.0.1, started once per test
// process by scripts/remote_test_servers.py: nginx serving Fixtures/ (its access log gives the
// bytes sent), a fault server of our own, a Hub-like API (HF_ENDPOINT) and moto's S3
// (AWS_ENDPOINT_URL). The built binary runs as a user runs it.

import Foundation
import PTInspectTestSupport
import Testing

/// The loopback servers, started once; nil parts are servers whose binary is not installed.
struct RemoteServers: Sendable {
  var nginx: Int?
  var accessLog: String?
  var fault: Int
  var second: Int
  var moto: Int?
  var token: String

  static let shared: RemoteServers? = start()

  /// Keeps the servers' standard input open: they stop when this process exits.
  nonisolated(unsafe) static var keepAlive: Pipe?

  static func start() -> RemoteServers? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "python3", Fixtures.root.appendingPathComponent("scripts/remote_test_servers.py").path,
    ]
    let input = Pipe()
    let output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = FileHandle.standardError
    do { try process.run() } catch {
      warn("cannot start scripts/remote_test_servers.py (python3 missing?): \(error)")
      return nil
    }
    keepAlive = input
    var line = Data()
    while !line.contains(0x0A) {
      let chunk = output.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line.append(chunk)
    }
    guard
      let object = try? JSONSerialization.jsonObject(
        with: line.prefix { $0 != 0x0A }) as? [String: Any],
      let fault = object["fault"] as? Int, let second = object["second"] as? Int
    else {
      warn("scripts/remote_test_servers.py did not report its ports")
      return nil
    }
    let servers = RemoteServers(
      nginx: object["nginx"] as? Int, accessLog: object["accessLog"] as? String, fault: fault,
      second: second, moto: object["moto"] as? Int, token: object["token"] as? String ?? "")
    if servers.nginx == nil { warn("nginx is not installed: the nginx tests are SKIPPED") }
    if servers.moto == nil { warn("moto is not installed: the S3 tests are SKIPPED") }
    return servers
  }

  static func warn(_ message: String) {
    FileHandle.standardError.write(Data("\n*** RemoteTests: \(message) ***\n\n".utf8))
  }

  var faultURL: String { "http://127.0.0.1:\(fault)" }
  var hubEnvironment: [String: String] {
    ["HF_ENDPOINT": faultURL, "HF_TOKEN": "", "HF_HOME": "/nonexistent", "HF_HUB_OFFLINE": ""]
  }

  /// nginx's URL for a fixture, with a query that tells this request's lines in the log apart.
  func nginxURL(_ fixture: String, tag: String) -> String? {
    nginx.map {
      "http://127.0.0.1:\($0)/\(fixture)?t=\(tag.replacingOccurrences(of: "/", with: "_"))"
    }
  }

  /// The (requests, bytes sent) nginx logged for URLs carrying `?t=tag`.
  func logged(tag: String) -> (requests: Int, bytes: Int) {
    guard let accessLog, let text = try? String(contentsOfFile: accessLog, encoding: .utf8) else {
      return (0, 0)
    }
    var requests = 0
    var bytes = 0
    for line in text.split(separator: "\n") {
      let fields = line.split(separator: " ")
      let wanted = "?t=" + tag.replacingOccurrences(of: "/", with: "_")
      guard fields.count >= 4, fields[1].hasSuffix(wanted) else { continue }
      requests += 1
      bytes += Int(fields[3]) ?? 0
    }
    return (requests, bytes)
  }
}

/// A report's JSON without what depends on where it was read from.
func portableJSON(_ text: String) -> NSDictionary? {
  guard var object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
  else { return nil }
  object["file"] = nil
  object["source"] = nil
  return object as NSDictionary
}

@Suite struct RemoteHTTPTests {
  static let containers = [
    "cifar_cnn.pt", "cifar_cnn_p4.pt", "training_checkpoint.pt", "whole_model.pt",
    "whole_model_legacy.pt", "scripted.pt", "quantized.pt", "sparse.pt", "tied.pt", "views.pt",
    "legacy_cnn.pt", "legacy_p4.pt", "legacy_tar.pt", "pre16_style.pth", "lightning.ckpt",
    "small_cnn.safetensors", "sharded/model.safetensors.index.json",
    "sharded_bin/pytorch_model.bin.index.json", "sharded_llama_bin/pytorch_model.bin.index.json",
    "numpy/weights.npy", "numpy/arrays.npz", "numpy/compressed.npz", "meta.pt", "dtypes.pt",
  ]

  /// Every container kind gives the same JSON over HTTP as from disk, for summary and tensors.
  @Test(arguments: containers)
  func sameJSONAsLocal(_ fixture: String) throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL(fixture, tag: "same-\(fixture)")
    else { return RemoteServers.warn("SKIPPED sameJSONAsLocal(\(fixture))") }
    for command in ["summary", "tensors"] {
      let local = try runPTInspect([command, "--format", "json", "Fixtures/" + fixture])
      let remote = try runPTInspect([command, "--format", "json", url])
      #expect(local.status == 0 && remote.status == 0, "\(fixture): \(remote.stderr)")
      #expect(portableJSON(remote.stdout) != nil)
      #expect(portableJSON(local.stdout) == portableJSON(remote.stdout), "\(command) \(fixture)")
    }
  }

  /// The bytes a zip's summary fetches: under 1.5x (central directory + data.pkl) + 64 KiB,
  /// as nginx counts them; the JSON's `source` says the same, and the requests are few.
  @Test(arguments: [
    // The first bytes, the last 64 KiB, data.pkl with the records beside it (when not already
    // in one of those); a file under 68 KiB in two; safetensors' header in the first answer.
    ("cifar_cnn.pt", 2), ("training_checkpoint.pt", 3), ("whole_model.pt", 3), ("scripted.pt", 2),
    ("tied.pt", 2), ("small_cnn.safetensors", 1),
  ])
  func summaryFetchesOnlyHeaders(_ fixture: String, _ requests: Int) throws {
    let tag = "budget-\(fixture)"
    guard let s = RemoteServers.shared, let url = s.nginxURL(fixture, tag: tag) else {
      return RemoteServers.warn("SKIPPED summaryFetchesOnlyHeaders(\(fixture))")
    }
    let r = try runPTInspect(["summary", "--format", "json", url])
    #expect(r.status == 0, "\(r.stderr)")
    let log = s.logged(tag: tag)
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let source = object?["source"] as? [String: Any]
    #expect(source?["bytesFetched"] as? Int == log.bytes)
    #expect(source?["requests"] as? Int == log.requests)
    #expect(source?["url"] as? String == url)
    #expect((source?["etag"] as? String)?.hasPrefix("\"") == true)
    #expect(log.requests == requests, "\(fixture): \(log.requests) requests")
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(fixture))))
    if fixture.hasSuffix(".safetensors") {
      let header = Int(
        bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.1) << (8 * UInt64($1.0)) })
      #expect(log.bytes <= max(8 + header, 64 << 10), "\(fixture): \(log.bytes) bytes")
    } else {
      let (directory, pickle) = try zipDirectoryAndPickle(bytes)
      let limit = (3 * (directory + pickle)) / 2 + 65_536
      #expect(log.bytes <= limit, "\(fixture): \(log.bytes) bytes > \(limit)")
    }
  }

  /// The sharded index: the index and one request per shard, all shards' bytes under the files'.
  @Test func shardedRequests() throws {
    let tag = "sharded-requests"
    guard let s = RemoteServers.shared,
      let url = s.nginxURL("sharded/model.safetensors.index.json", tag: tag)
    else { return RemoteServers.warn("SKIPPED shardedRequests") }
    let r = try runPTInspect(["summary", "--format", "json", url])
    #expect(r.status == 0, "\(r.stderr)")
    // The shards are fetched without the query (relative to the index's path): count by the
    // JSON, which counts them all, and by the log for the index.
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let source = object?["source"] as? [String: Any]
    #expect(source?["requests"] as? Int == 3)
    #expect(s.logged(tag: tag).requests == 1)
  }

  /// The table's footer line says what it cost.
  @Test func tableFooter() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "footer") else {
      return RemoteServers.warn("SKIPPED tableFooter")
    }
    let r = try runPTInspect([url])
    #expect(r.status == 0)
    let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
    let log = s.logged(tag: "footer")
    let digits = String(log.bytes)
    let grouped = digits.enumerated().map { i, c in
      (i > 0 && (digits.count - i) % 3 == 0 ? "," : "") + String(c)
    }.joined()
    #expect(
      last.hasPrefix("fetched \(grouped) bytes (0.3% of 22.3 MiB) in 2 requests, "), "\(last)")
    #expect(last.hasSuffix(" s: \(url)"))
  }

  /// stats streams the storages by range and computes what it computes from disk.
  @Test func statsSameAsLocal() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "stats") else {
      return RemoteServers.warn("SKIPPED statsSameAsLocal")
    }
    let local = try runPTInspect(["stats", "--format", "json", "Fixtures/cifar_cnn.pt"])
    let remote = try runPTInspect(["stats", "--format", "json", url])
    #expect(remote.status == 0, "\(remote.stderr)")
    #expect(portableJSON(local.stdout) == portableJSON(remote.stdout))
    // Each storage once, in windows, plus the headers: about the file, never twice it.
    let sent = s.logged(tag: "stats").bytes
    #expect(sent >= 23_412_544 && sent < 23_423_182 + 70_000, "\(sent) bytes")
  }

  /// Local and remote mix: diff of a file with itself over HTTP finds nothing.
  @Test func diffLocalAndRemote() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "diff") else {
      return RemoteServers.warn("SKIPPED diffLocalAndRemote")
    }
    let r = try runPTInspect(["diff", "--values", "Fixtures/cifar_cnn.pt", url])
    #expect(r.status == 0, "\(r.stdout) \(r.stderr)")
    let changed = try runPTInspect(["diff", "Fixtures/tied.pt", url])
    #expect(changed.status == 1)
    // Each side says what it cost: the remote one as nginx counted it, values included.
    let json = try runPTInspect([
      "diff", "--values", "--format", "json", "Fixtures/cifar_cnn.pt", url,
    ])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    #expect((object?["before"] as? [String: Any])?["source"] is NSNull)
    let after = (object?["after"] as? [String: Any])?["source"] as? [String: Any]
    #expect(after?["url"] as? String == url)
    #expect(((after?["bytesFetched"] as? NSNumber)?.int64Value ?? 0) > 20_000_000, "values read")
    #expect(r.stdout.contains("fetched "), "the table's cost line")
  }

  /// budget over HTTP: the verdict and, in JSON, what reading the file cost.
  @Test func budgetRemoteSaysWhatItCost() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "budget-cost")
    else {
      return RemoteServers.warn("SKIPPED budgetRemoteSaysWhatItCost")
    }
    let r = try runPTInspect(["budget", "--max-params", "25M", "--format", "json", url])
    #expect(r.status == 0, "\(r.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    let source = object?["source"] as? [String: Any]
    #expect(source?["bytesFetched"] as? Int == s.logged(tag: "budget-cost").bytes)
  }

  /// scan over HTTP: the same verdict as from disk, from the directory and the pickles.
  @Test func scanRemote() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "scan") else {
      return RemoteServers.warn("SKIPPED scanRemote")
    }
    let r = try runPTInspect(["scan", url])
    #expect(r.status == 0, "\(r.stderr)")
    #expect(r.stdout.contains("verdict: SAFE"))
    #expect(r.stdout.contains("fetched "), "the table says what the scan cost")
    #expect(s.logged(tag: "scan").bytes < 100_000)
    // The JSON says it too, as the summary's `source` does; null for a local file.
    let json = try runPTInspect(["scan", "--format", "json", url])
    let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
    let source = try #require(object?["source"] as? [String: Any])
    #expect(source["url"] as? String == url)
    #expect(((source["bytesFetched"] as? NSNumber)?.int64Value ?? 0) > 0)
    #expect(((source["requests"] as? NSNumber)?.intValue ?? 0) >= 1)
    let local = try runPTInspect(["scan", "--format", "json", Fixtures.relative("cifar_cnn.pt")])
    let localObject =
      try JSONSerialization.jsonObject(with: Data(local.stdout.utf8)) as? [String: Any]
    #expect(localObject?["source"] is NSNull)
  }

  /// --offline and HF_HUB_OFFLINE=1 refuse the network: no request reaches the server.
  @Test func offline() throws {
    guard let s = RemoteServers.shared, let url = s.nginxURL("cifar_cnn.pt", tag: "offline") else {
      return RemoteServers.warn("SKIPPED offline")
    }
    let message =
      "ptinspect: \(url): offline (--offline or HF_HUB_OFFLINE=1): the network is not used\n"
    let flag = try runPTInspect(["--offline", url])
    #expect(flag.status == 2)
    #expect(flag.stderr == message)
    let env = try runPTInspect(["tensors", url], environment: ["HF_HUB_OFFLINE": "1"])
    #expect(env.status == 2)
    #expect(env.stderr == message)
    #expect(s.logged(tag: "offline").requests == 0)
  }

  /// A remote repository on the Hub is a checkpoint: its sharded index, as from disk.
  @Test func hubShardedSameAsLocalFolder() throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED hub") }
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/sharded"])
    let remote = try runPTInspect(
      ["summary", "--format", "json", "hf://test/sharded"], environment: s.hubEnvironment)
    #expect(remote.status == 0, "\(remote.stderr)")
    #expect(portableJSON(local.stdout) == portableJSON(remote.stdout))
    let object = try JSONSerialization.jsonObject(with: Data(remote.stdout.utf8)) as? [String: Any]
    #expect(object?["file"] as? String == "hf://test/sharded")
  }
}

/// The body of a GET, through Python's urllib (Foundation on Linux has no HTTP without
/// FoundationNetworking).
func httpGet(_ url: String) throws -> String {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
  process.arguments = [
    "python3", "-c",
    "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
    url,
  ]
  let out = Pipe()
  process.standardOutput = out
  try process.run()
  let data = out.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  return String(decoding: data, as: UTF8.self)
}

/// The central directory's size and data.pkl's stored size, from a zip's bytes.
func zipDirectoryAndPickle(_ b: [UInt8]) throws -> (Int, Int) {
  func u16(_ i: Int) -> Int { Int(b[i]) | Int(b[i + 1]) << 8 }
  func u32(_ i: Int) -> Int { u16(i) | u16(i + 2) << 16 }
  guard
    let end = stride(from: b.count - 22, through: 0, by: -1).first(where: { u32($0) == 0x0605_4b50 }
    )
  else { throw RunError.binaryNotFound("no end record") }
  let size = u32(end + 12)
  var at = u32(end + 16)
  var pickle = 0
  while at < b.count - 46, u32(at) == 0x0201_4b50 {
    let nameLength = u16(at + 28)
    let name = String(decoding: b[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
    if name.hasSuffix("data.pkl") { pickle = u32(at + 20) }
    at += 46 + nameLength + u16(at + 30) + u16(at + 32)
  }
  return (size, pickle)
}

@Suite struct RemoteFaultTests {
  /// Each fault: its exact message and exit 2, in bounded time.
  static let faults: [(route: String, arguments: [String], message: String)] = [
    (
      "norange", [],
      "the server does not support range requests (it answered 200 with the whole file, 23423182 bytes): ptinspect stopped the transfer; --download SIZE allows a full download up to SIZE"
    ),
    (
      "drop", ["--retries", "1"],
      "the connection was dropped (failure when receiving data from the peer)"
    ),
    (
      "truncated", ["--retries", "1"],
      "the answer was cut short: the server sent fewer bytes than it announced (truncated body)"
    ),
    ("etag", [], "the file changed on the server while it was read (ETag \"v1\", then \"v2\")"),
    (
      "416", [],
      "the server refused bytes 23357549-23423181 of 23423182 (416 Range Not Satisfiable)"
    ),
    ("404", [], "not found on the server (404)"),
    (
      "auth", [],
      "access denied (401 Unauthorized): a gated or private repository needs a token: set HF_TOKEN or run `huggingface-cli login`"
    ),
    ("slow", ["--timeout", "1", "--retries", "0"], "timed out (timeout was reached)"),
    ("busy", ["--retries", "1"], "the server failed (503), retries exhausted"),
  ]

  @Test(arguments: faults.indices)
  func fault(_ i: Int) throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED faults") }
    let (route, arguments, message) = Self.faults[i]
    let url = "\(s.faultURL)/\(route)/cifar_cnn.pt"
    let r = try runPTInspect(["summary"] + arguments + [url], environment: s.hubEnvironment)
    #expect(r.status == 2, "\(route): \(r.stdout)")
    #expect(r.stderr == "ptinspect: \(url): \(message)\n")
  }

  /// Transient failures are retried: a dropped connection, a 503, a 429 with Retry-After.
  @Test(arguments: ["droponce", "flaky", "ratelimit"])
  func retried(_ route: String) throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED retries") }
    let r = try runPTInspect(
      ["summary", "--format", "json", "\(s.faultURL)/\(route)/tied.pt"],
      environment: s.hubEnvironment)
    #expect(r.status == 0, "\(route): \(r.stderr)")
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/tied.pt"])
    #expect(portableJSON(local.stdout) == portableJSON(r.stdout))
  }

  /// --download allows a full transfer from a server without Range support, up to its size.
  @Test func downloadAllowsFullTransfer() throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED download") }
    let url = "\(s.faultURL)/norange/tied.pt"
    let r = try runPTInspect(["summary", "--download", "1MB", "--format", "json", url])
    #expect(r.status == 0, "\(r.stderr)")
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/tied.pt"])
    #expect(portableJSON(local.stdout) == portableJSON(r.stdout))
    let small = try runPTInspect(["summary", "--download", "1KB", url])
    #expect(small.status == 2)
    #expect(small.stderr.contains("does not support range requests"))
  }

  /// 401 without a token; with HF_TOKEN the same URL reads.
  @Test func unauthorizedThenToken() throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED auth") }
    var env = s.hubEnvironment
    env["HF_TOKEN"] = s.token
    let r = try runPTInspect(["summary", "\(s.faultURL)/auth/tied.pt"], environment: env)
    #expect(r.status == 0, "\(r.stderr)")
    #expect(!r.stderr.contains(s.token) && !r.stdout.contains(s.token))
  }

  /// A redirect to another host: followed, and the token never sent there.
  @Test func redirectDropsToken() throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED redirect") }
    var env = s.hubEnvironment
    env["HF_TOKEN"] = s.token
    let r = try runPTInspect(
      ["summary", "--format", "json", "\(s.faultURL)/redirect/cifar_cnn.pt"], environment: env)
    #expect(r.status == 0, "\(r.stderr)")
    let seen = try httpGet(s.faultURL + "/_seen")
    #expect(seen.hasPrefix("["))
    #expect(!seen.contains(s.token), "the second host saw the token: \(seen)")
    let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
    #expect((object?["source"] as? [String: Any])?["requests"] as? Int == 3)
  }

  /// A host that does not resolve and a port nobody listens on: one line, exit 2.
  @Test func connectionFailures() throws {
    let refused = try runPTInspect(["--retries", "0", "http://127.0.0.1:9/model.pt"])
    #expect(refused.status == 2)
    #expect(refused.stderr.hasPrefix("ptinspect: http://127.0.0.1:9/model.pt: cannot connect ("))
    let dns = try runPTInspect(["--retries", "0", "http://no-such-host.invalid/model.pt"])
    #expect(dns.status == 2)
    #expect(
      dns.stderr.hasPrefix(
        "ptinspect: http://no-such-host.invalid/model.pt: cannot resolve the host name ("))
  }
}

@Suite struct RemoteHubTests {
  func run(_ arguments: [String], token: Bool = false) throws -> RunResult? {
    guard let s = RemoteServers.shared else {
      RemoteServers.warn("SKIPPED hub")
      return nil
    }
    var env = s.hubEnvironment
    if token { env["HF_TOKEN"] = s.token }
    return try runPTInspect(arguments, environment: env)
  }

  @Test func repositoryCheckpointAsLocal() throws {
    guard let r = try run(["summary", "--format", "json", "hf://test/cifar"]) else { return }
    #expect(r.status == 0, "\(r.stderr)")
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/cifar_cnn.pt"])
    #expect(portableJSON(local.stdout) == portableJSON(r.stdout))
  }

  @Test func fileRevisionDatasetAndBinIndex() throws {
    guard let file = try run(["tensors", "hf://test/cifar@v1.0/cifar_cnn.pt"]) else { return }
    #expect(file.status == 0, "\(file.stderr)")
    let bin = try run(["summary", "--format", "json", "hf://test/sharded-bin@refs%2Fpr%2F1"])
    #expect(bin?.status == 0, "\(bin?.stderr ?? "")")
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/sharded_bin"])
    #expect(portableJSON(local.stdout) == portableJSON(bin?.stdout ?? ""))
    let dataset = try run(["summary", "hf://datasets/test/data"])
    #expect(dataset?.status == 0, "\(dataset?.stderr ?? "")")
    #expect(dataset?.stdout.hasPrefix("hf://datasets/test/data: npy, 176 B, 1 tensors") == true)
  }

  @Test func privateNeedsToken() throws {
    guard let denied = try run(["hf://test/private"]) else { return }
    #expect(denied.status == 2)
    #expect(
      denied.stderr
        == "ptinspect: hf://test/private: access denied (401) by the Hub API: a gated or private repository needs a token: set HF_TOKEN or run `huggingface-cli login`\n"
    )
    let allowed = try run(["hf://test/private"], token: true)
    #expect(allowed?.status == 0, "\(allowed?.stderr ?? "")")
  }

  /// The token file the Hugging Face CLI writes ($HF_HOME/token) is read when HF_TOKEN is unset.
  @Test func tokenFile() throws {
    guard let s = RemoteServers.shared else { return RemoteServers.warn("SKIPPED hub") }
    let home = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-hf-home-\(getpid())")
    try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: home) }
    try (s.token + "\n").write(
      to: home.appendingPathComponent("token"), atomically: true, encoding: .utf8)
    var env = s.hubEnvironment
    env["HF_TOKEN"] = nil
    env["HF_HOME"] = home.path
    let process = try runPTInspect(
      ["hf://test/private"], environment: env.merging(["HF_TOKEN": ""]) { $1 })
    #expect(process.status == 0, "\(process.stderr)")
  }

  @Test func repositoryErrors() throws {
    guard let s = RemoteServers.shared, let many = try run(["hf://test/many"]) else { return }
    #expect(many.status == 2)
    #expect(
      many.stderr
        == "ptinspect: hf://test/many: the repository holds 2 checkpoints (cifar_cnn.pt, tied.pt): name one (hf://test/many/FILE)\n"
    )
    let missing = try run(["hf://test/nothere"])
    #expect(missing?.status == 2)
    #expect(
      missing?.stderr
        == "ptinspect: hf://test/nothere: no such repository or revision on the Hub (404 from \(s.faultURL)/api/models/test/nothere/revision/main); a private repository needs HF_TOKEN\n"
    )
    let file = try run(["hf://test/cifar/missing.pt"])
    #expect(file?.status == 2)
    #expect(
      file?.stderr == "ptinspect: hf://test/cifar/missing.pt: not found on the server (404)\n")
    let bad = try run(["hf://justone"])
    #expect(bad?.status == 2)
    #expect(
      bad?.stderr
        == "ptinspect: hf://justone: not a Hugging Face path: write hf://OWNER/REPO[@REVISION][/PATH]\n"
    )
  }

  /// When the API fails, HEAD probes of the usual names find the checkpoint.
  @Test func probesWithoutAPI() throws {
    guard let r = try run(["summary", "--retries", "0", "--format", "json", "hf://test/noapi"])
    else {
      return
    }
    #expect(r.status == 0, "\(r.stderr)")
    let local = try runPTInspect(["summary", "--format", "json", "Fixtures/cifar_cnn.pt"])
    #expect(portableJSON(local.stdout) == portableJSON(r.stdout))
  }
}

@Suite struct RemoteS3Tests {
  func environment(_ s: RemoteServers, _ extra: [String: String] = [:]) -> [String: String]? {
    guard let moto = s.moto else { return nil }
    return [
      "AWS_ENDPOINT_URL": "http://127.0.0.1:\(moto)", "AWS_ACCESS_KEY_ID": "testing",
      "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1", "AWS_PROFILE": "",
    ].merging(extra) { $1 }
  }

  @Test(arguments: [
    ("cifar_cnn.pt", "cifar_cnn.pt"), ("small_cnn.safetensors", "small_cnn.safetensors"),
    ("sharded/model.safetensors.index.json", "sharded"), ("legacy_cnn.pt", "legacy_cnn.pt"),
  ])
  func sameAsLocal(_ key: String, _ local: String) throws {
    guard let s = RemoteServers.shared, let env = environment(s) else {
      return RemoteServers.warn("SKIPPED S3 (moto missing)")
    }
    let remote = try runPTInspect(
      ["summary", "--format", "json", "s3://ptinspect/\(key)"], environment: env)
    #expect(remote.status == 0, "\(remote.stderr)")
    let disk = try runPTInspect(["summary", "--format", "json", "Fixtures/" + local])
    #expect(portableJSON(disk.stdout) == portableJSON(remote.stdout))
  }

  @Test func errorsAndProfile() throws {
    guard let s = RemoteServers.shared, let env = environment(s) else {
      return RemoteServers.warn("SKIPPED S3 (moto missing)")
    }
    let missing = try runPTInspect(["s3://ptinspect/nothere.pt"], environment: env)
    #expect(missing.status == 2)
    #expect(
      missing.stderr == "ptinspect: s3://ptinspect/nothere.pt: not found on the server (404)\n")
    let bad = try runPTInspect(["s3://ptinspect"], environment: env)
    #expect(bad.status == 2)
    #expect(bad.stderr == "ptinspect: s3://ptinspect: not an S3 path: write s3://BUCKET/KEY\n")
    // Keys from a profile in the shared credentials file.
    let file = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-aws-\(getpid())")
    try "[other]\naws_access_key_id = testing\naws_secret_access_key = testing\n".write(
      to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    var profile = env
    profile["AWS_ACCESS_KEY_ID"] = ""
    profile["AWS_SECRET_ACCESS_KEY"] = ""
    profile["AWS_PROFILE"] = "other"
    profile["AWS_SHARED_CREDENTIALS_FILE"] = file.path
    let r = try runPTInspect(["s3://ptinspect/small_cnn.safetensors"], environment: profile)
    #expect(r.status == 0, "\(r.stderr)")
  }
}

@Suite struct ShardIndexLoopTests {
  /// An index that lists itself as a shard (a server that answers every path with the index
  /// does the same): one line and exit 2, not an endless recursion.
  @Test func indexNamingItself() throws {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-self-index-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    try #"{"weight_map": {"a": "model.safetensors.index.json"}}"#.write(
      to: folder.appendingPathComponent("model.safetensors.index.json"), atomically: true,
      encoding: .utf8)
    let r = try runPTInspect(["model.safetensors.index.json"], directory: folder.path)
    #expect(r.status == 2)
    #expect(
      r.stderr
        == "ptinspect: model.safetensors.index.json: shard 'model.safetensors.index.json' is itself an index\n"
    )
  }
}
