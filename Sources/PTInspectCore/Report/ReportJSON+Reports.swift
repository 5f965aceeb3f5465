// ReportJSON+Reports.swift: the reports that hold rows by the thousand write themselves: their
// members in sorted key order, the rows straight into the writer's buffer (handed to the sink as
// it fills), the small members through the generic encoder. What they write equals their Codable
// conformance (ReportJSONTests checks it); a new field goes in both.

extension SummaryReport: JSONRawWritable {
  func writeJSON(to out: inout JSONWriter) throws {
    var w = JSONObjectWriter(&out)
    try w.value("anatomy", anatomy, &out)
    w.string("archiveRoot", archiveRoot, &out)
    try w.value("byteOrder", byteOrder, &out)
    try w.value("diagnostics", diagnostics, &out)
    w.string("file", file, &out)
    w.int("fileBytes", fileBytes, &out)
    w.string("format", format, &out)
    try w.rows("layers", layers, &out)
    try w.value("memory", memory, &out)
    try w.value("metadata", metadata, &out)
    w.string("modelPrefix", modelPrefix, &out)
    w.int("pickleProtocol", Int64(pickleProtocol), &out)
    w.int("schemaVersion", Int64(schemaVersion), &out)
    try w.value("source", source, &out)
    w.string("strippedPrefix", strippedPrefix, &out)
    try w.rows("tensors", tensors, &out)
    try w.value("totals", totals, &out)
    w.end(&out)
  }
}

extension TensorsReport: JSONRawWritable {
  func writeJSON(to out: inout JSONWriter) throws {
    var w = JSONObjectWriter(&out)
    w.string("file", file, &out)
    w.string("filter", filter, &out)
    w.string("format", format, &out)
    w.int("schemaVersion", Int64(schemaVersion), &out)
    try w.value("source", source, &out)
    try w.rows("tensors", tensors, &out)
    w.end(&out)
  }
}
