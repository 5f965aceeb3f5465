// Curl.swift: the libcurl boundary, the only file that imports CCurl. One HTTP exchange at a
// time per client (a reused easy handle keeps the connection alive); redirects are followed here,
// by hand, so that credentials never go to another host; retries with backoff on 5xx, 429
// (honouring Retry-After) and dropped connections.

import CCurl

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

/// One HTTP request.
struct HTTPRequest: Sendable {
  var url: String
  var head = false
  /// Bytes `range.lowerBound..<range.upperBound` (a `Range: bytes=a-b` header).
  var range: Range<Int64>?
  /// Extra headers sent to the first host only (`Authorization: Bearer ...`).
  var authHeaders: [String] = []
  /// AWS Signature Version 4 (`aws:amz:REGION:s3`), with the access key and secret.
  var sigV4: (provider: String, key: String, secret: String)?
  /// Most body bytes accepted; a longer body is cut off and `HTTPResponse.cutOff` set.
  var maxBody: Int = 1 << 30
  /// When a range was asked and the server answers 200 (the whole file), accept at most this
  /// many body bytes (0: stop at once).
  var maxFullBody: Int = 0
}

/// One HTTP answer (after redirects).
struct HTTPResponse: Sendable {
  var status: Int
  /// Header names lower-cased; the last value of each.
  var headers: [String: String]
  var body: [UInt8]
  /// The URL that answered (after redirects).
  var url: String
  /// The body was longer than the request allowed and the transfer was stopped.
  var cutOff = false

  func header(_ name: String) -> String? { headers[name] }
}

/// A transfer that failed below HTTP: DNS, connection, TLS, a timeout, a dropped connection.
struct HTTPTransportError: Error, Sendable {
  var message: String
  /// Worth trying again (a reset, a timeout, a partial body).
  var retryable: Bool
}

/// Counts what a source's requests cost.
final class TransferMeter: @unchecked Sendable {
  private let lock = Lock()
  private var _bytes: Int64 = 0
  private var _requests = 0
  func add(bytes: Int, requests: Int = 1) {
    lock.lock()
    _bytes += Int64(bytes)
    _requests += requests
    lock.unlock()
  }
  var bytes: Int64 { lock.withLock { _bytes } }
  var requests: Int { lock.withLock { _requests } }
}

/// An HTTP client over one libcurl easy handle.
final class HTTPClient: @unchecked Sendable {
  private let lock = Lock()
  private var handle: UnsafeMutableRawPointer?
  let settings: RemoteSettings
  let meter: TransferMeter
  /// Why libcurl cannot be used (not installed), or nil; it is loaded on the first request.
  private static let loadFailure: String? = ptinspect_curl_load().map { String(cString: $0) }

  init(settings: RemoteSettings, meter: TransferMeter) {
    self.settings = settings
    self.meter = meter
  }

  deinit {
    if let handle { ptinspect_curl_easy_cleanup(handle) }
  }

  /// Sends `request`, following up to 10 redirects (credentials only to the first host) and
  /// retrying what is worth retrying.
  func send(_ request: HTTPRequest) throws(HTTPTransportError) -> HTTPResponse {
    guard !settings.offline else {
      throw HTTPTransportError(
        message: "offline (--offline or HF_HUB_OFFLINE=1): the network is not used",
        retryable: false)
    }
    var current = request
    let firstHost = Self.origin(request.url)
    for _ in 0...10 {
      let response = try sendRetrying(current)
      guard [301, 302, 303, 307, 308].contains(response.status),
        let location = response.header("location")
      else { return response }
      guard let next = Self.resolve(location, against: current.url) else {
        throw HTTPTransportError(
          message: "a redirect to an unusable location '\(location)'", retryable: false)
      }
      // Another host (scheme, name or port) gets no credentials: a CDN's signed URL needs none.
      if Self.origin(next) != firstHost {
        current.authHeaders = []
        current.sigV4 = nil
      }
      current.url = next
    }
    throw HTTPTransportError(message: "more than 10 redirects", retryable: false)
  }

