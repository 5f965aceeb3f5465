// HTTPSource.swift: a remote file as a byte source, read by HTTP range requests. A block cache
// keeps what was fetched and coalesces adjacent and overlapping reads; every answer's ETag and
// Last-Modified must match the first, so two ranges never come from two versions of the file.

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// How to reach one remote file.
struct RemoteTarget: Sendable {
  /// The URL requested (https://..., or the S3 or Hub URL a path resolved to).
  var url: String
  var authHeaders: [String] = []
  var sigV4: (provider: String, key: String, secret: String)?
  /// What a 401/403 answer should suggest.
  var authHint: String = ""
}

/// A file on an HTTP(S) server, read by range.
public final class HTTPSource: ByteSource, @unchecked Sendable {
  public let name: String
  public private(set) var size: Int64 = 0
  /// The validator of the first answer (ETag, else Last-Modified), nil when the server sent none.
  public private(set) var etag: String?
  private var lastModified: String?
  let target: RemoteTarget
  let meter: TransferMeter
  private let client: HTTPClient
  private let settings: RemoteSettings
  private let lock = Lock()
  /// Where the first answer came from, after redirects: later ranges are asked there.
  private var resolvedURL: String?
  /// Fetched bytes: disjoint, sorted, never adjacent (merged).
  private var segments: [(start: Int64, bytes: [UInt8])] = []
  /// The first failure: readers that probe with `try?` lose errors; `Checkpoint.open` reports it.
  public private(set) var failure: ByteSourceError?
  /// Reads longer than this are not kept in the cache (tensor data for stats).
  static let cacheLimit = 4 << 20
  /// Gaps up to this long between two missing ranges are fetched with them, in one request.
  static let coalesceGap: Int64 = 16 << 10

  /// Opens the file with a first request for its first `firstRead` bytes: the answer gives the
  /// size, the validator and whether the server honours Range.
  init(
    name: String, target: RemoteTarget, settings: RemoteSettings, meter: TransferMeter,
    firstRead: Int
  ) throws(ByteSourceError) {
    self.name = name
    self.target = target
    self.settings = settings
    self.meter = meter
    self.client = HTTPClient(settings: settings, meter: meter)
    let response = try send(0..<Int64(firstRead), first: true)
    switch response.status {
    case 206:
      guard let (start, end, total) = Self.contentRange(response.header("content-range")),
        start == 0
      else {
        throw remember("the server answered 206 without a usable Content-Range")
      }
      size = total
      try check(response, start: 0, count: end - start + 1)
      segments = [(Int64(0), response.body)]
    case 200:
      // No Range support: the whole file came (or started to).
      let length = Int64(response.header("content-length") ?? "") ?? -1
      if response.cutOff || (length >= 0 && Int64(response.body.count) != length) {
        throw remember(
          response.cutOff
            ? "the server does not support range requests (it answered 200 with the whole file\(length >= 0 ? ", \(length) bytes" : "")): ptinspect stopped the transfer; --download SIZE allows a full download up to SIZE"
            : "the server sent \(response.body.count) of \(length) bytes (truncated body)")
      }
      size = Int64(response.body.count)
      segments = size > 0 ? [(Int64(0), response.body)] : []
    case 416:
      // An empty file answers `bytes */0`.
      guard let total = Self.unsatisfiedTotal(response.header("content-range")), total == 0 else {
        throw remember("the server refused the first range (416 Range Not Satisfiable)")
      }
      size = 0
    default:
      throw remember(statusMessage(response.status), missing: response.status == 404)
    }
    etag = response.header("etag")
    lastModified = response.header("last-modified")
  }

  // MARK: ByteSource

  public func read(at offset: Int64, count: Int) throws(ByteSourceError) -> [UInt8] {
    try checkRange(offset, count)
    if count == 0 { return [] }
    lock.lock()
    defer { lock.unlock() }
    if let cached = cachedLocked(offset, count) { return cached }
    if count > Self.cacheLimit { return try fetchLocked(offset..<offset + Int64(count)) }
    for gap in missingLocked(offset..<offset + Int64(count)) {
      insertLocked(gap.lowerBound, try fetchLocked(gap))
    }
    guard let bytes = cachedLocked(offset, count) else {
      throw remember("internal: the cache lost a fetched range")
    }
    return bytes
  }

