// Layers.swift: groups a model's tensors by module prefix and infers each layer's type from
// tensor names and shapes, or takes it from the file when the file names module classes.

/// One module of the model with the tensors it owns directly.
public struct Layer: Sendable, Codable, Equatable {
  /// Module path relative to the model (`features.3`); `(root)` for tensors at the top.
  public var name: String
  /// `Conv2d`, `Linear`, `BatchNorm2d`, ... or `LayerNorm/GroupNorm` when the shapes cannot tell.
  public var type: String
  /// How PyTorch would print it, with what the file tells (`Conv2d(3, 32, kernel_size=(3, 3))`).
  public var description: String
  public var parameters: Int64
  public var buffers: Int64
  public var bytes: Int64
  public var weights: Int64
  public var biases: Int64
  public var runningStats: Int64
  /// The tensors' names within the layer (`weight`, `bias`, ...).
  public var tensors: [String]
  /// How the parameter count follows from the shapes (`((3*3*3)+1)*32 = 896`).
  public var formula: String
  /// What was inferred rather than read (`type from shapes`, `2d from the preceding Conv2d`).
  public var inferred: [String]
  /// Tensors of this layer tied to tensors elsewhere (`weight -> emb.weight`).
  public var shared: [String]
}

/// Infers layers from a checkpoint's model tensors.
public enum LayerInference {
  public static func layers(of c: Checkpoint) -> [Layer] {
    var order: [String] = []
    var groups: [String: [(leaf: String, tensor: TensorRecord)]] = [:]
    for t in c.tensors where t.section == .model {
      let name = c.layerName(t)
      let prefix: String
      let leaf: String
      if let dot = name.lastIndex(of: ".") {
        prefix = String(name[..<dot])
        leaf = String(name[name.index(after: dot)...])
      } else {
        prefix = ""
        leaf = name
      }
      if groups[prefix] == nil { order.append(prefix) }
      groups[prefix, default: []].append((leaf, t))
    }
    // MultiheadAttention keeps out_proj as a child module: fold it into its parent.
    for prefix in order where prefix.hasSuffix(".out_proj") || prefix == "out_proj" {
      let parent = prefix == "out_proj" ? "" : String(prefix.dropLast(".out_proj".count))
      guard let p = groups[parent],
        p.contains(where: { $0.leaf == "in_proj_weight" || $0.leaf == "q_proj_weight" }),
        let child = groups[prefix]
      else { continue }
      groups[parent] = p + child.map { ("out_proj." + $0.leaf, $0.tensor) }
      groups[prefix] = nil
    }
    order = order.filter { groups[$0] != nil }
    var layers: [Layer] = []
    for prefix in order {
      guard let members = groups[prefix] else { continue }
      let moduleClass =
        members.first?.tensor.moduleClass
        ?? c.modules[
          c.modelPrefix.isEmpty ? prefix : String(c.modelPrefix.dropLast()) + "." + prefix]?
        .className
      let info = c.modules[moduleKey(c, prefix)]
      layers.append(layer(prefix: prefix, members: members, moduleClass: moduleClass, info: info))
    }
    refineFromNeighbours(&layers)
    return layers
  }

  static func moduleKey(_ c: Checkpoint, _ prefix: String) -> String {
    let base = c.modelPrefix.hasSuffix(".") ? String(c.modelPrefix.dropLast()) : c.modelPrefix
    let stripped =
      c.strippedPrefix.hasSuffix(".") ? String(c.strippedPrefix.dropLast()) : c.strippedPrefix
    return [base, stripped, prefix].filter { !$0.isEmpty }.joined(separator: ".")
  }

  static func layer(
    prefix: String, members: [(leaf: String, tensor: TensorRecord)], moduleClass: String?,
    info: ModuleInfo?
  ) -> Layer {
    var byLeaf: [String: TensorRecord] = [:]
    for m in members where byLeaf[m.leaf] == nil { byLeaf[m.leaf] = m.tensor }
    var l = Layer(
      name: prefix.isEmpty ? "(root)" : prefix, type: "", description: "", parameters: 0,
      buffers: 0,
      bytes: 0, weights: 0, biases: 0, runningStats: 0, tensors: members.map(\.leaf), formula: "",
      inferred: [], shared: [])
    for m in members {
      if let s = m.tensor.sharedWith {
        l.shared.append("\(m.leaf) -> \(s)")
        continue
      }
      let n = m.tensor.numel
      l.bytes &+= m.tensor.bytes
      if m.tensor.kind == .parameter {
        l.parameters &+= n
        if m.tensor.role == .weight { l.weights &+= n }
        if m.tensor.role == .bias { l.biases &+= n }
      } else {
        l.buffers &+= n
        if m.tensor.role == .runningMean || m.tensor.role == .runningVar { l.runningStats &+= n }
      }
    }
    let shapes = byLeaf.mapValues(\.shape)
    let leafName = lastComponent(prefix).lowercased()
    var probe = l
    infer(&probe, shapes: shapes, name: leafName)
    if let cls = moduleClass {
      l.type = shortClassName(cls)
      l.description = describe(type: l.type, shapes: shapes, info: info) ?? probe.description
      // The shape formula holds when the class agrees with what the shapes suggest.
      if probe.type.hasPrefix(String(l.type.prefix(4))) { l.formula = probe.formula }
    } else {
      l = probe
    }
    if l.formula.isEmpty { l.formula = genericFormula(shapes: shapes, order: l.tensors) }
    return l
  }

