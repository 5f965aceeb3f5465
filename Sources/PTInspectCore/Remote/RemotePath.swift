// RemotePath.swift: checkpoint paths that are not on this machine: `http(s)://` URLs,
// `s3://BUCKET/KEY` and `hf://[datasets/|spaces/]OWNER/REPO[@REVISION][/PATH]`, turned into the
// URL and credentials to fetch them with. A repository without a path stands for its checkpoint,
// found with the Hub API (or, when the API does not answer, HEAD probes of the usual names).

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// A remote checkpoint path.
public enum RemotePath {
  /// Whether `path` names a remote file (`http://`, `https://`, `s3://`, `hf://`).
  public static func isRemote(_ path: String) -> Bool {
    ["http://", "https://", "s3://", "hf://"].contains { path.lowercased().hasPrefix($0) }
  }

  /// A Hub path's parts.
  struct HubPath: Equatable {
    /// `models`, `datasets` or `spaces`.
    var kind: String
    var repo: String
    var revision: String
    /// The file inside the repository; "" for the repository itself.
    var file: String
    /// `@REVISION` was written.
    var revisionGiven: Bool
  }

  /// Parses `hf://[datasets/|spaces/]OWNER/REPO[@REVISION][/PATH]`.
  static func hubPath(_ path: String) throws(CheckpointError) -> HubPath {
    var parts = path.dropFirst("hf://".count).split(
      separator: "/", omittingEmptySubsequences: false
    )
    .map(String.init)
    var kind = "models"
    if let first = parts.first, ["datasets", "spaces", "models"].contains(first) {
      kind = first
      parts.removeFirst()
    }
    guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty else {
      throw CheckpointError(
        file: path, "not a Hugging Face path: write hf://OWNER/REPO[@REVISION][/PATH]")
    }
    var name = parts[1]
    var revision = "main"
    var given = false
    if let at = name.firstIndex(of: "@") {
      revision = String(name[name.index(after: at)...]).percentDecoded ?? "main"
      name = String(name[..<at])
      given = true
      guard !revision.isEmpty, !name.isEmpty else {
        throw CheckpointError(
          file: path, "not a Hugging Face path: an empty repository or revision")
      }
    }
    let file = parts.dropFirst(2).joined(separator: "/")
    return HubPath(
      kind: kind, repo: parts[0] + "/" + name, revision: revision, file: file,
      revisionGiven: given)
  }

  /// `RFC 3986` unreserved characters (and `/` when `keepSlash`) kept, the rest percent-encoded.
  static func encode(_ s: String, keepSlash: Bool = true) -> String {
    s.percentEncoded(keeping: .unreserved(keepSlash: keepSlash))
  }

  /// The URL prefix of a repository on the Hub (`ENDPOINT/datasets/OWNER/REPO`).
  static func hubRepoURL(_ hub: HubPath, settings: RemoteSettings) -> String {
    settings.hfEndpoint + (hub.kind == "models" ? "" : "/" + hub.kind) + "/" + hub.repo
  }

  static func hubAuth(_ settings: RemoteSettings) -> [String] {
    settings.hfToken.map { ["Authorization: Bearer \($0)"] } ?? []
  }

  static let hubHint =
    "a gated or private repository needs a token: set HF_TOKEN or run `huggingface-cli login`"

  /// The URL and credentials for a remote file path.
  static func target(_ path: String, settings: RemoteSettings) throws(CheckpointError)
    -> RemoteTarget
  {
    let lower = path.lowercased()
    if lower.hasPrefix("hf://") {
      let hub = try hubPath(path)
      guard !hub.file.isEmpty else {
        throw CheckpointError(file: path, "a repository, not a file")
      }
      return RemoteTarget(
        url: hubRepoURL(hub, settings: settings) + "/resolve/"
          + encode(hub.revision, keepSlash: false) + "/" + encode(hub.file),
        authHeaders: hubAuth(settings), authHint: hubHint)
    }
    if lower.hasPrefix("s3://") {
      let rest = path.dropFirst(5)
      guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex,
        rest.index(after: slash) != rest.endIndex
      else {
        throw CheckpointError(file: path, "not an S3 path: write s3://BUCKET/KEY")
      }
      let bucket = String(rest[..<slash])
      let key = String(rest[rest.index(after: slash)...])
      let region = settings.awsRegion
      // An S3-compatible store (AWS_ENDPOINT_URL) is addressed path-style.
      let url =
        settings.awsEndpoint.map { "\($0)/\(encode(bucket))/\(encode(key))" }
        ?? "https://\(bucket).s3.\(region).amazonaws.com/\(encode(key))"
      var target = RemoteTarget(
        url: url,
        authHint:
          "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile in ~/.aws/credentials (AWS_PROFILE)"
      )
      if let credentials = settings.awsCredentials {
        target.sigV4 = ("aws:amz:\(region):s3", credentials.key, credentials.secret)
        if let token = credentials.sessionToken {
          target.authHeaders = ["x-amz-security-token: \(token)"]
        }
      }
      return target
    }
    var target = RemoteTarget(url: path)
    // A Hub URL written out gets the Hub token, as the hf:// path would.
    if HTTPClient.origin(path) == HTTPClient.origin(settings.hfEndpoint) {
      target.authHeaders = hubAuth(settings)
      target.authHint = hubHint
    }
    return target
  }

