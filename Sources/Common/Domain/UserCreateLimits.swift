/// How many out-paintings one user may start: in progress at once, per minute, per day (0 turns a
/// limit off). One user's burst must not take the account's queue and create slots from the others:
/// at most `inProgress` of a user's creates wait for DashScope at any moment.
public struct UserCreateLimits: Sendable, Equatable {
    public var inProgress: Int
    public var perMinute: Int
    public var perDay: Int

    public init(inProgress: Int = 2, perMinute: Int = 10, perDay: Int = 200) {
        self.inProgress = inProgress
        self.perMinute = perMinute
        self.perDay = perDay
    }

    /// A refusal: its metric label and the message the user reads (the host's envelope, 50001).
    public struct Refusal: Sendable, Equatable {
        public let reason: String
        public let message: String
    }

    /// The first limit that one more create would pass, if any.
    public func refusal(for counts: UserCreateCounts) -> Refusal? {
        if inProgress > 0 && counts.inProgress >= inProgress {
            return Refusal(reason: "in_progress", message: "您已有 \(counts.inProgress) 个扩图任务正在提交，请等它们完成后再试")
        }
        if perMinute > 0 && counts.lastMinute >= perMinute {
            return Refusal(reason: "per_minute", message: "每分钟最多创建 \(perMinute) 个扩图任务，请稍后再试")
        }
        if perDay > 0 && counts.lastDay >= perDay {
            return Refusal(reason: "per_day", message: "今日扩图次数已达上限（\(perDay) 次），请明天再试")
        }
        return nil
    }

    /// The in-progress refusal when this process already has that many of the user's creates in
    /// flight (checked before a create slot is taken).
    public var inProgressRefusal: Refusal {
        Refusal(reason: "in_progress", message: "您已有 \(inProgress) 个扩图任务正在提交，请等它们完成后再试")
    }
}

/// A user's submissions now: in progress or unsettled, and made within the last minute and day.
public struct UserCreateCounts: Sendable, Equatable {
    public let inProgress: Int
    public let lastMinute: Int
    public let lastDay: Int

    public init(inProgress: Int, lastMinute: Int, lastDay: Int) {
        self.inProgress = inProgress
        self.lastMinute = lastMinute
        self.lastDay = lastDay
    }
}
