// swift-tools-version:6.0
import PackageDescription

let package = Package(
  name: "ptinspect",
  products: [
    .executable(name: "ptinspect", targets: ["ptinspect"]),
    .library(name: "PTInspectCore", targets: ["PTInspectCore"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // The C boundary: libzip through pkg-config. Only Sources/PTInspectCore/Zip imports it.
    .systemLibrary(
      name: "CZip",
      pkgConfig: "libzip",
      providers: [.apt(["libzip-dev"]), .brew(["libzip"])]),
    // The second C boundary: libcurl, for remote checkpoints. Only its headers are used at
    // build time (libcurl4-openssl-dev): it is loaded with dlopen on the first remote request
    // rather than linked, because its two dozen libraries would cost every start (shim.h).
    // Only Sources/PTInspectCore/Remote/Curl.swift imports it.
    .systemLibrary(name: "CCurl"),
    // Pure Swift, no dependencies: the non-executing pickle decoder.
    .target(name: "Pickle"),
    .target(name: "PTInspectCore", dependencies: ["CZip", "CCurl", "Pickle"]),
    .executableTarget(
      name: "ptinspect",
      dependencies: [
        "PTInspectCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      plugins: ["BuildInfo"]),
    // Writes the git commit into the executable for `ptinspect --version` (scripts/build-info).
    .plugin(name: "BuildInfo", capability: .buildTool()),
    .target(name: "PTInspectTestSupport", path: "Tests/TestSupport"),
    .testTarget(name: "PickleTests", dependencies: ["Pickle", "PTInspectTestSupport"]),
    .testTarget(
      name: "PTInspectCoreTests", dependencies: ["PTInspectCore", "Pickle", "PTInspectTestSupport"]),
    // The README's library example, compiled and run so it cannot rot.
    .testTarget(
      name: "LibraryExampleTests", dependencies: ["PTInspectCore", "PTInspectTestSupport"]),
    .testTarget(
      name: "ptinspectTests",
      dependencies: [
        "ptinspect", "PTInspectCore", "PTInspectTestSupport",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
  ]
)