  private func sendRetrying(_ request: HTTPRequest) throws(HTTPTransportError) -> HTTPResponse {
    var attempt = 0
    while true {
      let wait: Double
      do {
        let response = try perform(request)
        let retryable = response.status == 429 || (500...599).contains(response.status)
        guard retryable, attempt < settings.retries else { return response }
        wait = Self.retryAfter(response.header("retry-after")) ?? settings.backoff(attempt)
      } catch {
        guard error.retryable, attempt < settings.retries else { throw error }
        wait = settings.backoff(attempt)
      }
      attempt += 1
      sleep(seconds: min(wait, settings.maxRetryWait))
    }
  }

  /// `Retry-After` in seconds (a number; an HTTP date counts from now).
  static func retryAfter(_ value: String?) -> Double? {
    guard let value = value?.trimming(.whitespaces) else { return nil }
    if let seconds = Double(value) { return max(0, seconds) }
    guard let time = HTTPDate.parse(value) else { return nil }
    return max(0, Date(timeIntervalSince1970: time).timeIntervalSinceNow)
  }

  /// `scheme://host:port` of a URL, lower-cased, for comparing hosts.
  static func origin(_ url: String) -> String {
    guard let c = URLComponents(string: url) else { return url }
    let scheme = c.scheme?.lowercased() ?? ""
    let port = c.port ?? (scheme == "https" ? 443 : 80)
    return "\(scheme)://\(c.host?.lowercased() ?? ""):\(port)"
  }

  /// A `Location` header made absolute.
  static func resolve(_ location: String, against base: String) -> String? {
    guard let baseURL = URL(string: base), let url = URL(string: location, relativeTo: baseURL)
    else { return nil }
    let absolute = url.absoluteString
    return absolute.hasPrefix("http://") || absolute.hasPrefix("https://") ? absolute : nil
  }

  // MARK: libcurl

  /// What the callbacks collect during one transfer.
  private final class Transfer {
    var status = 0
    var headers: [String: String] = [:]
    var body: [UInt8] = []
    var cutOff = false
    var limit: Int
    let rangeAsked: Bool
    let maxFullBody: Int
    init(limit: Int, rangeAsked: Bool, maxFullBody: Int) {
      self.limit = limit
      self.rangeAsked = rangeAsked
      self.maxFullBody = maxFullBody
    }
  }

