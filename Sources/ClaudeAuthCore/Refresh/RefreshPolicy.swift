#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// When to refresh and how long to back off (DESIGN §6): pure functions of time and a jitter in `0..<1`.
public struct RefreshPolicy: Sendable, Equatable {
    /// The least validity a served token keeps; a shorter lifetime lowers it to ``validityShare`` of itself.
    public var minimumValidity: TimeInterval
    /// Where in the lifetime a proactive refresh falls, before jitter spreads it over ``refreshSpread``.
    public var refreshFraction: Double = 0.70
    /// The share of the lifetime the jitter spreads proactive refreshes over.
    public var refreshSpread: Double = 0.10
    /// The share of a short lifetime that still counts as enough validity.
    public var validityShare: Double = 0.15
    /// The least time between a token's issue and its proactive refresh, whatever the server says.
    public var minimumInterval: TimeInterval = 0.5
    /// The first retry delay after a transient failure.
    public var backoffBase: TimeInterval = 1
    /// The longest retry delay computed by backoff.
    public var backoffCap: TimeInterval = 60
    /// The longest `Retry-After` honoured.
    public var retryAfterCap: TimeInterval = 3600
    /// Taken off every lifetime (at most a quarter of it): `expires_in` counts whole seconds from the server's
    /// clock, so a token may die up to a second before `received + expires_in`.
    public var expiryAllowance: TimeInterval = 1

    /// The least time a request for still-valid tokens waits for the refresh in flight before it is served them.
    public var inFlightWaitFloor: TimeInterval = 5

    /// Creates a policy; `minimumValidity` is the profile's `min_validity`.
    public init(minimumValidity: TimeInterval = 60) {
        self.minimumValidity = minimumValidity
    }

    /// The validity a token of `lifetime` must keep to be served without a refresh first.
    public func requiredValidity(lifetime: TimeInterval) -> TimeInterval {
        min(minimumValidity, max(0, lifetime) * validityShare)
    }

    /// The instant until which a token that expires at `expiresAt` is counted as valid.
    public func usableUntil(issuedAt: Date, expiresAt: Date) -> Date {
        let lifetime = max(0, expiresAt.timeIntervalSince(issuedAt))
        return expiresAt.addingTimeInterval(-min(expiryAllowance, lifetime / 4))
    }

    /// When to refresh tokens issued at `issuedAt` that expire at `expiresAt`: 70–80 % into the usable lifetime.
    public func refreshTime(issuedAt: Date, expiresAt: Date, jitter: Double) -> Date {
        let lifetime = max(0, usableUntil(issuedAt: issuedAt, expiresAt: expiresAt).timeIntervalSince(issuedAt))
        let fraction = refreshFraction + refreshSpread * clamp(jitter)
        return issuedAt.addingTimeInterval(max(minimumInterval, lifetime * fraction))
    }

    /// How long a request for still-valid tokens waits for a refresh, counted from the refresh's start: three times
    /// what the last one took, plus a second, and at least ``inFlightWaitFloor``.
    public func inFlightWait(lastLatency: TimeInterval?) -> TimeInterval {
        max(inFlightWaitFloor, 3 * max(0, lastLatency ?? 0) + 1)
    }

    /// The delay before retry number `failures` (1 for the first failure): exponential, capped, with
    /// "equal jitter" (half fixed, half random), and never shorter than the server's `Retry-After`.
    public func backoff(failures: Int, retryAfter: Int?, jitter: Double) -> TimeInterval {
        let exponent = min(max(failures, 1) - 1, 30)
        let ceiling = min(backoffCap, backoffBase * Double(1 << exponent))
        let delay = ceiling * (0.5 + 0.5 * clamp(jitter))
        guard let retryAfter else { return delay }
        return max(delay, min(TimeInterval(retryAfter), retryAfterCap))
    }

    private func clamp(_ jitter: Double) -> Double {
        min(max(jitter, 0), 1)
    }
}
