// BuildInfo.swift: a build-tool plugin that writes the git commit ptinspect is built from into a
// generated Swift file, for `ptinspect --version`. It runs scripts/build-info (a shell script, so
// nothing is built from source first) before every build; the file is rewritten only when the
// commit changes, so an unchanged tree compiles nothing again.

import Foundation
import PackagePlugin

@main
struct BuildInfo: BuildToolPlugin {
  func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
    let output = context.pluginWorkDirectoryURL.appendingPathComponent("generated")
    let package = context.package.directoryURL
    let script = package.appendingPathComponent("scripts/build-info")
    return [
      .prebuildCommand(
        displayName: "Recording the git commit for --version",
        executable: URL(fileURLWithPath: "/bin/sh"),
        arguments: [
          script.path, package.path, output.appendingPathComponent("BuildInfo.swift").path,
        ],
        outputFilesDirectory: output)
    ]
  }
}
