// RemotePathTests.swift: the rules for remote paths and answers, on hand-made input: hf:// and
// s3:// parsing, the URL each becomes, which file of a repository is its checkpoint, the
// Content-Range and Retry-After grammars, host comparison for redirects, and the AWS files.

import Foundation
import Testing

@testable import PTInspectCore

@Suite struct RemotePathTests {
  func settings(_ environment: [String: String]) -> RemoteSettings {
    var s = RemoteSettings()
    s.environment = environment
    return s
  }

  @Test func hubPaths() throws {
    let plain = try RemotePath.hubPath("hf://org/model")
    #expect(
      plain
        == .init(
          kind: "models", repo: "org/model", revision: "main", file: "", revisionGiven: false))
    let full = try RemotePath.hubPath("hf://datasets/org/data@v2/sub/x.safetensors")
    #expect(full.kind == "datasets" && full.repo == "org/data" && full.revision == "v2")
    #expect(full.file == "sub/x.safetensors")
    #expect(try RemotePath.hubPath("hf://org/m@refs%2Fpr%2F3/a.bin").revision == "refs/pr/3")
    #expect(throws: CheckpointError.self) { try RemotePath.hubPath("hf://single") }
    #expect(throws: CheckpointError.self) { try RemotePath.hubPath("hf://org/m@/a.bin") }
  }

  @Test func targets() throws {
    let hub = settings(["HF_ENDPOINT": "http://hub.local/", "HF_TOKEN": "t0k"])
    let t = try RemotePath.target("hf://spaces/o/s@refs%2Fpr%2F1/w 1.pt", settings: hub)
    #expect(t.url == "http://hub.local/spaces/o/s/resolve/refs%2Fpr%2F1/w%201.pt")
    #expect(t.authHeaders == ["Authorization: Bearer t0k"])
    // A URL on the Hub gets the token; another host does not.
    #expect(try RemotePath.target("http://hub.local/x.pt", settings: hub).authHeaders.count == 1)
    #expect(try RemotePath.target("http://other/x.pt", settings: hub).authHeaders.isEmpty)
    let aws = settings([
      "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "ST",
      "AWS_REGION": "eu-west-1",
    ])
    let s3 = try RemotePath.target("s3://bucket/dir/m.pt", settings: aws)
    #expect(s3.url == "https://bucket.s3.eu-west-1.amazonaws.com/dir/m.pt")
    #expect(s3.sigV4?.provider == "aws:amz:eu-west-1:s3" && s3.sigV4?.key == "AK")
    #expect(s3.authHeaders == ["x-amz-security-token: ST"])
    var compatible = aws
    compatible.environment["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9000/"
    #expect(
      try RemotePath.target("s3://bucket/a+b.pt", settings: compatible).url
        == "http://127.0.0.1:9000/bucket/a%2Bb.pt")
    #expect(throws: CheckpointError.self) { try RemotePath.target("s3://bucket", settings: aws) }
    #expect(throws: CheckpointError.self) { try RemotePath.target("s3:///key", settings: aws) }
  }

  @Test func repositoryCheckpointChoice() throws {
    let base = "hf://o/r"
    #expect(
      try RemotePath.choose(
        ["config.json", "model.safetensors", "pytorch_model.bin"], base: base, path: base)
        == "hf://o/r/model.safetensors")
    #expect(
      try RemotePath.choose(
        ["model-00001-of-00002.safetensors", "model.safetensors.index.json"], base: base, path: base
      )
        == "hf://o/r/model.safetensors.index.json")
    #expect(
      try RemotePath.choose(["README.md", "weights.ckpt"], base: base, path: base)
        == "hf://o/r/weights.ckpt")
    do {
      _ = try RemotePath.choose(["README.md"], base: base, path: base)
      Issue.record("no checkpoint should throw")
    } catch {
      #expect(
        error.message == "the repository holds no checkpoint file (1 files, none a checkpoint)")
    }
  }

  @Test func contentRange() {
    #expect(HTTPSource.contentRange("bytes 0-511/1000") ?? (0, 0, 0) == (0, 511, 1000))
    #expect(HTTPSource.contentRange("bytes 0-1000/1000") == nil)  // past the end
    #expect(HTTPSource.contentRange("bytes 5-4/1000") == nil)
    #expect(HTTPSource.contentRange("bytes 0-511/*") == nil)
    #expect(HTTPSource.contentRange(nil) == nil)
    #expect(HTTPSource.unsatisfiedTotal("bytes */0") == 0)
    #expect(HTTPSource.unsatisfiedTotal("bytes 0-1/2") == nil)
  }

  @Test func retryAfterAndOrigins() {
    #expect(HTTPClient.retryAfter("3") == 3)
    #expect(HTTPClient.retryAfter(" 0 ") == 0)
    #expect(HTTPClient.retryAfter("soon") == nil)
    #expect(HTTPClient.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0)
    #expect(
      HTTPClient.origin("https://Hub.local/a") == HTTPClient.origin("https://hub.local:443/b"))
    #expect(HTTPClient.origin("http://a:80/x") != HTTPClient.origin("http://a:81/x"))
    #expect(HTTPClient.origin("http://a/x") != HTTPClient.origin("https://a/x"))
    #expect(HTTPClient.resolve("/next", against: "http://h:1/a/b") == "http://h:1/next")
    #expect(HTTPClient.resolve("ftp://x/y", against: "http://h/a") == nil)
  }

  @Test func awsFilesAndTokens() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "ptinspect-remote-unit-\(getpid())")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    try """
    [default]
    aws_access_key_id = DEF
    aws_secret_access_key = DS
    # a comment
    [work]
    aws_access_key_id=WK
    aws_secret_access_key=WS
    aws_session_token = WT
    """.write(to: dir.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
    try "[profile work]\nregion = ap-south-1\n".write(
      to: dir.appendingPathComponent("config"), atomically: true, encoding: .utf8)
    let env = [
      "AWS_SHARED_CREDENTIALS_FILE": dir.appendingPathComponent("credentials").path,
      "AWS_CONFIG_FILE": dir.appendingPathComponent("config").path, "HOME": dir.path,
    ]
    let def = settings(env)
    #expect(def.awsCredentials?.key == "DEF" && def.awsRegion == "us-east-1")
    var work = env
    work["AWS_PROFILE"] = "work"
    let w = settings(work)
    #expect(w.awsCredentials?.key == "WK" && w.awsCredentials?.sessionToken == "WT")
    #expect(w.awsRegion == "ap-south-1")
    // The Hub token: HF_TOKEN first, else $HF_HOME/token.
    try " file-token \n".write(
      to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
    #expect(settings(["HF_HOME": dir.path]).hfToken == "file-token")
    #expect(settings(["HF_HOME": dir.path, "HF_TOKEN": "env"]).hfToken == "env")
    #expect(settings(["HF_HOME": dir.path + "/none"]).hfToken == nil)
    var offline = settings(["HF_HUB_OFFLINE": "1"])
    offline.applyEnvironment()
    #expect(offline.offline)
  }
}