  public func withBytes<R>(
    at offset: Int64, count: Int, _ body: (UnsafeRawBufferPointer) throws -> R
  ) throws -> R {
    try read(at: offset, count: count).withUnsafeBytes(body)
  }

  public var isRemote: Bool { true }

  public func release(at offset: Int64, count: Int) {
    lock.lock()
    defer { lock.unlock() }
    let end = offset + Int64(count)
    segments.removeAll { $0.start >= offset && $0.start + Int64($0.bytes.count) <= end }
  }

  public func prefetch(at offset: Int64, count: Int) {
    let start = max(0, offset)
    let n = Int(min(Int64(count), size - start))
    guard n > 0, n <= Self.cacheLimit else { return }
    _ = try? read(at: start, count: n)
  }

  // MARK: cache

  private func cachedLocked(_ offset: Int64, _ count: Int) -> [UInt8]? {
    for s in segments
    where s.start <= offset && offset + Int64(count) <= s.start + Int64(s.bytes.count) {
      let from = Int(offset - s.start)
      return Array(s.bytes[from..<from + count])
    }
    return nil
  }

  /// The ranges of `wanted` not in the cache, gaps under `coalesceGap` between them joined.
  private func missingLocked(_ wanted: Range<Int64>) -> [Range<Int64>] {
    var gaps: [Range<Int64>] = []
    var position = wanted.lowerBound
    for s in segments {
      let sEnd = s.start + Int64(s.bytes.count)
      if sEnd <= position { continue }
      if s.start >= wanted.upperBound { break }
      if s.start > position { gaps.append(position..<s.start) }
      position = max(position, sEnd)
    }
    if position < wanted.upperBound { gaps.append(position..<wanted.upperBound) }
    var joined: [Range<Int64>] = []
    for g in gaps {
      if let last = joined.last, g.lowerBound - last.upperBound <= Self.coalesceGap {
        joined[joined.count - 1] = last.lowerBound..<g.upperBound
      } else {
        joined.append(g)
      }
    }
    return joined
  }

  /// Adds fetched bytes, merging with overlapping and adjacent segments.
  private func insertLocked(_ start: Int64, _ bytes: [UInt8]) {
    var newStart = start
    var merged = bytes
    var kept: [(start: Int64, bytes: [UInt8])] = []
    for s in segments {
      let sEnd = s.start + Int64(s.bytes.count)
      let mEnd = newStart + Int64(merged.count)
      if sEnd < newStart || s.start > mEnd {
        kept.append(s)
        continue
      }
      if s.start < newStart {
        merged = Array(s.bytes[0..<Int(newStart - s.start)]) + merged
        newStart = s.start
      }
      let end = newStart + Int64(merged.count)
      if sEnd > end { merged += s.bytes[Int(end - s.start)...] }
    }
    kept.append((newStart, merged))
    segments = kept.sorted { $0.start < $1.start }
  }

  // MARK: requests

  /// Fetches exactly `range`, checked against the first answer.
  private func fetchLocked(_ range: Range<Int64>) throws(ByteSourceError) -> [UInt8] {
    let response = try send(range, first: false)
    let count = range.upperBound - range.lowerBound
    switch response.status {
    case 206:
      guard let (start, end, total) = Self.contentRange(response.header("content-range")),
        start == range.lowerBound, end == range.upperBound - 1, total == size
      else {
        throw remember(
          "the server answered bytes \(response.header("content-range") ?? "(no Content-Range)") to a request for bytes \(range.lowerBound)-\(range.upperBound - 1) of \(size)"
        )
      }
      try check(response, start: range.lowerBound, count: count)
      return response.body
    case 200:
      throw remember(
        "the server stopped honouring range requests (it answered 200 to a request for bytes \(range.lowerBound)-\(range.upperBound - 1))"
      )
    case 416:
      throw remember(
        "the server refused bytes \(range.lowerBound)-\(range.upperBound - 1) of \(size) (416 Range Not Satisfiable)"
      )
    default:
      throw remember(statusMessage(response.status), missing: response.status == 404)
    }
  }

