// RemoteSettings.swift: how remote checkpoints are fetched (timeouts, retries, --offline,
// --download), and the credentials the environment gives: HF_TOKEN or the Hugging Face token
// file, AWS keys from the environment or the shared credentials and config files.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#endif

/// Settings for fetching remote checkpoints, set once from the command line.
public struct RemoteSettings: Sendable {
  /// Seconds to connect.
  public var connectTimeout: Double = 10
  /// Seconds a transfer may stall (under 1 byte a second) before it is cut.
  public var timeout: Double = 30
  /// Retries after a 5xx, a 429 or a dropped connection.
  public var retries = 3
  /// Seconds before the first retry; doubled on each next one.
  public var retryDelay: Double = 0.5
  /// Longest wait before a retry (Retry-After included).
  public var maxRetryWait: Double = 30
  /// Refuse the network (`--offline`, `HF_HUB_OFFLINE=1`).
  public var offline = false
  /// When a server ignores Range: download the whole file if it is at most this many bytes
  /// (`--download SIZE`); 0 refuses.
  public var maxDownload: Int64 = 0
  /// Most shards of one sharded checkpoint fetched at a time.
  public var concurrency = 8
  /// The environment credentials and endpoints are read from.
  public var environment: [String: String] = ProcessInfo.processInfo.environment

  public init() {}

  /// The settings used by `Checkpoint.open` for remote paths.
  public static var current: RemoteSettings {
    get { lock.withLock { stored } }
    set { lock.withLock { stored = newValue } }
  }
  private static let lock = Lock()
  nonisolated(unsafe) private static var stored: RemoteSettings = {
    var s = RemoteSettings()
    s.applyEnvironment()
    return s
  }()

  /// `HF_HUB_OFFLINE=1` (or `true`/`yes`) turns offline on.
  public mutating func applyEnvironment() {
    if let v = environment["HF_HUB_OFFLINE"]?.lowercased(), ["1", "true", "yes", "on"].contains(v) {
      offline = true
    }
  }

  func backoff(_ attempt: Int) -> Double { retryDelay * pow(2, Double(attempt)) }

  // MARK: Hugging Face

  /// `HF_ENDPOINT`, default `https://huggingface.co`, without a trailing slash.
  var hfEndpoint: String {
    var e = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
    while e.hasSuffix("/") { e.removeLast() }
    return e
  }

  /// `HF_TOKEN`, else the token file the Hugging Face CLI writes (`HF_TOKEN_PATH`, else
  /// `$HF_HOME/token`, `HF_HOME` defaulting to `$XDG_CACHE_HOME/huggingface` or
  /// `~/.cache/huggingface`).
  var hfToken: String? {
    if let t = environment["HF_TOKEN"]?.trimming(.whitespacesAndNewlines),
      !t.isEmpty
    {
      return t
    }
    let home = environment["HOME"] ?? homeDirectory()
    let cache = environment["XDG_CACHE_HOME"] ?? home + "/.cache"
    let hfHome = environment["HF_HOME"] ?? cache + "/huggingface"
    let path = environment["HF_TOKEN_PATH"] ?? hfHome + "/token"
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    let token = text.trimming(.whitespacesAndNewlines)
    return token.isEmpty ? nil : token
  }

  // MARK: AWS

  /// AWS credentials for S3.
  struct AWSCredentials: Sendable {
    var key: String
    var secret: String
    var sessionToken: String?
  }

  var awsProfile: String {
    [environment["AWS_PROFILE"], environment["AWS_DEFAULT_PROFILE"]].compactMap { $0 }
      .first { !$0.isEmpty } ?? "default"
  }

  private var awsHome: String { (environment["HOME"] ?? homeDirectory()) + "/.aws" }

  /// The environment's keys, else the profile's in `~/.aws/credentials`
  /// (`AWS_SHARED_CREDENTIALS_FILE`), else in `~/.aws/config` (`AWS_CONFIG_FILE`).
  var awsCredentials: AWSCredentials? {
    if let key = environment["AWS_ACCESS_KEY_ID"],
      let secret = environment["AWS_SECRET_ACCESS_KEY"],
      !key.isEmpty, !secret.isEmpty
    {
      return AWSCredentials(
        key: key, secret: secret, sessionToken: environment["AWS_SESSION_TOKEN"])
    }
    let files = [
      (environment["AWS_SHARED_CREDENTIALS_FILE"] ?? awsHome + "/credentials", awsProfile),
      (
        environment["AWS_CONFIG_FILE"] ?? awsHome + "/config",
        awsProfile == "default" ? "default" : "profile " + awsProfile
      ),
    ]
    for (file, section) in files {
      let values = Self.iniSection(file, section)
      if let key = values["aws_access_key_id"], let secret = values["aws_secret_access_key"] {
        return AWSCredentials(key: key, secret: secret, sessionToken: values["aws_session_token"])
      }
    }
    return nil
  }

  /// `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region`, else `us-east-1`.
  var awsRegion: String {
    if let r = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"], !r.isEmpty {
      return r
    }
    let section = awsProfile == "default" ? "default" : "profile " + awsProfile
    return Self.iniSection(environment["AWS_CONFIG_FILE"] ?? awsHome + "/config", section)["region"]
      ?? "us-east-1"
  }

  /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL` (an S3-compatible store), without a
  /// trailing slash.
  var awsEndpoint: String? {
    guard var e = environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"], !e.isEmpty
    else { return nil }
    while e.hasSuffix("/") { e.removeLast() }
    return e
  }

  /// The `key = value` lines of `[section]` in an INI file (keys lower-cased).
  static func iniSection(_ path: String, _ section: String) -> [String: String] {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
    var inside = false
    var values: [String: String] = [:]
    for raw in text.split(whereSeparator: \.isNewline) {
      let line = raw.trimming(.whitespaces)
      if line.hasPrefix("#") || line.hasPrefix(";") || line.isEmpty { continue }
      if line.hasPrefix("[") {
        inside = line.dropFirst().dropLast().trimming(.whitespaces) == section
        continue
      }
      guard inside, let eq = line.firstIndex(of: "=") else { continue }
      let key = line[..<eq].trimming(.whitespaces).lowercased()
      values[key] = line[line.index(after: eq)...].trimming(.whitespaces)
    }
    return values
  }
}