  private func perform(_ request: HTTPRequest) throws(HTTPTransportError) -> HTTPResponse {
    lock.lock()
    defer { lock.unlock() }
    if let failure = Self.loadFailure {
      throw HTTPTransportError(message: failure, retryable: false)
    }
    if handle == nil { handle = ptinspect_curl_easy_init() }
    guard let c = handle else {
      throw HTTPTransportError(message: "cannot start libcurl", retryable: false)
    }
    ptinspect_curl_easy_reset(c)
    let transfer = Transfer(
      limit: request.maxBody, rangeAsked: request.range != nil, maxFullBody: request.maxFullBody)
    let box = Unmanaged.passRetained(transfer)
    defer { box.release() }
    var strings: [UnsafeMutablePointer<CChar>] = []
    defer { strings.forEach { free($0) } }
    func setString(_ option: CURLoption, _ value: String) {
      guard let s = strdup(value) else { return }
      strings.append(s)
      _ = ptinspect_curl_set_string(c, option, s)
    }
    setString(CURLOPT_URL, request.url)
    setString(CURLOPT_USERAGENT, "ptinspect/0.1.0 libcurl")
    _ = ptinspect_curl_set_long(c, CURLOPT_NOSIGNAL, 1)
    _ = ptinspect_curl_set_long(c, CURLOPT_FOLLOWLOCATION, 0)
    _ = ptinspect_curl_set_long(c, CURLOPT_CONNECTTIMEOUT_MS, Int(settings.connectTimeout * 1000))
    // A transfer that moves less than 1 byte a second for `timeout` seconds is cut: a slow or
    // silent server fails in bounded time, a large but steady transfer is never cut.
    _ = ptinspect_curl_set_long(c, CURLOPT_LOW_SPEED_LIMIT, 1)
    _ = ptinspect_curl_set_long(c, CURLOPT_LOW_SPEED_TIME, max(1, Int(settings.timeout.rounded())))
    setString(CURLOPT_ACCEPT_ENCODING, "identity")
    if request.head { _ = ptinspect_curl_set_long(c, CURLOPT_NOBODY, 1) }
    if let r = request.range { setString(CURLOPT_RANGE, "\(r.lowerBound)-\(r.upperBound - 1)") }
    var list: UnsafeMutablePointer<curl_slist>?
    for h in request.authHeaders { list = ptinspect_curl_slist_append(list, h) }
    defer { ptinspect_curl_slist_free_all(list) }
    if let list {
      _ = ptinspect_curl_set_pointer(c, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
    }
    if let v4 = request.sigV4 {
      setString(CURLOPT_AWS_SIGV4, v4.provider)
      setString(CURLOPT_USERNAME, v4.key)
      setString(CURLOPT_PASSWORD, v4.secret)
    }
    let context = box.toOpaque()
    _ = ptinspect_curl_set_pointer(c, CURLOPT_HEADERDATA, context)
    _ = ptinspect_curl_set_write(c, CURLOPT_HEADERFUNCTION) { data, size, count, context in
      let n = size * count
      guard let data, let context else { return n }
      let t = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
      let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
        .trimming(.whitespacesAndNewlines)
      if line.hasPrefix("HTTP/") {
        let parts = line.split(separator: " ")
        t.status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        t.headers = [:]
      } else if let colon = line.firstIndex(of: ":") {
        let key = line[..<colon].lowercased()
        t.headers[key] = line[line.index(after: colon)...].trimming(.whitespaces)
      }
      return n
    }
    _ = ptinspect_curl_set_pointer(c, CURLOPT_WRITEDATA, context)
    _ = ptinspect_curl_set_write(c, CURLOPT_WRITEFUNCTION) { data, size, count, context in
      let n = size * count
      guard let data, let context else { return n }
      let t = Unmanaged<Transfer>.fromOpaque(context).takeUnretainedValue()
      // A range asked and the whole file coming: stop at once (or past the allowed size).
      let limit = t.rangeAsked && t.status == 200 ? t.maxFullBody : t.limit
      guard t.body.count + n <= limit else {
        t.cutOff = true
        return 0
      }
      t.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
      return n
    }
    let code = ptinspect_curl_easy_perform(c)
    meter.add(bytes: transfer.body.count)
    if code != CURLE_OK && !(code == CURLE_WRITE_ERROR && transfer.cutOff) {
      throw Self.transportError(code, handle: c)
    }
    var status = 0
    _ = ptinspect_curl_get_long(c, CURLINFO_RESPONSE_CODE, &status)
    return HTTPResponse(
      status: status == 0 ? transfer.status : status, headers: transfer.headers,
      body: transfer.body, url: request.url, cutOff: transfer.cutOff)
  }

  private static func transportError(_ code: CURLcode, handle: UnsafeMutableRawPointer)
    -> HTTPTransportError
  {
    let text = String(cString: ptinspect_curl_easy_strerror(code)).lowercased()
    switch code {
    case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
      return HTTPTransportError(message: "cannot resolve the host name (\(text))", retryable: false)
    case CURLE_COULDNT_CONNECT:
      return HTTPTransportError(message: "cannot connect (\(text))", retryable: true)
    case CURLE_OPERATION_TIMEDOUT:
      return HTTPTransportError(message: "timed out (\(text))", retryable: true)
    case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM,
      CURLE_SSL_CIPHER, CURLE_SSL_CACERT_BADFILE:
      return HTTPTransportError(message: "TLS failed (\(text))", retryable: false)
    case CURLE_PARTIAL_FILE:
      return HTTPTransportError(
        message:
          "the answer was cut short: the server sent fewer bytes than it announced (truncated body)",
        retryable: true)
    case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING:
      return HTTPTransportError(message: "the connection was dropped (\(text))", retryable: true)
    default:
      return HTTPTransportError(message: "\(text) (curl error \(code.rawValue))", retryable: false)
    }
  }
}
