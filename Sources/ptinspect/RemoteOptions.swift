// RemoteOptions.swift: the options every command takes for remote checkpoints (URLs, s3://,
// hf://): network timeouts and retries, --offline and --download.

import ArgumentParser
import PTInspectCore

struct RemoteOptions: ParsableArguments {
  @Flag(help: "Refuse the network: remote paths fail (also HF_HUB_OFFLINE=1).")
  var offline = false

  @Option(
    name: .customLong("timeout"),
    help: "Seconds a remote transfer may stall before it is cut (default 30).")
  var timeout: Double?

  @Option(
    name: .customLong("connect-timeout"), help: "Seconds to connect to a server (default 10).")
  var connectTimeout: Double?

  @Option(help: "Retries after a 5xx, a 429 or a dropped connection, with backoff (default 3).")
  var retries: Int?

  @Option(
    help: ArgumentHelp(
      "When a server ignores Range requests, download the whole file if it is at most SIZE (e.g. 500MB).",
      valueName: "SIZE"))
  var download: String?

  /// Sets the process's remote settings (ArgumentParser validates option groups while parsing).
  func validate() throws {
    var settings = RemoteSettings.current
    if offline { settings.offline = true }
    if let timeout {
      guard timeout > 0 else { throw ValidationError("'--timeout' must be more than 0 seconds") }
      settings.timeout = timeout
    }
    if let connectTimeout {
      guard connectTimeout > 0 else {
        throw ValidationError("'--connect-timeout' must be more than 0 seconds")
      }
      settings.connectTimeout = connectTimeout
    }
    if let retries {
      guard retries >= 0 else { throw ValidationError("'--retries' must be 0 or more") }
      settings.retries = retries
    }
    if let download {
      do {
        settings.maxDownload = try Quantity.bytes(download)
      } catch {
        throw ValidationError("--download: \(error)")
      }
    }
    RemoteSettings.current = settings
  }
}