  private func send(_ range: Range<Int64>, first: Bool) throws(ByteSourceError) -> HTTPResponse {
    var request = HTTPRequest(url: resolvedURL ?? target.url, range: range)
    // After a redirect to another host (the Hub's CDN), later ranges go straight there,
    // without the credentials.
    if resolvedURL == nil || HTTPClient.origin(resolvedURL ?? "") == HTTPClient.origin(target.url) {
      request.authHeaders = target.authHeaders
      request.sigV4 = target.sigV4
    }
    request.maxBody = Int(range.upperBound - range.lowerBound)
    // The whole file in answer to the first range: accepted only under --download's size,
    // or when it is no longer than what was asked.
    request.maxFullBody = first ? Int(max(Int64(request.maxBody), settings.maxDownload)) : 0
    do {
      let response = try client.send(request)
      if first, response.status == 206 || response.status == 200 { resolvedURL = response.url }
      return response
    } catch {
      throw remember(error.message)
    }
  }

  /// Checks the body's length and that the file is the one the first answer came from.
  private func check(_ response: HTTPResponse, start: Int64, count: Int64) throws(ByteSourceError) {
    guard Int64(response.body.count) == count else {
      throw remember(
        "the server sent \(response.body.count) of \(count) bytes at offset \(start) (truncated body)"
      )
    }
    let e = response.header("etag")
    let m = response.header("last-modified")
    if segments.isEmpty && etag == nil && lastModified == nil { return }
    if let etag, e != etag {
      throw remember(
        "the file changed on the server while it was read (ETag \(etag), then \(e ?? "none"))")
    }
    if etag == nil, let lastModified, m != lastModified {
      throw remember(
        "the file changed on the server while it was read (Last-Modified \(lastModified), then \(m ?? "none"))"
      )
    }
  }

  private func statusMessage(_ status: Int) -> String {
    switch status {
    case 401, 403:
      let word = status == 401 ? "Unauthorized" : "Forbidden"
      return "access denied (\(status) \(word))"
        + (target.authHint.isEmpty ? "" : ": " + target.authHint)
    case 404: return "not found on the server (404)"
    case 429:
      return "the server is rate-limiting requests (429 Too Many Requests), retries exhausted"
    case 500...599: return "the server failed (\(status)), retries exhausted"
    default: return "the server answered \(status)"
    }
  }

  /// Records the first failure and returns it as an error.
  private func remember(_ message: String, missing: Bool = false) -> ByteSourceError {
    let error = ByteSourceError(message, isMissing: missing)
    if failure == nil { failure = error }
    return error
  }

  /// `bytes START-END/TOTAL`.
  static func contentRange(_ value: String?) -> (Int64, Int64, Int64)? {
    guard let value, value.lowercased().hasPrefix("bytes ") else { return nil }
    let rest = value.dropFirst(6)
    let parts = rest.split(separator: "/")
    guard parts.count == 2, let total = Int64(parts[1]) else { return nil }
    let ends = parts[0].split(separator: "-")
    guard ends.count == 2, let a = Int64(ends[0]), let b = Int64(ends[1]), a <= b, b < total
    else { return nil }
    return (a, b, total)
  }

  /// The total of `bytes */TOTAL` (a 416 answer).
  static func unsatisfiedTotal(_ value: String?) -> Int64? {
    guard let value, value.hasPrefix("bytes */") else { return nil }
    return Int64(value.dropFirst(8))
  }
}

/// What reading a remote checkpoint cost.
public struct SourceCost: Sendable, Equatable, Codable {
  /// The URL fetched (the first file's, for a sharded checkpoint).
  public var url: String
  public var bytesFetched: Int64
  public var requests: Int
  /// The first file's ETag (or nil when the server sent none).
  public var etag: String?
  public var seconds: Double
}
