public import FoundationEssentials

extension ServiceEnvironment {
    /// The per-sender secrets of `LLM_DEPLOY_SECRETS_FILE` (a JSON object of e-mail → secret),
    /// empty when the variable is unset. Both programs read it here: the Handler to authenticate
    /// senders, the Finisher to keep every secret out of what it publishes.
    /// - Throws: `ConfigurationError` when the file cannot be read, is not such an object, or
    ///   gives a sender an empty secret (which would accept an empty `secret` field).
    public func senderSecrets() throws(ConfigurationError) -> [String: String] {
        let variable = "LLM_DEPLOY_SECRETS_FILE"
        guard let path = self[variable] else { return [:] }
        let text = try Self.readFile(path, variable: variable)
        guard let object = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8)) else {
            throw ConfigurationError(variable: variable, reason: "must name a JSON object of e-mail → secret strings")
        }
        if let empty = object.first(where: { $0.value.isEmpty }) {
            throw ConfigurationError(variable: variable, reason: "gives \(empty.key) an empty secret; remove the entry or set one")
        }
        return object
    }
}
