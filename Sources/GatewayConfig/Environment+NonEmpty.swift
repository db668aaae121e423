extension [String: String] {
    /// An environment variable's value, where set-but-empty counts as unset, as the AWS SDKs and CLI read them.
    public func nonEmpty(_ name: String) -> String? {
        self[name].flatMap { $0.isEmpty ? nil : $0 }
    }
}