  /// `torch.nn.modules.conv.Conv2d` and `__torch__....___torch_mangle_9.Conv2d` are `Conv2d`.
  static func shortClassName(_ cls: String) -> String {
    lastComponent(cls)
  }

  static func dims(_ s: [Int64]) -> String {
    "[" + s.map(String.init).joined(separator: ", ") + "]"
  }

  static func tuple(_ values: ArraySlice<Int64>) -> String {
    values.count == 1
      ? "(\(values.first ?? 0),)" : "(" + values.map(String.init).joined(separator: ", ") + ")"
  }

  // MARK: inference from shapes

  static let embeddingHints = [
    "emb", "embed", "embedding", "embeddings", "wte", "wpe", "tok_embeddings", "word_embeddings",
    "position_embeddings", "token_type_embeddings", "shared", "lookup", "embed_tokens",
    "embed_positions",
  ]

  static func infer(_ l: inout Layer, shapes: [String: [Int64]], name: String) {
    let w = shapes["weight"]
    let b = shapes["bias"]
    if shapes["weight_ih_l0"] != nil {
      recurrent(&l, shapes: shapes)
      return
    }
    if let inProj = shapes["in_proj_weight"] ?? shapes["q_proj_weight"] {
      l.type = "MultiheadAttention"
      let e = inProj.last ?? 0
      l.description = "MultiheadAttention(embed_dim=\(e))"
      l.formula = "4*\(e)*\(e) + 4*\(e) (in_proj 3E*E + 3E, out_proj E*E + E) = \(l.parameters)"
      l.inferred.append("num_heads is not stored in the file")
      return
    }
    if shapes["running_mean"] != nil || shapes["running_var"] != nil {
      let c = (shapes["running_mean"] ?? shapes["running_var"] ?? []).first ?? 0
      l.type = "BatchNorm"
      l.description = "BatchNorm(\(c)" + (w == nil ? ", affine=False" : "") + ")"
      l.formula = w == nil ? "no learnable parameters" : "2*C = 2*\(c) = \(2 * c)"
      return
    }
    guard let w else {
      l.type = "Module"
      l.description = l.tensors.map { "\($0) \(dims(shapes[$0] ?? []))" }.joined(separator: ", ")
      return
    }
    switch w.count {
    case 3, 4, 5:
      let nd = w.count - 2
      let kernel = tuple(w[2...])
      let k = w[2...].map(String.init).joined(separator: "*")
      if ["deconv", "upconv", "convtranspose", "transposed", "conv_transpose", "upsample"].contains(
        where: name.contains)
      {
        l.type = "ConvTranspose\(nd)d"
        l.description =
          "ConvTranspose\(nd)d(\(w[0]), \(w[1]), kernel_size=\(kernel)"
          + (b == nil ? ", bias=False" : "") + ")"
        l.inferred.append("transposed because of the name '\(name)' (shapes alone cannot tell)")
        l.formula = "(\(k)*\(w[0]))*\(w[1])" + (b != nil ? " + \(w[1])" : "") + " = \(l.parameters)"
      } else {
        l.type = "Conv\(nd)d"
        l.description =
          "Conv\(nd)d(\(w[1]), \(w[0]), kernel_size=\(kernel)" + (b == nil ? ", bias=False" : "")
          + ")"
        l.formula =
          (b != nil ? "((\(k)*\(w[1]))+1)*\(w[0])" : "(\(k)*\(w[1]))*\(w[0])")
          + " = \(l.parameters)"
        if w[1] == 1 && w[0] > 1 {
          l.inferred.append(
            "in_channels/groups = 1: a depthwise conv (groups = in_channels) or a 1-channel input; the shape cannot tell"
          )
        }
      }
    case 2:
      let isEmbedding =
        b == nil
        && embeddingHints.contains { name == $0 || name.hasSuffix("_" + $0) || name.hasPrefix($0) }
      if isEmbedding {
        l.type = "Embedding"
        l.description = "Embedding(\(w[0]), \(w[1]))"
        l.formula = "\(w[0])*\(w[1]) = \(l.parameters)"
        l.inferred.append("Embedding rather than Linear(bias=False) because of the name '\(name)'")
      } else {
        l.type = "Linear"
        l.description =
          "Linear(in_features=\(w[1]), out_features=\(w[0]), bias=\(b != nil ? "True" : "False"))"
        l.formula =
          (b != nil ? "(\(w[1])*\(w[0]))+\(w[0])" : "\(w[1])*\(w[0])") + " = \(l.parameters)"
      }
    case 1:
      let c = w[0]
      if b != nil {
        if name.contains("gn") || name.contains("group") {
          l.type = "GroupNorm"
          l.description = "GroupNorm(?, \(c))"
          l.inferred.append("num_groups is not stored in the file")
        } else if name.hasPrefix("in") && !name.hasPrefix("input") || name.contains("instance") {
          l.type = "InstanceNorm"
          l.description = "InstanceNorm(\(c), affine=True)"
        } else if name.contains("ln") || name.contains("layernorm") || name.contains("layer_norm")
          || name.contains("norm")
        {
          l.type = "LayerNorm"
          l.description = "LayerNorm((\(c),))"
        } else {
          l.type = "LayerNorm/GroupNorm"
          l.description = "LayerNorm((\(c),)) or GroupNorm(?, \(c))"
          l.inferred.append("a 1-D weight and bias fit LayerNorm, GroupNorm and InstanceNorm alike")
        }
        l.formula = "2*C = 2*\(c) = \(2 * c)"
      } else if name.contains("prelu") || name.contains("act") {
        l.type = "PReLU"
        l.description = "PReLU(num_parameters=\(c))"
        l.formula = "C = \(c)"
      } else if name.contains("rms") {
        l.type = "RMSNorm"
        l.description = "RMSNorm((\(c),))"
        l.formula = "C = \(c)"
      } else {
        l.type = "RMSNorm/LayerNorm/PReLU"
        l.description = "RMSNorm((\(c),)), LayerNorm((\(c),), bias=False) or PReLU(\(c))"
        l.formula = "C = \(c)"
        l.inferred.append("a 1-D weight without bias fits RMSNorm, LayerNorm(bias=False) and PReLU")
      }
    default:
      l.type = "Module"
      l.description = l.tensors.map { "\($0) \(dims(shapes[$0] ?? []))" }.joined(separator: ", ")
    }
  }

