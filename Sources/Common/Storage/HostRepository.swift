/// Reads the host's own tables (`picture`, `space`, `space_user`); never writes them.
public enum HostRepository {
    /// What the permission rule needs about `pictureID` and `userID`, in one prepared query; nil
    /// when the picture does not exist or is deleted.
    public static func pictureFacts(_ connection: MySQLConnection, pictureID: Int64, userID: Int64) throws -> PictureFacts? {
        let rows = try connection.query("""
            SELECT p.id, p.url, p.userId, p.spaceId, s.id AS liveSpaceId, s.spaceType, s.userId AS spaceOwnerId,
                   su.spaceRole
            FROM picture p
            LEFT JOIN space s ON s.id = p.spaceId AND s.isDelete = 0
            LEFT JOIN space_user su ON su.spaceId = p.spaceId AND su.userId = ?
            WHERE p.id = ? AND p.isDelete = 0
            """, [.int(userID), .int(pictureID)])
        guard let row = rows.first else { return nil }
        let space: PictureFacts.Space? = row.int64("liveSpaceId").map { _ in
            PictureFacts.Space(spaceType: row.int("spaceType") ?? -1, ownerID: row.int64("spaceOwnerId") ?? 0)
        }
        return PictureFacts(pictureID: pictureID, uploaderID: row.int64("userId") ?? 0, url: row["url"] ?? "",
                            spaceID: row.int64("spaceId"), space: space, memberRole: row["spaceRole"])
    }

    /// A live user's id, role and name (the DevServer's login stand-in reads this).
    public static func liveUser(_ connection: MySQLConnection, id: Int64) throws -> (account: String, name: String?, role: String)? {
        let rows = try connection.query("SELECT userAccount, userName, userRole FROM user WHERE id = ? AND isDelete = 0",
                                        [.int(id)])
        guard let row = rows.first else { return nil }
        return (row["userAccount"] ?? "", row["userName"], row["userRole"] ?? "user")
    }
}
