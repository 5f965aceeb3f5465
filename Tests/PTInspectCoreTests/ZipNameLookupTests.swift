// ZipNameLookupTests.swift: entries found by the bytes of their names (given whole or in parts,
// `\` read as `/`, the first of equal names), and storages numbered by id without a dictionary.

import PTInspectTestSupport
import Testing

@testable import PTInspectCore

@Suite struct ZipNameLookupTests {
  static let zip = TrickZip(entries: [
    .init(name: "archive/data.pkl", data: emptyDictPickle),
    .init(name: "archive/data/0", data: [1]),
    .init(name: "archive\\data\\1", data: [2]),
    .init(name: "archive/data/0", data: [3, 3]),
    .init(name: "archive/constants/0", data: [4]),
    .init(name: "other/data.pkl", data: emptyDictPickle),
  ])

  @Test func namesFoundWholeOrInParts() throws {
    let directory = try parse(Self.zip.bytes())
    #expect(directory.entry(named: "archive/data/0")?.index == 1)
    #expect(directory.entry(named: "archive/", "data", "/", "0")?.index == 1)
    #expect(directory.entry(named: "archive/", "", "data/0")?.index == 1)
    #expect(directory.entry(named: "archive/", "constants", "/", "0")?.index == 4)
    // Stored with `\`, looked up with `/`; a lookup with `\` finds nothing.
    #expect(directory.entry(named: "archive/data/1")?.index == 2)
    #expect(directory.entry(named: "archive/", "data", "/", "1")?.index == 2)
    #expect(directory.entry(named: "archive\\data\\1") == nil)
    // Prefixes, extensions and other parts of a name are not it.
    #expect(directory.entry(named: "archive/data/") == nil)
    #expect(directory.entry(named: "archive/data/00") == nil)
    #expect(directory.entry(named: "archive/", "data", "/") == nil)
    #expect(directory.entry(named: "") == nil)
    #expect(
      directory.entries(endingWith: "data.pkl").map(\.name) == [
        "archive/data.pkl", "other/data.pkl",
      ])
    #expect(directory.entries(endingWith: "1").map(\.index) == [2])
  }

  @Test func manyNamesFoundAfterTheTableGrows() throws {
    let names = (0..<3000).map { "archive/data/\($0)" }
    var directory = ZipDirectory()
    for (i, name) in names.enumerated() {
      let entry = ZipEntry(
        index: i, name: name, flags: 0, method: 0, crc: 0, compressedSize: 0, size: 0,
        localHeaderOffset: 0, local: nil)
      directory.append(entry)
    }
    for (i, name) in names.enumerated() {
      #expect(directory.entry(named: "archive/", "data", "/", String(i))?.name == name)
    }
    #expect(directory.entry(named: "archive/data/3000") == nil)
  }

  @Test func storagesNumberedInTheOrderAdded() {
    var numbers = StorageNumbers()
    // Each key twice, in `data` and in `constants`.
    let ids = (0..<1000).map {
      StorageID(folder: $0 % 2 == 0 ? "data" : "constants", key: "\($0 / 2)")
    }
    for (i, id) in ids.enumerated() {
      let added = numbers.add(id)
      #expect(added.number == i && added.isNew)
    }
    for (i, id) in ids.enumerated() {
      let again = numbers.add(id)
      #expect(again.number == i && !again.isNew)
      #expect(numbers.number(of: id) == i)
    }
    #expect(numbers.number(of: StorageID(file: 1, folder: "data", key: "0")) == nil)
    #expect(numbers.number(of: StorageID(folder: "data", key: "500")) == nil)
    #expect(numbers.ids == ids)
  }
}