  static func recurrent(_ l: inout Layer, shapes: [String: [Int64]]) {
    let ih = shapes["weight_ih_l0"] ?? []
    let hh = shapes["weight_hh_l0"] ?? []
    let hidden = hh.count == 2 ? hh[1] : 0
    let gates = hidden > 0 && ih.count == 2 ? ih[0] / hidden : 0
    l.type = gates == 4 ? "LSTM" : gates == 3 ? "GRU" : "RNN"
    let layers = (0..<1000).prefix { shapes["weight_ih_l\($0)"] != nil }.count
    let bidirectional = shapes["weight_ih_l0_reverse"] != nil
    var args = ["\(ih.count == 2 ? ih[1] : 0)", "\(hidden)"]
    if layers > 1 { args.append("num_layers=\(layers)") }
    if shapes["bias_ih_l0"] == nil { args.append("bias=False") }
    if bidirectional { args.append("bidirectional=True") }
    if let hr = shapes["weight_hr_l0"], hr.count == 2 { args.append("proj_size=\(hr[0])") }
    l.description = "\(l.type)(" + args.joined(separator: ", ") + ")"
    l.formula =
      "per layer and direction: \(gates)*H*(input+H) + \(shapes["bias_ih_l0"] != nil ? "2*\(gates)*H" : "0") with H=\(hidden); total \(l.parameters)"
  }

  /// BatchNorm's dimensionality and conv groups follow from the neighbouring layers.
  static func refineFromNeighbours(_ layers: inout [Layer]) {
    for i in layers.indices where layers[i].type == "BatchNorm" {
      let leaf = layers[i].name.split(separator: ".").last.map { $0.lowercased() } ?? ""
      if let d = ["1d", "2d", "3d"].first(where: { leaf.contains($0) }) {
        layers[i].type = "BatchNorm" + d
        layers[i].description = layers[i].description.replacingOccurrences(
          of: "BatchNorm(", with: "BatchNorm\(d)(")
        layers[i].inferred.append("\(d) from the name '\(leaf)'")
        continue
      }
      let before = layers[..<i].last { $0.type.hasPrefix("Conv") || $0.type == "Linear" }
      let after = layers[(i + 1)...].first { $0.type.hasPrefix("Conv") || $0.type == "Linear" }
      guard let neighbour = before ?? after else {
        layers[i].inferred.append("1d, 2d or 3d cannot be told: no Conv or Linear next to it")
        continue
      }
      let d: String
      if neighbour.type == "Linear" {
        d = "1d"
      } else if let digit = neighbour.type.first(where: \.isNumber) {
        d = "\(digit)d"
      } else {
        continue
      }
      layers[i].type = "BatchNorm" + d
      layers[i].description = layers[i].description.replacingOccurrences(
        of: "BatchNorm(", with: "BatchNorm\(d)(")
      layers[i].inferred.append(
        "\(d) from the \(before != nil ? "preceding" : "following") \(neighbour.type) '\(neighbour.name)'"
      )
    }
  }

