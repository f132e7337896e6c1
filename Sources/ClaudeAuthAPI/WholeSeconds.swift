extension Int {
    /// `seconds` rounded by `rule` and clamped to ±10^15 (NaN gives 0): a conversion that cannot trap, for
    /// durations computed from times that a server, a file or the clock supplied.
    public init(clampingSeconds seconds: Double, _ rule: FloatingPointRoundingRule = .toNearestOrAwayFromZero) {
        let bound = 1e15
        self = seconds.isNaN ? 0 : Int(Swift.min(Swift.max(seconds.rounded(rule), -bound), bound))
    }
}
