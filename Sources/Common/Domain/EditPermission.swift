/// A logged-in user of the host, as its login endpoint reports them.
public struct LoginUser: Sendable, Equatable {
    public let id: Int64
    public let userRole: String
    public let userName: String?

    public init(id: Int64, userRole: String, userName: String? = nil) {
        self.id = id
        self.userRole = userRole
        self.userName = userName
    }

    public var isAdmin: Bool { userRole == "admin" }
}

/// What the host tables say about a picture, read before deciding.
public struct PictureFacts: Sendable, Equatable {
    public struct Space: Sendable, Equatable {
        /// 0 private, 1 team.
        public let spaceType: Int
        public let ownerID: Int64
        public init(spaceType: Int, ownerID: Int64) {
            self.spaceType = spaceType
            self.ownerID = ownerID
        }
    }

    public let pictureID: Int64
    public let uploaderID: Int64
    public let url: String
    /// nil: public gallery.
    public let spaceID: Int64?
    /// nil when `spaceID` is set but the space is missing or deleted.
    public let space: Space?
    /// The user's `space_user.spaceRole` in that space, if a member.
    public let memberRole: String?

    public init(pictureID: Int64, uploaderID: Int64, url: String, spaceID: Int64?, space: Space?, memberRole: String?) {
        self.pictureID = pictureID
        self.uploaderID = uploaderID
        self.url = url
        self.spaceID = spaceID
        self.space = space
        self.memberRole = memberRole
    }
}

/// The host's rule for "may edit this picture" (HOST-CONTRACT.md), which gates out-painting.
public enum EditPermission {
    public enum Decision: Sendable, Equatable {
        case allowed
        case pictureNotFound
        case spaceNotFound
        case refused
    }

    /// - Parameter picture: nil when the picture does not exist or is deleted.
    public static func decide(user: LoginUser, picture: PictureFacts?) -> Decision {
        guard let picture else { return .pictureNotFound }
        guard picture.spaceID != nil else {
            return picture.uploaderID == user.id || user.isAdmin ? .allowed : .refused
        }
        guard let space = picture.space else { return .spaceNotFound }
        switch space.spaceType {
        case 0:
            // Private space: the owner alone; a site admin is not enough.
            return space.ownerID == user.id ? .allowed : .refused
        case 1:
            return picture.memberRole == "editor" || picture.memberRole == "admin" ? .allowed : .refused
        default:
            return .refused
        }
    }

    public static func businessError(for decision: Decision) -> BusinessError? {
        switch decision {
        case .allowed: nil
        case .pictureNotFound: BusinessError(.notFound, "图片不存在")
        case .spaceNotFound: BusinessError(.notFound, "空间不存在")
        case .refused: BusinessError(.noAuth)
        }
    }
}