  // MARK: from module classes (whole models, TorchScript)

  static func describe(type: String, shapes: [String: [Int64]], info: ModuleInfo?) -> String? {
    let attrs = Dictionary(
      info?.attributes.map { ($0.name, $0.value) } ?? [], uniquingKeysWith: { a, _ in a })
    let w = shapes["weight"] ?? []
    let hasBias = shapes["bias"] != nil
    if type.hasPrefix("Conv"), let inC = attrs["in_channels"], let outC = attrs["out_channels"],
      let k = attrs["kernel_size"]
    {
      var s = "\(type)(\(inC), \(outC), kernel_size=\(k)"
      if let st = attrs["stride"] { s += ", stride=\(st)" }
      if let p = attrs["padding"], p.contains(where: { $0.isNumber && $0 != "0" }) {
        s += ", padding=\(p)"
      }
      if let d = attrs["dilation"], d.contains(where: { $0.isNumber && $0 != "1" }) {
        s += ", dilation=\(d)"
      }
      if let g = attrs["groups"], g != "1" { s += ", groups=\(g)" }
      if !hasBias { s += ", bias=False" }
      return s + ")"
    }
    if type.hasPrefix("Conv"), w.count >= 3 {
      return "\(type)(\(w[1]), \(w[0]), kernel_size=\(tuple(w[2...]))"
        + (hasBias ? "" : ", bias=False") + ")"
    }
    if type == "Linear" || type.hasSuffix("Linear"), w.count == 2 {
      return
        "\(type)(in_features=\(w[1]), out_features=\(w[0]), bias=\(hasBias ? "True" : "False"))"
    }
    if type.hasPrefix("BatchNorm") || type.hasPrefix("InstanceNorm") {
      let c = attrs["num_features"] ?? (shapes["running_mean"] ?? w).first.map(String.init) ?? "?"
      var s = "\(type)(\(c)"
      if let eps = attrs["eps"] { s += ", eps=\(eps)" }
      if let m = attrs["momentum"] { s += ", momentum=\(m)" }
      if let a = attrs["affine"] { s += ", affine=\(a)" }
      if let t = attrs["track_running_stats"] { s += ", track_running_stats=\(t)" }
      return s + ")"
    }
    if type == "Embedding", w.count == 2 { return "Embedding(\(w[0]), \(w[1]))" }
    if type == "LayerNorm", let shape = attrs["normalized_shape"] { return "LayerNorm(\(shape))" }
    if type == "GroupNorm", let g = attrs["num_groups"], let c = attrs["num_channels"] {
      return "GroupNorm(\(g), \(c))"
    }
    var l = Layer(
      name: "", type: "", description: "", parameters: 0, buffers: 0, bytes: 0, weights: 0,
      biases: 0,
      runningStats: 0, tensors: [], formula: "", inferred: [], shared: [])
    if type == "LSTM" || type == "GRU" || type == "RNN" {
      recurrent(&l, shapes: shapes)
      return l.description.replacingOccurrences(of: l.type + "(", with: type + "(")
    }
    return nil
  }

  static func genericFormula(shapes: [String: [Int64]], order: [String]) -> String {
    order.compactMap { leaf in
      shapes[leaf].map {
        "\(leaf) " + ($0.isEmpty ? "1" : $0.map(String.init).joined(separator: "*"))
      }
    }
    .joined(separator: " + ")
  }
}

// Written by hand for speed: the same JSON as the Codable conformance (ReportJSONTests checks it).
extension Layer: JSONRawWritable {
  func writeJSON(to out: inout JSONWriter) throws {
    var w = JSONObjectWriter(&out)
    w.int("biases", biases, &out)
    w.int("buffers", buffers, &out)
    w.int("bytes", bytes, &out)
    w.string("description", description, &out)
    w.string("formula", formula, &out)
    w.strings("inferred", inferred, &out)
    w.string("name", name, &out)
    w.int("parameters", parameters, &out)
    w.int("runningStats", runningStats, &out)
    w.strings("shared", shared, &out)
    w.strings("tensors", tensors, &out)
    w.string("type", type, &out)
    w.int("weights", weights, &out)
    w.end(&out)
  }
}
