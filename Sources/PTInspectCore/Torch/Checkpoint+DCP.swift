// Checkpoint+DCP.swift: the parts of a torch.distributed.checkpoint folder, found from its
// flattened names as for a training checkpoint: `model.`, `optim.`/`optimizer.` (by index, or
// by FQN after get_state_dict), schedulers, and values (`step`, learning rates); and the
// programs of a `.pt2` archive holding several.

extension Checkpoint {
  /// The checkpoint with its tensors' sections, its parts and the model's prefix set.
  func withDcpSections() -> Checkpoint {
    var c = self
    func role(_ key: String) -> PartRole {
      switch key {
      case "model", "module", "app": .model
      case "ema", "model_ema": .ema
      case "optim", "optimizer", "optimizers", "optimizer_state": .optimizer
      case "lr_scheduler", "scheduler", "lr_schedulers": .scheduler
      default: .tensors
      }
    }
    func top(_ name: String) -> String {
      String(name.split(separator: ".", maxSplits: 1).first ?? Substring(name))
    }
    let keys = c.tensors.map { top($0.name) } + c.metadata.map { top($0.name) }
    let hasModel = keys.contains { role($0) == .model }
    var order: [String] = []
    for k in keys where !order.contains(k) && k != "__dcp__" { order.append(k) }
    for i in c.tensors.indices {
      let r = role(top(c.tensors[i].name))
      c.tensors[i].section =
        r == .optimizer || r == .scheduler ? .optimizer : r == .model || !hasModel ? .model : .other
    }
    if let model = order.first(where: { role($0) == .model }) { c.modelPrefix = model + "." }
    c.stripCommonPrefix()
    c.parts = order.map { key in
      let ts = c.tensors.filter { top($0.name) == key }
      let values = c.metadata.filter { top($0.name) == key }
      var r = role(key)
      if ts.isEmpty { r = .value } else if r == .tensors && !hasModel { r = .model }
      return CheckpointPart(
        name: key, role: r, tensors: ts.count, elements: ts.reduce(0) { $0 &+ $1.numel },
        bytes: ts.reduce(0) { $0 &+ $1.bytes },
        value: ts.isEmpty
          ? "\(values.count) value\(values.count == 1 ? "" : "s") in .distcp files" : nil)
    }
    return c
  }
}

extension Checkpoint {
  /// One part per program of a `.pt2` archive holding several (tensors named
  /// `<program>.<fqn>`); nil for one program.
  func pt2Parts() -> [CheckpointPart]? {
    let programs = metadata.compactMap {
      $0.name.hasPrefix("program.") ? String($0.name.dropFirst("program.".count)) : nil
    }
    guard programs.count > 1 else { return nil }
    return programs.map { program in
      let ts = tensors.filter { $0.name.hasPrefix(program + ".") && $0.sharedWith == nil }
      return CheckpointPart(
        name: program, role: .model, tensors: ts.count, elements: ts.reduce(0) { $0 &+ $1.numel },
        bytes: ts.reduce(0) { $0 &+ $1.bytes }, value: nil)
    }
  }
}