  /// Opens the remote file at `path` as a byte source; `meter` counts its requests.
  static func source(
    _ path: String, settings: RemoteSettings, meter: TransferMeter = TransferMeter()
  ) throws(CheckpointError) -> HTTPSource {
    let target = try target(path, settings: settings)
    // Enough for most safetensors and index headers in the first answer; a zip needs only its
    // first bytes here (the end of the file comes next).
    let name = String(path.lowercased().prefix { $0 != "?" && $0 != "#" })
    let firstRead = name.hasSuffix(".safetensors") || name.hasSuffix(".json") ? 64 << 10 : 4 << 10
    do {
      return try HTTPSource(
        name: path, target: target, settings: settings, meter: meter, firstRead: firstRead)
    } catch {
      throw CheckpointError(file: path, .source(error))
    }
  }

  /// For `hf://OWNER/REPO[@REVISION]` without a file: the path of the repository's checkpoint
  /// (`hf://OWNER/REPO@REV/model.safetensors.index.json`, ...). Nil for other paths.
  static func repositoryCheckpoint(
    _ path: String, settings: RemoteSettings, meter: TransferMeter
  ) throws(CheckpointError) -> String? {
    guard path.lowercased().hasPrefix("hf://") else { return nil }
    let hub = try hubPath(path)
    guard hub.file.isEmpty else { return nil }
    var base = path
    while base.hasSuffix("/") { base.removeLast() }
    let client = HTTPClient(settings: settings, meter: meter)
    let auth = hubAuth(settings)
    func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, message) }
    let api =
      settings.hfEndpoint + "/api/\(hub.kind)/\(hub.repo)/revision/"
      + encode(hub.revision, keepSlash: false)
    var listed: [String]?
    do {
      let r = try client.send(HTTPRequest(url: api, authHeaders: auth, maxBody: 64 << 20))
      switch r.status {
      case 200:
        listed = (try? JSONReader().parse(r.body))?.object?.first { $0.key == "siblings" }?.value
          .array?.compactMap { $0.object?.first { $0.key == "rfilename" }?.value.string }
      case 401, 403:
        throw fail("access denied (\(r.status)) by the Hub API: \(hubHint)")
      case 404:
        throw fail(
          "no such repository or revision on the Hub (404 from \(api))"
            + (auth.isEmpty ? "; a private repository needs HF_TOKEN" : ""))
      default: break  // fall back to probing
      }
    } catch let e as HTTPTransportError {
      if settings.offline { throw fail(e.message) }
    } catch let e as CheckpointError {
      throw e
    } catch {}
    if let files = listed {
      return try choose(files, base: base, path: path)
    }
    // No listing: probe the usual names, best first.
    for name in preferred {
      let url =
        hubRepoURL(hub, settings: settings) + "/resolve/"
        + encode(hub.revision, keepSlash: false) + "/" + name
      if let r = try? client.send(HTTPRequest(url: url, head: true, authHeaders: auth)),
        r.status == 200
      {
        return base + "/" + name
      }
    }
    throw fail(
      "no checkpoint found in the repository (tried \(preferred.joined(separator: ", "))): name the file (hf://OWNER/REPO/FILE)"
    )
  }

  /// The names a Hugging Face repository's checkpoint has, best first.
  static let preferred = [
    "model.safetensors.index.json", "model.safetensors", "pytorch_model.bin.index.json",
    "pytorch_model.bin", "consolidated.safetensors", "model.pt", "model.pth", "model.ckpt",
  ]

  /// The checkpoint among a repository's files: a preferred name, else its one top-level index,
  /// else its one top-level checkpoint file.
  static func choose(_ files: [String], base: String, path: String) throws(CheckpointError)
    -> String
  {
    let set = Set(files)
    if let best = preferred.first(where: set.contains) { return base + "/" + best }
    let top = files.filter { !$0.contains("/") }.sorted()
    let indexes = top.filter { $0.hasSuffix(".index.json") }
    if indexes.count == 1 { return base + "/" + indexes[0] }
    let checkpoints = top.filter { name in
      guard let dot = name.lastIndex(of: ".") else { return false }
      return CheckpointFolder.checkpointExtensions.contains(
        name[name.index(after: dot)...].lowercased())
    }
    if indexes.isEmpty, checkpoints.count == 1 { return base + "/" + checkpoints[0] }
    let found = indexes.isEmpty ? checkpoints : indexes
    throw CheckpointError(
      file: path,
      found.isEmpty
        ? "the repository holds no checkpoint file (\(files.count) files, none a checkpoint)"
        : "the repository holds \(found.count) checkpoints (\(found.prefix(5).joined(separator: ", "))\(found.count > 5 ? ", ..." : "")): name one (\(base)/FILE)"
    )
  }
}
