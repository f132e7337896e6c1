/// Facts of Anthropic's API that both the daemon and the client serve by.
public enum Anthropic {
    /// The `anthropic-version` sent with every API-key request.
    public static let apiVersion = "2023-06-01"
    /// Header names.
    public enum Header {
        /// Carries an API key.
        public static let apiKey = "x-api-key"
        /// The API version.
        public static let version = "anthropic-version"
        /// Carries a bearer token.
        public static let authorization = "Authorization"
    }
    /// Environment variables that carry credentials for the client (the seed's resolution order).
    public enum Environment {
        /// An API key: served as `x-api-key`.
        public static let apiKey = "ANTHROPIC_API_KEY"
        /// A gateway bearer token: served as `Authorization: Bearer`.
        public static let authToken = "ANTHROPIC_AUTH_TOKEN"
    }
}
